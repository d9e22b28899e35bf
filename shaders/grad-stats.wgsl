// grad-stats.wgsl — the guard passes that run before the fused update when loss scaling, skipping of
// non-finite gradients or clipping by global norm is on (src/gpu/fused-optimizer.ts, "guarded" optimizers).
//
// `stats` (one dispatch per window, STATS_GROUPS workgroups of STATS_WG invocations, grid-stride over the
// window's work vec4s like adabelief.wgsl's `main`; `stats_packed` is the same walk, piece_holding/lanes_of/add,
// over gradients stored as f32 or f16 words) and `stats_tail` (one invocation per tail piece) read
// every gradient element g of the step once and write one partial per workgroup into their slot of
// `partials`: (sum of (g * inv_scale)^2 in f32, 1.0 if any g is inf or NaN else 0.0). Non-finite values are
// found from the bits (exponent all ones), not with comparisons a compiler may fold under finite-math
// assumptions. Lanes past a piece's last element are masked out.
//
// `finalize` (one workgroup) sums the partials (per-invocation strided sums, then a tree in workgroup
// memory: pairwise, so the rounding error grows with log2 of the count, not the count) and writes the
// step's decision into `control`:
//   norm      = sqrt(total)                                   the global L2 norm of the unscaled gradients
//   clip_coef = min(1, max_norm / (norm + 1e-6))  if max_norm > 0, else 1 (torch clip_grad_norm_; NaN stays NaN)
//   skip      = skip_nonfinite and any non-finite gradient
//   applied  += 1 unless skip;  row = applied - 1 - lo      (which host record row holds step `applied`)
// The update pass (adabelief.wgsl) then multiplies g by inv_scale and clip_coef, or does nothing at all
// when skip is set.

const STATS_WG: u32 = 256u;
const STATS_GROUPS: u32 = 64u;  // partial slots per window
const EXPONENT_MASK: u32 = 0x7f800000u;

@group(0) @binding(0) var<storage, read_write> control: Control;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> tail_piece: TailPiece;
@group(0) @binding(5) var<storage, read> grad_tail: array<f32>;
@group(0) @binding(6) var<storage, read> grad_words: array<u32>;

override GRAD_F16: bool = false;

var<workgroup> sums: array<f32, STATS_WG>;
var<workgroup> flags: array<u32, STATS_WG>;

fn non_finite(g: vec4<f32>, lanes: vec4<bool>) -> bool {
  let bits = bitcast<vec4<u32>>(g) & vec4<u32>(EXPONENT_MASK);
  return any((bits == vec4<u32>(EXPONENT_MASK)) & lanes);
}

// Reduces this invocation's (sum, flag) over the workgroup; invocation 0 gets the totals.
fn reduce(local: u32, sum: f32, flag: u32) -> vec2<f32> {
  sums[local] = sum;
  flags[local] = flag;
  workgroupBarrier();
  for (var half = STATS_WG / 2u; half > 0u; half = half / 2u) {
    if (local < half) {
      sums[local] = sums[local] + sums[local + half];
      flags[local] = flags[local] | flags[local + half];
    }
    workgroupBarrier();
  }
  return vec2<f32>(sums[0], f32(flags[0]));
}

// The lanes of work vec4 w (in piece p) that hold elements; those past the piece's last are masked out.
fn lanes_of(p: Piece, w: u32) -> vec4<bool> {
  return vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.count - (w - p.begin) * 4u);
}

// One invocation's running (sum of squares, any non-finite).
struct Partial {
  sum: f32,
  flag: u32,
}

// `part` plus one work vec4 of gradients g (masked by lanes; `bad`: a kept lane is inf or NaN).
fn add(part: Partial, g: vec4<f32>, lanes: vec4<bool>, inv_scale: f32, bad: bool) -> Partial {
  let v = select(vec4<f32>(0.0), g * inv_scale, lanes);
  return Partial(part.sum + dot(v, v), part.flag | u32(bad));
}

