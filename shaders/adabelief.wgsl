// adabelief.wgsl — one fused AdaBelief step over every tensor piece of one window (see src/gpu/layout.ts).
// The same pass runs the variants (src/core/rules.ts): Adam / AdamW (FLAG_BELIEF off: the second moment tracks
// g, eps_s = 0) and SGD with momentum (VARIANCE off, update sgd, optional FLAG_NESTEROV).
//
// Per element (f32, in this order; every choice below is made on the host from the options and the step
// count, see src/core/step-scalars.ts, and applied with select(), not branches: the math is cheap, divergence is not):
//   g  = (g * inv_scale) * clip_coef        the step's decision (step-decision.wgsl; both 1 without guard options)
//   p  = p * decay_mul                      decoupled / fixed weight decay (decay_mul is exactly 1 otherwise)
//   g  = g + l2 * p                         L2 weight decay, only when FLAG_L2 is set
//   m  = m * beta1 + one_minus_beta1 * g
//   r  = g - m                              the belief residual, with the NEW m (Adam: r = g)
//   s  = s * beta2 + (one_minus_beta2 * r) * r + eps_s        eps_s: eps, or 0 (torch-optimizer + AMSGrad, Adam)
//   smax = max(smax, s) + eps_max           AMSGrad only; eps_max: 0, or eps (torch-optimizer)
//   D  = sqrt(v) [/ sqrt_bc2] + eps         v = smax with FLAG_DENOM_FROM_MAX, else s
//   adaptive: p = p + step_size * (m / D);  sgd: p = p + step_size * u;  none: p unchanged
//             where u = m, or g + beta1 * m with FLAG_NESTEROV (torch.optim.SGD's nesterov)
// AMSGRAD and VARIANCE are pipeline constants (fixed per optimizer): without AMSGRAD smax is never read or
// written, without VARIANCE (SGD) neither is s.
//
// Dispatch (one per window, the tensors sharing one param buffer and one grad buffer):
//   `main`: 1D grid of WORKGROUP_SIZE-invocation workgroups over the window's `total_vec4` work vec4s,
//           grid-stride (invocation i takes vec4 i, i + stride, ...), so any size fits under the
//           65535-workgroups-per-dimension limit. A vec4 outside the invocation's current piece finds its
//           piece through the window `table` (common.wgsl find_piece). A piece's last vec4 may be partial:
//           read whole (the bytes exist), written element by element, so bytes past the tensor are never written.
//   `tail`: one invocation for the last count % 4 elements of a piece whose buffer ends inside that vec4,
//           through word views (`param_tail`, `grad_tail`) of that piece only. A separate dispatch:
//           one dispatch may not bind overlapping writable ranges.
//   `main_packed`, `tail_packed`, `init_master`, `init_master_tail`: the same for the lower-precision modes
//           (f16 params, bf16 state, f32 master weights), at the end of this file.
// Every update entry point reads the step's decision from `steps` (common.wgsl; written by step-decision.wgsl,
// dispatched before it in the same pass): when `skip` is set (a step the guard skipped, or one with no scalars
// for its count) it returns at once; otherwise it takes each tensor's `Hyper` record from the step's entry (the
// record of the tensor's group) and multiplies the gradients by `inv_scale` and `clip_coef` (both exactly 1
// without guard options: x * 1.0 is x).
// All entry points share the update math, `adabelief()`. State (m, s, smax) is padded to whole vec4s. A slot
// the rule does not keep is bound to a 16-byte placeholder and never touched.

override WORKGROUP_SIZE: u32 = 256u;
override AMSGRAD: bool = false;
override VARIANCE: bool = true;
override GUARDED: bool = false;  // the optimizer has guard options: the gradients take the guard's factors

// Hyper.update: how the parameter moves (UPDATE_SGD is the default of the select in adabelief()).
const UPDATE_NONE: u32 = 0u;
const UPDATE_SGD: u32 = 1u;
const UPDATE_ADAPTIVE: u32 = 2u;

const FLAG_DENOM_FROM_MAX: u32 = 1u;
const FLAG_DIVIDE_BC2: u32 = 2u;
const FLAG_L2: u32 = 4u;
const FLAG_BELIEF: u32 = 8u;
const FLAG_NESTEROV: u32 = 16u;

