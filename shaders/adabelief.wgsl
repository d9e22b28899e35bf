// adabelief.wgsl — one fused AdaBelief step over every tensor piece of one window (see src/gpu/layout.ts).
// The same pass runs the variants (src/core/rules.ts): Adam / AdamW (FLAG_BELIEF off: the second moment tracks
// g, eps_s = 0) and SGD with momentum (VARIANCE off, update sgd, optional FLAG_NESTEROV).
//
// Per element (f32, in this order; every choice below is made on the host from the options and the step
// count, see src/core/step-scalars.ts, and applied with select(), not branches: the math is cheap, divergence is not):
//   g  = (g * inv_scale) * clip_coef         from `control` (grad-stats.wgsl); both exactly 1 when unguarded
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
//   `main_packed`, `init_master`: the same for the lower-precision modes (f16 params, bf16 state, f32
//           master weights), at the end of this file. All entry points share the update math, `adabelief()`.
// `hyper` holds one record per tensor (param groups) per candidate step count: row `control.row` is this
// step's (one row unless guarded: see grad-stats.wgsl and src/core/guard.ts). When `control.skip` is set (a
// guarded step with a non-finite gradient) nothing is read or written. State (m, s, smax) is padded to whole
// vec4s. A slot the rule does not keep is bound to a 16-byte placeholder and never touched.

override WORKGROUP_SIZE: u32 = 256u;
override AMSGRAD: bool = false;
override VARIANCE: bool = true;

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

