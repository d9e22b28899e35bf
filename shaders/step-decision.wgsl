// step-decision.wgsl — the passes that decide a step, dispatched before the update in the same compute pass
// (src/gpu/step-recorder.ts): they find the step's scalars by the step count, advance the count when the step is
// applied, and (guarded optimizers) run the guard.
//
// `advance` (one invocation; optimizers without guard options): decide(false) below.
//
// The guard passes (optimizers with gradScale, skipNonFinite or maxGradNorm; src/gpu/guard.ts):
// `stats` (f32 gradients) and `stats_f16` (f16 gradients, 8 per 16-byte load) run one dispatch per window,
// grid-stride over the window's work vec4s (pairs of them for f16) like adabelief.wgsl's `main`, with as many
// workgroups as the host gives them (src/gpu/guard.ts statsPlan: as many as the update dispatch uses, up to a
// cap, so a large GPU's memory is kept busy); `stats_tail` runs one invocation per tail piece. Each reads every
// gradient element g of its part once, unscales it (u = g * inv_scale, the value the update applies, as torch's
// _amp_foreach_non_finite_check_and_unscale_ checks it) and writes one partial per workgroup into its slot of
// `partials`: (sum of u^2 in f32, 1.0 if any u is inf or NaN else 0.0). Non-finite values are found from the
// bits (exponent all ones), not with comparisons a compiler may fold under finite-math assumptions. Lanes past a
// piece's last element are masked out.
//
// `finalize` (one workgroup) sums the partials (per-invocation strided sums, then a tree in workgroup
// memory: pairwise, so the rounding error grows with log2 of the count, not the count) and decides:
//   norm      = sqrt(total)                                   the global L2 norm of the unscaled gradients
//   clip_coef = min(1, max_norm / (norm + 1e-6))  if max_norm > 0, else 1 (torch clip_grad_norm_; NaN stays NaN)
//   skip      = skip_nonfinite and any non-finite unscaled gradient
// then decide(skip).
//
// decide(skip): the step runs at count t - 1 and takes the ring entry of step count t (t = count + 1, a u64);
// an entry not tagged t (the host keeps entries for every count a step can run at, so this means a step ran
// far from where the host expected it) is a missing entry: the step applies nothing and `missing` counts it.
// Unless skipped or missing, count = t and `entry` points at the entry's Hyper records; the update entry points
// (adabelief.wgsl) then apply it, or do nothing at all when `skip` is set. `runs` counts every step that ran.

const STATS_WG: u32 = 256u;
const EXPONENT_MASK: u32 = 0x7f800000u;

@group(0) @binding(0) var<storage, read_write> steps: Steps;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> tail_piece: TailPiece;
// A tail's piece, as u32 words: f32 bits, or two f16 (element 2k in the low half of word k).
@group(0) @binding(5) var<storage, read> grad_tail: array<u32>;
// A window's f16 gradients, 8 per 16-byte unit.
@group(0) @binding(6) var<storage, read> grad_units: array<vec4<u32>>;

override GRAD_F16: bool = false;  // `stats_tail`: the tail's gradients are f16 (else f32)

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

// The lanes of work vec4 w (in piece p) that hold elements (those from element `first_lane` of w on, 0 or 4);
// lanes past the piece's last element, or in a vec4 wholly past it (packed pieces are padded to pairs), are not.
fn lanes_of(p: Piece, w: u32, first_lane: u32) -> vec4<bool> {
  let before = (w - p.begin) * 4u + first_lane;
  let left = select(0u, p.count - before, p.count > before);
  return vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(left);
}

// One invocation's running (sum of squares, any non-finite).
struct Partial {
  sum: f32,
  flag: u32,
}