// One tensor's scalars for this step (src/gpu/records.ts packHyper).
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

@group(0) @binding(0) var<storage, read> steps: Steps;
@group(0) @binding(2) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg_var: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> max_exp_avg_var: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> tail_piece: TailPiece;
// A tail's piece, as u32 words: f32 bits, or two f16 (element 2k in the low half of word k).
@group(0) @binding(8) var<storage, read_write> param_tail: array<u32>;
@group(0) @binding(9) var<storage, read> grad_tail: array<u32>;

// What a step's update takes from the guard: the gradients' factors.
struct StepInputs {
  inv_scale: f32,
  clip_coef: f32,
}

// The step's decision: its gradient factors (read by entry points that found `steps.skip` unset). Without the
// guard (GUARDED off) they are the constants 1 and 1, which the compiler folds away.
fn step_inputs() -> StepInputs {
  if (GUARDED) {
    return StepInputs(steps.inv_scale, steps.clip_coef);
  }
  return StepInputs(1.0, 1.0);
}

// The `Hyper` record of `tensor` for this step: its group's record in the step's entry (common.wgsl `Steps`).
fn hyper_of(tensor: u32) -> Hyper {
  let at = steps.entry + HYPER_WORDS * steps.words[tensor];
  let w = array<u32, 16>(
    steps.words[at], steps.words[at + 1u], steps.words[at + 2u], steps.words[at + 3u],
    steps.words[at + 4u], steps.words[at + 5u], steps.words[at + 6u], steps.words[at + 7u],
    steps.words[at + 8u], steps.words[at + 9u], steps.words[at + 10u], steps.words[at + 11u],
    steps.words[at + 12u], steps.words[at + 13u], steps.words[at + 14u], steps.words[at + 15u],
  );
  return Hyper(
    w[0], w[1], w[2], w[3],
    bitcast<f32>(w[4]), bitcast<f32>(w[5]), bitcast<f32>(w[6]), bitcast<f32>(w[7]),
    bitcast<f32>(w[8]), bitcast<f32>(w[9]), bitcast<f32>(w[10]), bitcast<f32>(w[11]),
    bitcast<f32>(w[12]), bitcast<f32>(w[13]), bitcast<f32>(w[14]), w[15],
  );
}

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

// The new parameter and state of one vec4 of elements from their current values: the whole update, pure
// (no memory access), shared by the f32 entry points and the packed ones below. Lanes of a state the
// pipeline does not keep (s without VARIANCE, smax without AMSGRAD) are passed and returned unused.
struct Updated {
  p: vec4<f32>,
  m: vec4<f32>,
  s: vec4<f32>,
  smax: vec4<f32>,
}

fn adabelief(
  h: Hyper,
  k: StepInputs,
  p_in: vec4<f32>,
  g_raw: vec4<f32>,
  m_in: vec4<f32>,
  s_in: vec4<f32>,
  smax_in: vec4<f32>,
) -> Updated {
  let g_in = (g_raw * k.inv_scale) * k.clip_coef;
  let p = p_in * h.decay_mul;
  let g = select(g_in, g_in + h.l2 * p, has(h, FLAG_L2));
  let m = m_in * h.beta1 + h.one_minus_beta1 * g;

  var v = vec4<f32>(1.0);
  var s = s_in;
  var smax = smax_in;
  if (VARIANCE) {
    let r = select(g, g - m, has(h, FLAG_BELIEF));
    s = s_in * h.beta2 + (h.one_minus_beta2 * r) * r + h.eps_s;
    v = s;
    if (AMSGRAD) {
      smax = max_keeping_nan(smax_in, s) + h.eps_max;
      v = select(s, smax, has(h, FLAG_DENOM_FROM_MAX));
    }
  }

  let root = sqrt(v);
  let d = select(root, root / h.sqrt_bc2, has(h, FLAG_DIVIDE_BC2)) + h.eps;
  let momentum = select(m, g + h.beta1 * m, has(h, FLAG_NESTEROV));
  let direction = select(momentum, m / d, h.update == UPDATE_ADAPTIVE);
  return Updated(select(p, p + h.step_size * direction, h.update != UPDATE_NONE), m, s, smax);
}