@group(0) @binding(0) var<storage, read> hyper: array<Hyper>;
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
  p_in: vec4<f32>,
  g_raw: vec4<f32>,
  m_in: vec4<f32>,
  s_in: vec4<f32>,
  smax_in: vec4<f32>,
) -> Updated {
  let g_in = (g_raw * control.inv_scale) * control.clip_coef;
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
fn step_f32_state(h: Hyper, i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
  var s = vec4<f32>(0.0);
  var smax = vec4<f32>(0.0);
  if (VARIANCE) {
    s = exp_avg_var[i];
    if (AMSGRAD) {
      smax = max_exp_avg_var[i];
    }
  }
  let u = adabelief(h, p, g, exp_avg[i], s, smax);
  exp_avg[i] = u.m;
  if (VARIANCE) {
    exp_avg_var[i] = u.s;
    if (AMSGRAD) {
      max_exp_avg_var[i] = u.smax;
    }
  }
  return u.p;
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
  var piece = NO_PIECE;
  var h: Hyper;
  for (var w = gid.x; w < table.total_vec4; w = w + stride) {
    if (w < piece.begin || w >= piece.end) {
      piece = find_piece(w);
      h = hyper[row_base + piece.tensor];
    }
    let local = w - piece.begin;
    let pi = piece.param_base + local;
    let updated = step_f32_state(h, piece.state_base + local, param[pi], grad[piece.grad_base + local]);
    let rest = piece.count - local * 4u;
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
  let updated = step_f32_state(h, tail_piece.state_index, p, g);
  for (var k = 0u; k < tail_piece.rest; k = k + 1u) {
    param_tail[tail_piece.first + k] = updated[k];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Packed entry points: the lower-precision modes (src/core/precision.ts). Used for every window of an optimizer
// that has an f16 entry or keeps its state in bf16; the f32 entry points above are untouched by them.
//
//   param / grad (`param_words`, `grad_words`): u32 words. f32 elements one per word; f16 elements two per
//     word, element 2k in the low half (the byte order of a Float16Array / Uint16Array). A vec4 of work is
//     4 elements: 4 words (f32) or 2 words (f16).
//   state (`state_words`): one region per window holding, for each of its G = total_vec4 vec4s of work,
//     m at [i * MW], s at [G * MW + i * MW], smax at [2 G * MW + i * MW] (kept slots only, in that order),
//     then the f32 master copy at [K G * MW + 2 i] (K = the kept moments), in vec2<u32> units. MW = 2 for
//     f32 moments, 1 for bf16 (4 bf16 values, element 2k in the low half of word k).
// Conversions are done on the bits, round to nearest even (f16_bits, bf16_bits), not with pack2x16float,
// whose rounding direction WGSL leaves to the implementation (and whose result is indeterminate for
// values outside the f16 range): the CPU reference reproduces these bit for bit.
//
// No `tail` dispatch is needed: the last vec4 of a piece is loaded whole (lanes past the tensor are set to
// 0; a load past the binding is clamped by WebGPU's bounds checks and its lanes discarded) and stored word
// by word. An f16 tensor with an odd count ends inside a word: that word is read, its other half kept and
// written back unchanged (the bytes up to the next 4-byte boundary must exist: src/gpu/entries.ts checks it).
// Pieces start at 256-byte-aligned offsets, so no other tensor shares that word.
// ---------------------------------------------------------------------------------------------------------

override PARAM_F16: bool = false;  // param / grad are f16 (else f32 words)
override STATE_BF16: bool = false; // m, s, smax are stored as bf16 (else f32)
override MASTER: bool = false;     // f16 params: the update runs on an f32 master copy kept in the state

@group(0) @binding(11) var<storage, read_write> param_words: array<u32>;
@group(0) @binding(12) var<storage, read> grad_words: array<u32>;
@group(0) @binding(13) var<storage, read_write> state_words: array<vec2<u32>>;

// f32 → f16 bits, round to nearest even: ±inf from 65520 up, subnormals below 2^-14, NaN → quiet NaN.
fn f16_bits(x: vec4<f32>) -> vec4<u32> {
  let b = bitcast<vec4<u32>>(x);
  let sign = (b >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
  let a = b & vec4<u32>(0x7fffffffu);
  let normal = (a - vec4<u32>(0x38000000u - 0xfffu) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
  let shift = min(vec4<u32>(126u) - min(a >> vec4<u32>(23u), vec4<u32>(126u)), vec4<u32>(25u));
  let mant = (a & vec4<u32>(0x7fffffu)) | vec4<u32>(0x800000u);
  let half_minus_one = (vec4<u32>(1u) << (shift - vec4<u32>(1u))) - vec4<u32>(1u);
  let sub = (mant + half_minus_one + ((mant >> shift) & vec4<u32>(1u))) >> shift;
  var h = select(sub, normal, a >= vec4<u32>(0x38800000u));
  h = select(h, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
  h = select(h, vec4<u32>(0x7e00u), a > vec4<u32>(0x7f800000u));
  return sign | h;
}

// f32 → bf16 bits (the top half), round to nearest even; NaN stays NaN (quiet bit set), ±inf stays ±inf.
fn bf16_bits(x: vec4<f32>) -> vec4<u32> {
  let b = bitcast<vec4<u32>>(x);
  let rounded = (b + vec4<u32>(0x7fffu) + ((b >> vec4<u32>(16u)) & vec4<u32>(1u))) >> vec4<u32>(16u);
  let nan = (b & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
  return select(rounded, (b >> vec4<u32>(16u)) | vec4<u32>(0x40u), nan);
}

// The 4 elements of a vec4 of work from its words (f16: 2 words in .xy); lanes from `rest` on are 0.
fn decode(words: vec4<u32>, rest: u32) -> vec4<f32> {
  var v = bitcast<vec4<f32>>(words);
  if (PARAM_F16) {
    let lo = vec2<u32>(words.x, words.y) & vec2<u32>(0xffffu);
    let hi = vec2<u32>(words.x, words.y) >> vec2<u32>(16u);
    v = f16_value(vec4<u32>(lo.x, hi.x, lo.y, hi.y));
  }
  return select(vec4<f32>(0.0), v, vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(rest));
}

fn param_vec(w: u32) -> vec4<u32> {
  if (PARAM_F16) {
    return vec4<u32>(param_words[w], param_words[w + 1u], 0u, 0u);
  }
  return vec4<u32>(param_words[w], param_words[w + 1u], param_words[w + 2u], param_words[w + 3u]);
}

fn grad_vec(w: u32) -> vec4<u32> {
  if (PARAM_F16) {
    return vec4<u32>(grad_words[w], grad_words[w + 1u], 0u, 0u);
  }
  return vec4<u32>(grad_words[w], grad_words[w + 1u], grad_words[w + 2u], grad_words[w + 3u]);
}

// Writes the first `rest` (1..4, or more: all four) elements of `p` at word `w`, never a word past them.
fn store_param(w: u32, rest: u32, p: vec4<f32>) {
  if (PARAM_F16) {
    let h = f16_bits(p);
    if (rest >= 2u) {
      param_words[w] = h.x | (h.y << 16u);
    } else {
      param_words[w] = (param_words[w] & 0xffff0000u) | h.x;
    }
    if (rest >= 4u) {
      param_words[w + 1u] = h.z | (h.w << 16u);
    } else if (rest == 3u) {
      param_words[w + 1u] = (param_words[w + 1u] & 0xffff0000u) | h.z;
    }
    return;
  }
  let b = bitcast<vec4<u32>>(p);
  if (rest >= 4u) {
    param_words[w] = b.x;
    param_words[w + 1u] = b.y;
    param_words[w + 2u] = b.z;
    param_words[w + 3u] = b.w;
  } else {
    for (var k = 0u; k < rest; k = k + 1u) {
      param_words[w + k] = b[k];
    }
  }
}

// vec2<u32> units per vec4 of a moment: 2 (f32) or 1 (bf16).
fn moment_width() -> u32 {
  return select(2u, 1u, STATE_BF16);
}

fn load_f32x4(at: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(state_words[at], state_words[at + 1u]));
}

fn store_f32x4(at: u32, x: vec4<f32>) {
  let b = bitcast<vec4<u32>>(x);
  state_words[at] = b.xy;
  state_words[at + 1u] = b.zw;
}

fn load_moment(at: u32) -> vec4<f32> {
  if (STATE_BF16) {
    let w = state_words[at];
    let hi = vec2<u32>(0xffff0000u);
    return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & hi.x, w.y << 16u, w.y & hi.y));
  }
  return load_f32x4(at);
}

fn store_moment(at: u32, x: vec4<f32>) {
  if (STATE_BF16) {
    let b = bf16_bits(x);
    state_words[at] = vec2<u32>(b.x | (b.y << 16u), b.z | (b.w << 16u));
  } else {
    store_f32x4(at, x);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_packed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (control.skip != 0u) {
    return;
  }
  let row_base = control.row * control.tensor_count;
  let stride = groups.x * WORKGROUP_SIZE;
  let mw = moment_width();
  let s_at = table.total_vec4 * mw;
  let smax_at = 2u * table.total_vec4 * mw;
  let master_at = (1u + u32(VARIANCE) + u32(AMSGRAD)) * table.total_vec4 * mw;
  let words = select(4u, 2u, PARAM_F16);
  var piece = NO_PIECE;
  var h: Hyper;
  for (var w = gid.x; w < table.total_vec4; w = w + stride) {
    if (w < piece.begin || w >= piece.end) {
      piece = find_piece(w);
      h = hyper[row_base + piece.tensor];
    }
    let local = w - piece.begin;
    let rest = piece.count - local * 4u;
    let pw = piece.param_base * 4u + local * words;
    let i = piece.state_base + local;
    var p: vec4<f32>;
    if (MASTER) {
      p = load_f32x4(master_at + 2u * i);
    } else {
      p = decode(param_vec(pw), rest);
    }
    let g = decode(grad_vec(piece.grad_base * 4u + local * words), rest);
    var s = vec4<f32>(0.0);
    var smax = vec4<f32>(0.0);
    if (VARIANCE) {
      s = load_moment(s_at + i * mw);
      if (AMSGRAD) {
        smax = load_moment(smax_at + i * mw);
      }
    }
    let u = adabelief(h, p, g, load_moment(i * mw), s, smax);
    store_moment(i * mw, u.m);
    if (VARIANCE) {
      store_moment(s_at + i * mw, u.s);
      if (AMSGRAD) {
        store_moment(smax_at + i * mw, u.smax);
      }
    }
    if (MASTER) {
      store_f32x4(master_at + 2u * i, u.p);
    }
    store_param(pw, rest, u.p);
  }
}

// Copies the f16 params of the window into their f32 master copies (exactly). Dispatched before the first
// step after construction or an importState() without master weights; runs whether or not the guard skips.
@compute @workgroup_size(WORKGROUP_SIZE)
fn init_master(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let master_at = (1u + u32(VARIANCE) + u32(AMSGRAD)) * table.total_vec4 * moment_width();
  var piece = NO_PIECE;
  for (var w = gid.x; w < table.total_vec4; w = w + stride) {
    if (w < piece.begin || w >= piece.end) {
      piece = find_piece(w);
    }
    let local = w - piece.begin;
    let p = decode(param_vec(piece.param_base * 4u + local * 2u), piece.count - local * 4u);
    store_f32x4(master_at + 2u * (piece.state_base + local), p);
  }
}
