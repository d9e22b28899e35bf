// adabelief.wgsl — one fused AdaBelief step over every tensor piece of one window (see src/layout.ts).
// The same pass runs the variants (src/rules.ts): Adam / AdamW (FLAG_BELIEF off: the second moment tracks
// g, eps_s = 0) and SGD with momentum (VARIANCE off, update sgd, optional FLAG_NESTEROV).
//
// Per element (f32, in this order; every choice below is made on the host from the options and the step
// count, see src/hyper.ts, and applied with select(), not branches: the math is cheap, divergence is not):
//   g  = (g * inv_scale) * clip_coef         from `control` (grad-stats.wgsl); both exactly 1 when unguarded
//   p  = p * decay_mul                      decoupled / fixed weight decay (decay_mul is exactly 1 otherwise)
//   g  = g + l2 * p                         L2 weight decay, only when FLAG_L2 is set
//   m  = m * beta1 + one_minus_beta1 * g
//   r  = g - m                              the belief residual, with the NEW m (Adam: r = g)
//   s  = s * beta2 + (one_minus_beta2 * r) * r + eps_s        eps_s: eps, or 0 (torch-optimizer + AMSGrad, Adam)
//   smax = max(smax, s) + eps_max           AMSGrad only; eps_max: 0, or eps (torch-optimizer); NaN wins
//   D  = sqrt(v) [/ sqrt_bc2] + eps         v = smax with FLAG_DENOM_FROM_MAX, else s
//   adaptive: p = p + step_size * (m / D);  sgd: p = p + step_size * u;  none: p unchanged
//             where u = m, or g + beta1 * m with FLAG_NESTEROV (torch.optim.SGD's nesterov)
// AMSGRAD and VARIANCE are pipeline constants (fixed per optimizer): without AMSGRAD smax is never read or
// written, without VARIANCE (SGD) neither is s.

// Dispatch (one per window, the tensors sharing one param buffer and one grad buffer):
//   `main`: 1D grid of WORKGROUP_SIZE-invocation workgroups over the window's `total_vec4` work vec4s,
//           grid-stride (invocation i takes vec4 i, i + stride, ...), so any size fits under the
//           65535-workgroups-per-dimension limit. A vec4 outside the invocation's current piece finds its
//           piece through the window `table`: the block map gives the piece holding the first vec4 of
//           its BLOCK_VEC4 run, and a short forward scan the exact one. A piece's last vec4 may be partial: read whole (the bytes exist),
//           written element by element, so bytes past the tensor are never written.
//   `tail`: one invocation for the last count % 4 elements of a piece whose buffer ends inside that vec4,
//           through scalar views (`param_tail`, `grad_tail`) of that piece only. A separate dispatch:
//           one dispatch may not bind overlapping writable ranges.
// `hyper` holds one record per tensor (param groups) per candidate step count: row `control.row` is this
// step's (one row unless guarded: see grad-stats.wgsl and src/guard.ts). When `control.skip` is set (a
// guarded step with a non-finite gradient) nothing is read or written. State (m, s, smax) is padded to whole
// vec4s. A slot the rule does not keep is bound to a 16-byte placeholder and never touched.

override WORKGROUP_SIZE: u32 = 256u;
override AMSGRAD: bool = false;
override VARIANCE: bool = true;

const BLOCK_VEC4: u32 = 256u;  // src/layout.ts BLOCK_VEC4
const PIECE_WORDS: u32 = 8u;   // src/layout.ts PIECE_WORDS

// Hyper.update: 0 none, 1 sgd (p += step_size * m, the default of the select below), 2 adaptive.
const UPDATE_NONE: u32 = 0u;
const UPDATE_ADAPTIVE: u32 = 2u;

const FLAG_DENOM_FROM_MAX: u32 = 1u;
const FLAG_DIVIDE_BC2: u32 = 2u;
const FLAG_L2: u32 = 4u;
const FLAG_BELIEF: u32 = 8u;
const FLAG_NESTEROV: u32 = 16u;

// One tensor's scalars for this step (src/hyper.ts packHyper).
struct Hyper {
  update: u32,           // UPDATE_*
  flags: u32,            // FLAG_*
  _pad0: u32,
  _pad1: u32,
  decay_mul: f32,
  l2: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  eps_s: f32,
  eps_max: f32,
  sqrt_bc2: f32,
  step_size: f32,
  _pad2: u32,
}

// A window's pieces (src/layout.ts encodeWindowTable). Piece j is words[j * PIECE_WORDS ..]:
// work_start, count, param_index, grad_index, state_index, tensor; the block map starts at blocks_at.
struct Table {
  piece_count: u32,
  total_vec4: u32,
  blocks_at: u32,
  _pad: u32,
  words: array<u32>,
}

// The step's guard decision (grad-stats.wgsl writes it; read-only here).
struct Control {
  scale: f32,
  max_norm: f32,
  skip_nonfinite: u32,
  lo: u32,
  tensor_count: u32,
  inv_scale: f32,
  clip_coef: f32,
  skip: u32,
  norm: f32,
  applied: u32,
  row: u32,
  found_nonfinite: u32,
}