// The f32 entry points' step of vec4 `i`: loads the state kept, updates it in place, returns the new param.
fn step_f32_state(h: Hyper, k: StepInputs, i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
  var s = vec4<f32>(0.0);
  var smax = vec4<f32>(0.0);
  if (VARIANCE) {
    s = exp_avg_var[i];
    if (AMSGRAD) {
      smax = max_exp_avg_var[i];
    }
  }
  let u = adabelief(h, k, p, g, exp_avg[i], s, smax);
  exp_avg[i] = u.m;
  if (VARIANCE) {
    exp_avg_var[i] = u.s;
    if (AMSGRAD) {
      max_exp_avg_var[i] = u.smax;
    }
  }
  return u.p;
}

// `main`'s walk over the window's vec4s with the step inputs `k`.
fn update_f32(gid: u32, groups: u32, k: StepInputs) {
  let stride = groups * WORKGROUP_SIZE;
  // The current piece, kept across iterations of the grid-stride loop: in a large tensor consecutive
  // iterations stay in one piece, and its table words and scalars are loaded once.
  var piece = NO_PIECE;
  var h: Hyper;
  for (var w = gid; w < table.total_vec4; w = w + stride) {
    if (w < piece.begin || w >= piece.end) {
      piece = find_piece(w);
      h = hyper_of(piece.tensor);
    }
    let local = w - piece.begin;
    let pi = piece.param_base + local;
    let updated = step_f32_state(h, k, piece.state_base + local, param[pi], grad[piece.grad_base + local]);
    let rest = piece.count - local * 4u;
    if (rest >= 4u) {
      param[pi] = updated;
    } else {
      for (var e = 0u; e < rest; e = e + 1u) {
        param[pi][e] = updated[e];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (steps.skip != 0u) {
    return;
  }
  update_f32(gid.x, groups.x, step_inputs());
}

// `tail`'s step of the last `rest` elements of its piece.
fn update_f32_tail(k: StepInputs) {
  var p = vec4<f32>(0.0);
  var g = vec4<f32>(0.0);
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    p[e] = bitcast<f32>(param_tail[tail_piece.first + e]);
    g[e] = bitcast<f32>(grad_tail[tail_piece.first + e]);
  }
  let h = hyper_of(tail_piece.tensor);
  let updated = bitcast<vec4<u32>>(step_f32_state(h, k, tail_piece.state_index, p, g));
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    param_tail[tail_piece.first + e] = updated[e];
  }
}

@compute @workgroup_size(1)
fn tail() {
  if (steps.skip != 0u) {
    return;
  }
  update_f32_tail(step_inputs());
}

// ---------------------------------------------------------------------------------------------------------
// Packed entry points: the lower-precision modes (src/core/precision.ts). Used for every window of an optimizer
// that has an f16 entry or keeps its state in bf16; the f32 entry points above are untouched by them. A
// pipeline per mode (the override constants below), so no mode carries another's code.
//
// Every access is 16 bytes wide (one vec4<u32>), and an invocation updates a *pair* of work vec4s (8 elements)
// per iteration: 8 f16 params or grads are one vec4<u32>, 8 f32 are two; 8 bf16 moments are one vec4<u32>, 8
// f32 moments two. Packed pieces span an even number of work vec4s (src/gpu/layout.ts), so a pair never
// straddles two pieces and every pair starts on a 16-byte boundary of each array.
//
//   param / grad (`param_units`, `grad_units`): 16-byte units; f16 element 2k in the low half of word k (the
//     byte order of a Float16Array / Uint16Array).
//   state (`state`): one region per window of G = table.state_vec4 work vec4s: each kept moment (m, s, smax,
//     in that order) as G f32 vec4s or G / 2 units of 8 bf16 (element 2k in the low half of word k), then the
//     f32 master copy (G vec4s) of an f16 window with master weights. A piece's state starts at work vec4
//     `first` (even) of the region and spans its n = ceil(count / 8) pairs (PairState). bf16: pair j is unit
//     first / 2 + j, its 8 elements in order. f32 (moments, master copy): *split*, pair j's first 4 elements
//     at vec4 first + j and its last 4 at vec4 first + n + j, so that in every load and store neighbouring
//     invocations touch neighbouring vec4s (at first + 2j and first + 2j + 1, each 16-byte access of a warp
//     would use half of every 32-byte sector it touches). exportState / importState undo and apply the split
//     (src/gpu/state-store.ts).
// Conversions are done on the bits, round to nearest even (f16_bits, bf16_bits), not with pack2x16float,
// whose rounding direction WGSL leaves to the implementation (and whose result is indeterminate for
// values outside the f16 range): the CPU reference reproduces these bit for bit.
//
// The last pair of a piece may be partial: lanes past the tensor are loaded as 0 and never stored (the
// param words are written one by one; an f16 tensor with an odd count ends inside a word, which is read and
// its other half written back unchanged: the bytes up to the next 4-byte boundary exist, src/gpu/entries.ts
// checks it, and pieces start at 256-byte-aligned offsets, so no other tensor shares that word). That pair
// is loaded whole when the buffers hold the bytes up to its 16-byte boundary; when one of them ends before,
// its last count % 8 elements go to `tail_packed` (one invocation, through the word views `param_tail` and
// `grad_tail` of that piece), as the f32 path's `tail` does.
// ---------------------------------------------------------------------------------------------------------

override PARAM_F16: bool = false;  // param / grad are f16 (else f32)
override STATE_BF16: bool = false; // m, s, smax are stored as bf16 (else f32)
override MASTER: bool = false;     // f16 params: the update runs on an f32 master copy kept in the state

@group(0) @binding(11) var<storage, read_write> param_units: array<vec4<u32>>;
@group(0) @binding(12) var<storage, read> grad_units: array<vec4<u32>>;
@group(0) @binding(13) var<storage, read_write> state: array<vec4<u32>>;

// f32 → f16 bits, round to nearest even, on the bits: ±inf from 65520 up, subnormals below 2^-14, NaN → quiet
// NaN. The common case (f16's normal range, or small enough to round to ±0) takes no branch; values that round to
// an f16 subnormal, rare, take one.
fn f16_bits(x: vec4<f32>) -> vec4<u32> {
  let b = bitcast<vec4<u32>>(x);
  let sign = (b >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
  let a = b & vec4<u32>(0x7fffffffu);
  // Normal: rebias the exponent, round the 13 dropped bits to nearest even.
  var h = (a - vec4<u32>(0x38000000u - 0xfffu) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
  h = select(h, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
  h = select(h, vec4<u32>(0x7e00u), a > vec4<u32>(0x7f800000u));
  // At most 2^-25 (half the smallest subnormal, a tie that goes to the even 0): ±0.
  h = select(h, vec4<u32>(0u), a <= vec4<u32>(0x33000000u));
  let subnormal = (a < vec4<u32>(0x38800000u)) & (a > vec4<u32>(0x33000000u));
  if (any(subnormal)) {
    // The significand (implicit bit included) shifted right to units of 2^-24, rounded to nearest even.
    let shift = vec4<u32>(126u) - (a >> vec4<u32>(23u));
    let mant = (a & vec4<u32>(0x7fffffu)) | vec4<u32>(0x800000u);
    let half_minus_one = (vec4<u32>(1u) << (shift - vec4<u32>(1u))) - vec4<u32>(1u);
    let sub = (mant + half_minus_one + ((mant >> shift) & vec4<u32>(1u))) >> shift;
    h = select(h, sub, subnormal);
  }
  return sign | h;
}

// f32 → bf16 bits (the top half), round to nearest even; NaN stays NaN (quiet bit set), ±inf stays ±inf.
fn bf16_bits(x: vec4<f32>) -> vec4<u32> {
  let b = bitcast<vec4<u32>>(x);
  let rounded = (b + vec4<u32>(0x7fffu) + ((b >> vec4<u32>(16u)) & vec4<u32>(1u))) >> vec4<u32>(16u);
  let nan = (b & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
  return select(rounded, (b >> vec4<u32>(16u)) | vec4<u32>(0x40u), nan);
}

// 8 elements: a pair of work vec4s.
struct Pair {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

// The 8 values of one unit of 16-bit halves (f16 or bf16 bits, element 2k in the low half of word k).
fn halves(u: vec4<u32>) -> Pair {
  let lo = vec4<u32>(u.x & 0xffffu, u.x >> 16u, u.y & 0xffffu, u.y >> 16u);
  let hi = vec4<u32>(u.z & 0xffffu, u.z >> 16u, u.w & 0xffffu, u.w >> 16u);
  return Pair(bitcast<vec4<f32>>(lo), bitcast<vec4<f32>>(hi));
}

// Two vec4s of 16-bit values (in the low bits of each lane) as one unit, element 2k in the low half of word k.
fn join_halves(lo: vec4<u32>, hi: vec4<u32>) -> vec4<u32> {
  return vec4<u32>(lo.x | (lo.y << 16u), lo.z | (lo.w << 16u), hi.x | (hi.y << 16u), hi.z | (hi.w << 16u));
}

// `v` with the lanes from element `rest` of the pair on set to 0 (`first_lane`: 0 for .lo, 4 for .hi).
fn mask_past(v: vec4<f32>, first_lane: u32, rest: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, vec4<u32>(0u, 1u, 2u, 3u) + vec4<u32>(first_lane) < vec4<u32>(rest));
}

// The elements of param / grad units `a` (and, f32, `b`) as values; lanes from `rest` on are 0 (only a piece's
// last pair is partial: the others skip the masking).
fn decode_pair(a: vec4<u32>, b: vec4<u32>, rest: u32) -> Pair {
  var v = Pair(bitcast<vec4<f32>>(a), bitcast<vec4<f32>>(b));
  if (PARAM_F16) {
    let h = halves(a);
    v = Pair(f16_value(bitcast<vec4<u32>>(h.lo)), f16_value(bitcast<vec4<u32>>(h.hi)));
  }
  if (rest < 8u) {
    v = Pair(mask_past(v.lo, 0u, rest), mask_past(v.hi, 4u, rest));
  }
  return v;
}

// The 16-byte unit of `param_units` / `grad_units` holding the first element of pair `local` (work vec4
// index, even) of a piece starting at unit `base`.
fn unit_of(base: u32, local: u32) -> u32 {
  return base + select(local, local / 2u, PARAM_F16);
}

fn load_params(at: u32, rest: u32) -> Pair {
  if (PARAM_F16) {
    return decode_pair(param_units[at], vec4<u32>(0u), rest);
  }
  var b = vec4<u32>(0u);
  if (rest > 4u) {
    b = param_units[at + 1u];
  }
  return decode_pair(param_units[at], b, rest);
}

fn load_grads(at: u32, rest: u32) -> Pair {
  if (PARAM_F16) {
    return decode_pair(grad_units[at], vec4<u32>(0u), rest);
  }
  var b = vec4<u32>(0u);
  if (rest > 4u) {
    b = grad_units[at + 1u];
  }
  return decode_pair(grad_units[at], b, rest);
}

// The param words of pair `p`: f16 bits (4 words), or f32 bits (8 words: .lo then .hi).
struct PairWords {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn encode_params(p: Pair) -> PairWords {
  if (PARAM_F16) {
    return PairWords(join_halves(f16_bits(p.lo), f16_bits(p.hi)), vec4<u32>(0u));
  }
  return PairWords(bitcast<vec4<u32>>(p.lo), bitcast<vec4<u32>>(p.hi));
}

// Writes the first `rest` elements (all 8 when rest >= 8) of pair `p` at unit `at`, never a byte past them.
fn store_params(at: u32, rest: u32, p: Pair) {
  let words = encode_params(p);
  if (rest >= 8u) {
    param_units[at] = words.lo;
    if (!PARAM_F16) {
      param_units[at + 1u] = words.hi;
    }
    return;
  }
  if (PARAM_F16) {
    for (var k = 0u; k < rest / 2u; k = k + 1u) {
      param_units[at][k] = words.lo[k];
    }
    if ((rest & 1u) != 0u) {
      let k = rest / 2u;
      param_units[at][k] = (param_units[at][k] & 0xffff0000u) | (words.lo[k] & 0xffffu);
    }
    return;
  }
  for (var e = 0u; e < min(rest, 4u); e = e + 1u) {
    param_units[at][e] = words.lo[e];
  }
  for (var e = 4u; e < rest; e = e + 1u) {
    param_units[at + 1u][e - 4u] = words.hi[e - 4u];
  }
}

// Where one pair's state lies in a region: the piece's first state vec4 (even), the pair's index in the
// piece and the piece's pairs (ceil(count / 8)).
struct PairState {
  first: u32,
  pair: u32,
  pairs: u32,
}

// Where kept moment `k` (0 m, 1 s, 2 smax) of a region of `g` work vec4s starts, in 16-byte units.
fn moment_base(k: u32, g: u32) -> u32 {
  return k * select(g, g / 2u, STATE_BF16);
}

// Where the f32 master copy of a region of `g` work vec4s starts, in 16-byte units.
fn master_base(g: u32) -> u32 {
  return moment_base(1u + u32(VARIANCE) + u32(AMSGRAD), g);
}

// The pair `a` of an f32 array (split: .lo and .hi n vec4s apart) starting at unit `base`.
fn load_f32_pair(base: u32, a: PairState) -> Pair {
  let lo = base + a.first + a.pair;
  return Pair(bitcast<vec4<f32>>(state[lo]), bitcast<vec4<f32>>(state[lo + a.pairs]));
}

fn store_f32_pair(base: u32, a: PairState, v: Pair) {
  let lo = base + a.first + a.pair;
  state[lo] = bitcast<vec4<u32>>(v.lo);
  state[lo + a.pairs] = bitcast<vec4<u32>>(v.hi);
}

// The pair `a` of the moment starting at unit `base`.
fn load_moment(base: u32, a: PairState) -> Pair {
  if (STATE_BF16) {
    let u = state[base + a.first / 2u + a.pair];
    let top = 0xffff0000u;
    return Pair(
      bitcast<vec4<f32>>(vec4<u32>(u.x << 16u, u.x & top, u.y << 16u, u.y & top)),
      bitcast<vec4<f32>>(vec4<u32>(u.z << 16u, u.z & top, u.w << 16u, u.w & top)),
    );
  }
  return load_f32_pair(base, a);
}

fn store_moment(base: u32, a: PairState, v: Pair) {
  if (STATE_BF16) {
    state[base + a.first / 2u + a.pair] = join_halves(bf16_bits(v.lo), bf16_bits(v.hi));
  } else {
    store_f32_pair(base, a, v);
  }
}

// The update of pair `a` (of a region of `g` work vec4s) from params `p_in` (ignored with master weights: the
// master copy is the param) and grads `grad_in`: state loaded, updated and stored; returns the new params.
fn step_pair(h: Hyper, k: StepInputs, g: u32, a: PairState, p_in: Pair, grad_in: Pair) -> Pair {
  var p = p_in;
  if (MASTER) {
    p = load_f32_pair(master_base(g), a);
  }
  let m = load_moment(moment_base(0u, g), a);
  var s = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
  var smax = s;
  if (VARIANCE) {
    s = load_moment(moment_base(1u, g), a);
    if (AMSGRAD) {
      smax = load_moment(moment_base(2u, g), a);
    }
  }
  let lo = adabelief(h, k, p.lo, grad_in.lo, m.lo, s.lo, smax.lo);
  let hi = adabelief(h, k, p.hi, grad_in.hi, m.hi, s.hi, smax.hi);
  store_moment(moment_base(0u, g), a, Pair(lo.m, hi.m));
  if (VARIANCE) {
    store_moment(moment_base(1u, g), a, Pair(lo.s, hi.s));
    if (AMSGRAD) {
      store_moment(moment_base(2u, g), a, Pair(lo.smax, hi.smax));
    }
  }
  let out = Pair(lo.p, hi.p);
  if (MASTER) {
    store_f32_pair(master_base(g), a, out);
  }
  return out;
}

// The state place of the pair at work vec4 `local` (even) of `piece`.
fn pair_state(piece: Piece, local: u32) -> PairState {
  return PairState(piece.state_base, local / 2u, (piece.count + 7u) / 8u);
}

// The state place of a tail's pair: the last of its piece.
fn tail_pair_state() -> PairState {
  let pair = tail_piece.first / 8u;
  return PairState(tail_piece.state_index, pair, pair + 1u);
}

// `main_packed`'s walk over the window's pairs with the step inputs `k`.
fn update_packed(gid: u32, groups: u32, k: StepInputs) {
  let stride = groups * WORKGROUP_SIZE;
  let pairs = table.total_vec4 / 2u;
  let g = table.state_vec4;
  var piece = NO_PIECE;
  var h: Hyper;
  for (var q = gid; q < pairs; q = q + stride) {
    let w = 2u * q;
    if (w < piece.begin || w >= piece.end) {
      piece = find_piece(w);
      h = hyper_of(piece.tensor);
    }
    let local = w - piece.begin;
    let rest = piece.count - local * 4u;
    var p = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
    if (!MASTER) {
      p = load_params(unit_of(piece.param_base, local), rest);
    }
    let grads = load_grads(unit_of(piece.grad_base, local), rest);
    let updated = step_pair(h, k, g, pair_state(piece, local), p, grads);
    store_params(unit_of(piece.param_base, local), rest, updated);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_packed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (steps.skip != 0u) {
    return;
  }
  update_packed(gid.x, groups.x, step_inputs());
}

// Element e (from tail_piece.first) of a tail's word view `words` as an f32 value (f16 or f32 bits).
fn tail_element(word: u32, e: u32) -> f32 {
  if (PARAM_F16) {
    let half = (word >> (16u * ((tail_piece.first + e) & 1u))) & 0xffffu;
    return f16_value(vec4<u32>(half)).x;
  }
  return bitcast<f32>(word);
}

// Word of element e of a tail (from tail_piece.first) in its piece's word view.
fn tail_word(e: u32) -> u32 {
  return select(tail_piece.first + e, (tail_piece.first + e) / 2u, PARAM_F16);
}

fn pair_of(v: array<f32, 8>) -> Pair {
  return Pair(vec4<f32>(v[0], v[1], v[2], v[3]), vec4<f32>(v[4], v[5], v[6], v[7]));
}

// The tail's params (lanes from tail_piece.rest on are 0).
fn load_tail_params() -> Pair {
  var v: array<f32, 8>;
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    v[e] = tail_element(param_tail[tail_word(e)], e);
  }
  return pair_of(v);
}

// The tail's grads (lanes from tail_piece.rest on are 0).
fn load_tail_grads() -> Pair {
  var v: array<f32, 8>;
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    v[e] = tail_element(grad_tail[tail_word(e)], e);
  }
  return pair_of(v);
}

// Writes the tail's first tail_piece.rest elements of `p`, word by word (f16: keeping the other half of a
// word the tail ends inside).
fn store_tail(p: Pair) {
  let words = encode_params(p);
  if (PARAM_F16) {
    for (var k = 0u; k < (tail_piece.rest + 1u) / 2u; k = k + 1u) {
      let at = tail_piece.first / 2u + k;
      if (2u * k + 1u < tail_piece.rest) {
        param_tail[at] = words.lo[k];
      } else {
        param_tail[at] = (param_tail[at] & 0xffff0000u) | (words.lo[k] & 0xffffu);
      }
    }
    return;
  }
  for (var e = 0u; e < tail_piece.rest; e = e + 1u) {
    param_tail[tail_piece.first + e] = select(words.hi[e & 3u], words.lo[e & 3u], e < 4u);
  }
}

fn update_packed_tail(k: StepInputs) {
  let h = hyper_of(tail_piece.tensor);
  var p = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
  if (!MASTER) {
    p = load_tail_params();
  }
  let grads = load_tail_grads();
  store_tail(step_pair(h, k, tail_piece.state_vec4, tail_pair_state(), p, grads));
}

@compute @workgroup_size(1)
fn tail_packed() {
  if (steps.skip != 0u) {
    return;
  }
  update_packed_tail(step_inputs());
}

// Copies the f16 params of the window into their f32 master copies (exactly). Dispatched before the first
// step after construction or an importState() without master weights; runs whether or not the guard skips.
@compute @workgroup_size(WORKGROUP_SIZE)
fn init_master(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let pairs = table.total_vec4 / 2u;
  let at = master_base(table.state_vec4);
  var piece = NO_PIECE;
  for (var q = gid.x; q < pairs; q = q + stride) {
    let w = 2u * q;
    piece = piece_holding(piece, w);
    let local = w - piece.begin;
    let p = decode_pair(param_units[unit_of(piece.param_base, local)], vec4<u32>(0u), piece.count - local * 4u);
    store_f32_pair(at, pair_state(piece, local), p);
  }
}

// `init_master` for a tail's elements.
@compute @workgroup_size(1)
fn init_master_tail() {
  store_f32_pair(master_base(tail_piece.state_vec4), tail_pair_state(), load_tail_params());
}
