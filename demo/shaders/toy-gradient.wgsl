// Gradient of a 2D toy function (demo/lib/toy-functions.ts has the same functions in JavaScript) at
// COUNT points, one per optimizer of the trajectories page, written where each optimizer reads its
// gradient. Point i is (params[i * STRIDE], params[i * STRIDE + 1]); its gradient goes to the same two
// slots of `grads`. STRIDE is 64 floats (256 bytes) because the optimizers take their param and grad
// regions at 256-byte-aligned offsets.
//
// Dispatch: ceil(COUNT / 64) workgroups of 64 invocations, one invocation per point. The function is
// chosen by the FUNCTION override constant (one pipeline per function, built once):
//   0  |x| + |y|                                  (sign(0) = 0)
//   1  10 (sqrt(1 + x^2) - 1) + y^2 / 2            (steep slope)
//   2  (1 - x)^2 + 100 (y - x^2)^2                 (Rosenbrock)
//   3  (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2   (Beale)

override FUNCTION: u32 = 0u;
override COUNT: u32 = 1u;
const STRIDE: u32 = 64u;

@group(0) @binding(0) var<storage, read> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;

fn gradient(p: vec2<f32>) -> vec2<f32> {
  let x = p.x;
  let y = p.y;
  switch FUNCTION {
    case 0u: {
      return sign(p);
    }
    case 1u: {
      return vec2<f32>(10.0 * x / sqrt(1.0 + x * x), y);
    }
    case 2u: {
      let valley = y - x * x;
      return vec2<f32>(-2.0 * (1.0 - x) - 400.0 * x * valley, 200.0 * valley);
    }
    default: {
      let a = 1.5 - x + x * y;
      let b = 2.25 - x + x * y * y;
      let c = 2.625 - x + x * y * y * y;
      return vec2<f32>(
        2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * c * (y * y * y - 1.0),
        2.0 * a * x + 4.0 * b * x * y + 6.0 * c * x * y * y,
      );
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x >= COUNT) {
    return;
  }
  let at = id.x * STRIDE;
  let g = gradient(vec2<f32>(params[at], params[at + 1u]));
  grads[at] = g.x;
  grads[at + 1u] = g.y;
}