// The piece a `tail` dispatch finishes.
struct TailPiece {
  tensor: u32,
  rest: u32,            // elements left after the whole vec4s: 1, 2 or 3
  state_index: u32,     // vec4 of the state slot holding them
  first: u32,           // index of the first of them in param_tail / grad_tail
}

@group(0) @binding(0) var<storage, read> hyper: array<Hyper>;
@group(0) @binding(1) var<storage, read> table: Table;
@group(0) @binding(2) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg_var: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> max_exp_avg_var: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> tail_piece: TailPiece;
@group(0) @binding(8) var<storage, read_write> param_tail: array<f32>;
@group(0) @binding(9) var<storage, read> grad_tail: array<f32>;
@group(0) @binding(10) var<storage, read> control: Control;

// max() that returns NaN when either operand is NaN (torch.maximum; JS Math.max). WGSL's max() may return
// the other operand, and may assume finite math, so NaN is found from the bits.
fn max_keeping_nan(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let a_nan = (bitcast<vec4<u32>>(a) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
  let b_nan = (bitcast<vec4<u32>>(b) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
  return select(select(max(a, b), b, b_nan), a, a_nan);
}

fn has(h: Hyper, flag: u32) -> bool {
  return (h.flags & flag) != 0u;
}

// Updates the state at vec4 `i` in place and returns the new parameter values.
fn adabelief(h: Hyper, i: u32, p_in: vec4<f32>, g_raw: vec4<f32>) -> vec4<f32> {
  let g_in = (g_raw * control.inv_scale) * control.clip_coef;
  let p = p_in * h.decay_mul;
  let g = select(g_in, g_in + h.l2 * p, has(h, FLAG_L2));
  let m = exp_avg[i] * h.beta1 + h.one_minus_beta1 * g;
  exp_avg[i] = m;

  var v = vec4<f32>(1.0);
  if (VARIANCE) {
    let r = select(g, g - m, has(h, FLAG_BELIEF));
    let s = exp_avg_var[i] * h.beta2 + (h.one_minus_beta2 * r) * r + h.eps_s;
    exp_avg_var[i] = s;
    v = s;
    if (AMSGRAD) {
      let smax = max_keeping_nan(max_exp_avg_var[i], s) + h.eps_max;
      max_exp_avg_var[i] = smax;
      v = select(s, smax, has(h, FLAG_DENOM_FROM_MAX));
    }
  }

  let root = sqrt(v);
  let d = select(root, root / h.sqrt_bc2, has(h, FLAG_DIVIDE_BC2)) + h.eps;
  let momentum = select(m, g + h.beta1 * m, has(h, FLAG_NESTEROV));
  let direction = select(momentum, m / d, h.update == UPDATE_ADAPTIVE);
  return select(p, p + h.step_size * direction, h.update != UPDATE_NONE);
}

fn piece_word(j: u32, field: u32) -> u32 {
  return table.words[j * PIECE_WORDS + field];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (control.skip != 0u) {
    return;
  }
  let row_base = control.row * control.tensor_count;
  let stride = groups.x * WORKGROUP_SIZE;
  // The current piece, kept across iterations of the grid-stride loop: in a large tensor consecutive
  // iterations stay in one piece, and its table words and scalars are loaded once.
  var begin = 1u;
  var end = 0u;
  var count = 0u;
  var param_base = 0u;
  var grad_base = 0u;
  var state_base = 0u;
  var h: Hyper;
  for (var w = gid.x; w < table.total_vec4; w = w + stride) {
    if (w < begin || w >= end) {
      var j = table.words[table.blocks_at + w / BLOCK_VEC4];
      while (j + 1u < table.piece_count && piece_word(j + 1u, 0u) <= w) {
        j = j + 1u;
      }
      begin = piece_word(j, 0u);
      end = select(table.total_vec4, piece_word(j + 1u, 0u), j + 1u < table.piece_count);
      count = piece_word(j, 1u);
      param_base = piece_word(j, 2u);
      grad_base = piece_word(j, 3u);
      state_base = piece_word(j, 4u);
      h = hyper[row_base + piece_word(j, 5u)];
    }
    let local = w - begin;
    let pi = param_base + local;
    let updated = adabelief(h, state_base + local, param[pi], grad[grad_base + local]);
    let rest = count - local * 4u;
    if (rest >= 4u) {
      param[pi] = updated;
    } else {
      for (var k = 0u; k < rest; k = k + 1u) {
        param[pi][k] = updated[k];
      }
    }
  }
}

@compute @workgroup_size(1)
fn tail() {
  if (control.skip != 0u) {
    return;
  }
  var p = vec4<f32>(0.0);
  var g = vec4<f32>(0.0);
  for (var k = 0u; k < tail_piece.rest; k = k + 1u) {
    p[k] = param_tail[tail_piece.first + k];
    g[k] = grad_tail[tail_piece.first + k];
  }
  let h = hyper[control.row * control.tensor_count + tail_piece.tensor];
  let updated = adabelief(h, tail_piece.state_index, p, g);
  for (var k = 0u; k < tail_piece.rest; k = k + 1u) {
    param_tail[tail_piece.first + k] = updated[k];
  }
}