// `part` plus one vec4 of gradients g, unscaled (masked by lanes; a kept lane of g * inv_scale that is inf or NaN
// sets the flag).
fn add(part: Partial, g: vec4<f32>, lanes: vec4<bool>, inv_scale: f32) -> Partial {
  let u = g * inv_scale;
  let v = select(vec4<f32>(0.0), u, lanes);
  return Partial(part.sum + dot(v, v), part.flag | u32(non_finite(u, lanes)));
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
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let inv_scale = 1.0 / steps.scale;
  var part = Partial(0.0, 0u);
  var piece = NO_PIECE;
  for (var w = gid.x; w < table.total_vec4; w = w + groups.x * STATS_WG) {
    piece = piece_holding(piece, w);
    let lanes = lanes_of(piece, w, 0u);
    let g = grad[piece.grad_base + (w - piece.begin)];
    part = add(part, g, lanes, inv_scale);
  }
  write_partial(local, group.x, part);
}

// `part` plus the 8 f16 gradients of unit u (`lo`, `hi`: which of its two vec4s' lanes hold elements).
fn add_f16(part: Partial, u: vec4<u32>, lo: vec4<bool>, hi: vec4<bool>, inv_scale: f32) -> Partial {
  let a = vec4<u32>(u.x & 0xffffu, u.x >> 16u, u.y & 0xffffu, u.y >> 16u);
  let b = vec4<u32>(u.z & 0xffffu, u.z >> 16u, u.w & 0xffffu, u.w >> 16u);
  return add(add(part, f16_value(a), lo, inv_scale), f16_value(b), hi, inv_scale);
}

// `stats` over f16 gradients: a pair of work vec4s (one 16-byte unit) per iteration.
@compute @workgroup_size(STATS_WG)
fn stats_f16(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let inv_scale = 1.0 / steps.scale;
  var part = Partial(0.0, 0u);
  var piece = NO_PIECE;
  for (var q = gid.x; q < table.total_vec4 / 2u; q = q + groups.x * STATS_WG) {
    let w = 2u * q;
    piece = piece_holding(piece, w);
    let u = grad_units[piece.grad_base + (w - piece.begin) / 2u];
    part = add_f16(part, u, lanes_of(piece, w, 0u), lanes_of(piece, w, 4u), inv_scale);
  }
  write_partial(local, group.x, part);
}

// One tail piece's last tail_piece.rest elements (1 to 7), from its word view; its partial in partials[0].
@compute @workgroup_size(1)
fn stats_tail() {
  let inv_scale = 1.0 / steps.scale;
  var sum = 0.0;
  var flag = 0u;
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    let i = tail_piece.first + e;
    var g: f32;
    if (GRAD_F16) {
      g = f16_value(vec4<u32>((grad_tail[i / 2u] >> (16u * (i & 1u))) & 0xffffu)).x;
    } else {
      g = bitcast<f32>(grad_tail[i]);
    }
    let u = g * inv_scale;
    sum = sum + u * u;
    flag = flag | u32(non_finite(vec4<f32>(u), vec4<bool>(true, false, false, false)));
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
    steps.inv_scale = 1.0 / steps.scale;
    // Not min(): with a NaN norm the coefficient must stay NaN (grads become NaN, as in PyTorch), and
    // WGSL's min() may return either operand for NaN.
    let coef = steps.max_norm / (norm + 1e-6);
    steps.clip_coef = select(1.0, select(coef, 1.0, coef > 1.0), steps.max_norm > 0.0);
    steps.norm = norm;
    steps.found_nonfinite = u32(found);
    decide(steps.skip_nonfinite != 0u && found);
  }
}

// Runs the step at the current count, or not (`skip`: the guard's decision); see the header.
fn decide(skip: bool) {
  steps.runs = steps.runs + 1u;
  let t_lo = steps.count_lo + 1u;
  let t_hi = steps.count_hi + select(0u, 1u, t_lo == 0u);
  let at = steps.ring_at + (t_lo & steps.ring_mask) * steps.entry_words;
  let found = steps.words[at] == t_lo && steps.words[at + 1u] == t_hi;
  steps.missing = steps.missing + u32(!skip && !found);
  steps.skip = u32(skip || !found);
  if (!skip && found) {
    steps.count_lo = t_lo;
    steps.count_hi = t_hi;
    steps.entry = at + ENTRY_HEAD_WORDS;
  }
}

// The decision of an optimizer without guard options: every step runs (inv_scale and clip_coef stay 1).
@compute @workgroup_size(1)
fn advance() {
  decide(false);
}