// Reduces the invocations' partials over the workgroup into its slot of `partials`.
fn write_partial(local: u32, group: u32, part: Partial) {
  let total = reduce(local, part.sum, part.flag);
  if (local == 0u) {
    partials[group] = total;
  }
}

@compute @workgroup_size(STATS_WG)
fn stats(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) group: vec3<u32>,
) {
  let inv_scale = 1.0 / control.scale;
  var part = Partial(0.0, 0u);
  var piece = NO_PIECE;
  for (var w = gid.x; w < table.total_vec4; w = w + STATS_GROUPS * STATS_WG) {
    piece = piece_holding(piece, w);
    let lanes = lanes_of(piece, w);
    let g = grad[piece.grad_base + (w - piece.begin)];
    part = add(part, g, lanes, inv_scale, non_finite(g, lanes));
  }
  write_partial(local, group.x, part);
}

// `stats` over gradients packed as words (grad_words): f32 bits, or f16 pairs when GRAD_F16.
@compute @workgroup_size(STATS_WG)
fn stats_packed(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) group: vec3<u32>,
) {
  let inv_scale = 1.0 / control.scale;
  let words = select(4u, 2u, GRAD_F16);
  var part = Partial(0.0, 0u);
  var piece = NO_PIECE;
  for (var w = gid.x; w < table.total_vec4; w = w + STATS_GROUPS * STATS_WG) {
    piece = piece_holding(piece, w);
    let lanes = lanes_of(piece, w);
    let at = piece.grad_base * 4u + (w - piece.begin) * words;
    if (GRAD_F16) {
      let a = grad_words[at];
      let b = grad_words[at + 1u];
      let h = vec4<u32>(a & 0xffffu, a >> 16u, b & 0xffffu, b >> 16u);
      let bad = any(((h & vec4<u32>(0x7c00u)) == vec4<u32>(0x7c00u)) & lanes);
      part = add(part, f16_value(h), lanes, inv_scale, bad);
    } else {
      let g = bitcast<vec4<f32>>(
        vec4<u32>(grad_words[at], grad_words[at + 1u], grad_words[at + 2u], grad_words[at + 3u]),
      );
      part = add(part, g, lanes, inv_scale, non_finite(g, lanes));
    }
  }
  write_partial(local, group.x, part);
}

@compute @workgroup_size(1)
fn stats_tail() {
  let inv_scale = 1.0 / control.scale;
  var sum = 0.0;
  var flag = 0u;
  for (var k = 0u; k < tail_piece.rest; k = k + 1u) {
    let g = grad_tail[tail_piece.first + k];
    let v = g * inv_scale;
    sum = sum + v * v;
    flag = flag | u32(non_finite(vec4<f32>(g), vec4<bool>(true, false, false, false)));
  }
  partials[0] = vec2<f32>(sum, f32(flag));
}

@compute @workgroup_size(STATS_WG)
fn finalize(@builtin(local_invocation_index) local: u32) {
  var sum = 0.0;
  var flag = 0u;
  let n = arrayLength(&partials);
  for (var i = local; i < n; i = i + STATS_WG) {
    sum = sum + partials[i].x;
    flag = flag | u32(partials[i].y != 0.0);
  }
  let total = reduce(local, sum, flag);
  if (local == 0u) {
    let norm = sqrt(total.x);
    let found = total.y != 0.0;
    let skip = control.skip_nonfinite != 0u && found;
    control.inv_scale = 1.0 / control.scale;
    // Not min(): with a NaN norm the coefficient must stay NaN (grads become NaN, as in PyTorch), and
    // WGSL's min() may return either operand for NaN.
    let coef = control.max_norm / (norm + 1e-6);
    control.clip_coef = select(1.0, select(coef, 1.0, coef > 1.0), control.max_norm > 0.0);
    control.norm = norm;
    control.found_nonfinite = u32(found);
    control.skip = u32(skip);
    if (!skip) {
      control.applied = control.applied + 1u;
      control.row = control.applied - 1u - control.lo;
    }
  }
}
