/* eslint-disable @typescript-eslint/ban-ts-comment */
// @ts-nocheck — AssemblyScript (v128, f32x4, load/store, usize), compiled by scripts/build-wasm.mjs, not by tsc.
/**
 * The WebAssembly kernel of AdaBeliefWasmCPU (src/cpu/wasm-optimizer.ts): one fused step of every rule
 * (AdaBelief, Adam, AdamW, SGD) over an element range of the tensors, in 128-bit SIMD (f32x4) with a scalar
 * tail, on linear memory that all threads share. It mirrors src/cpu/reference.ts `adabeliefStep` line by
 * line in f32: the same operations in the same order, each an IEEE f32 operation (f32x4.add/sub/mul/div/sqrt
 * are correctly rounded, like Math.fround of the f64 result in the reference), so the result is bit-exact
 * with AdaBeliefCPU on Float32Array parameters (NaN payloads aside).
 *
 * Memory: a table of tensor records (one per parameter, REC_BYTES each, laid out by src/cpu/wasm/layout.ts),
 * each with the element count, its first index in the global element space the threads split, the byte
 * addresses of its arrays (p, g, m, s, smax; 0 where the rule keeps none) and the step's f32 scalars as
 * packHyper rounds them. The host writes the records; the kernel only reads them.
 *
 * `stepRange(table, count, lo, hi)` steps global elements [lo, hi) of every tensor; `copyRange` moves the
 * same bytes with no math (the benchmark's roofline); `statsRange` sums the guard's squares and finds inf/NaN.
 */

// Record layout: byte offsets (src/cpu/wasm/layout.ts has the same numbers; a unit test compares them).
export const REC_BYTES: i32 = 128;
export const REC_N: i32 = 0; // i32 element count
export const REC_START: i32 = 4; // i32 first global element index (a multiple of 16)
export const REC_P: i32 = 8; // i32 byte address of p (grad at 12, m at 16, s at 20, smax at 24)
export const REC_UPDATE: i32 = 28; // i32 Update: 0 none, 1 sgd, 2 adaptive
export const REC_FLAGS: i32 = 32; // i32 flags, below
export const REC_SCALARS: i32 = 48; // f32 × 13, below

// The f32 scalars (src/core/step-scalars.ts StepScalars, rounded to f32 once by the host; then the guard's).
const DECAY_MUL: i32 = REC_SCALARS;
const L2V: i32 = REC_SCALARS + 4;
const BETA1: i32 = REC_SCALARS + 8;
const ONE_MINUS_BETA1: i32 = REC_SCALARS + 12;
const BETA2: i32 = REC_SCALARS + 16;
const ONE_MINUS_BETA2: i32 = REC_SCALARS + 20;
const EPS: i32 = REC_SCALARS + 24;
const EPS_S: i32 = REC_SCALARS + 28;
const EPS_MAX: i32 = REC_SCALARS + 32;
const SQRT_BC2: i32 = REC_SCALARS + 36;
const STEP_SIZE: i32 = REC_SCALARS + 40;
const INV_SCALE: i32 = REC_SCALARS + 44;
const CLIP_COEF: i32 = REC_SCALARS + 48;

// Flags (the bits of packHyper, plus the rule's and the guard's).
const DENOM_FROM_MAX: i32 = 1;
const DIVIDE_BC2: i32 = 2;
const L2: i32 = 4;
const BELIEF: i32 = 8;
const NESTEROV: i32 = 16;
const VARIANCE: i32 = 32;
const AMSGRAD: i32 = 64;
const GUARD: i32 = 128;

// Compile-time switches of the SIMD loop: a type argument that is On or Off. `quads` is instantiated for each
// combination of the four switches that decide which divisions, square roots and arrays a step touches; the
// optimizer folds each instance's branches away (a runtime flag would become a select that computes both
// sides, divisions included). The cheap branches (guard, L2, belief, nesterov, smax or s) stay runtime.
type On = u16;
type Off = u8;
function on<T>(): bool {
  return sizeof<T>() == 2;
}

/**
 * Elements [lo, hi) of the tensor whose record is at `r`, hi - lo a multiple of 4: reference.ts
 * `adabeliefStep`, line for line, four lanes at a time.
 */
function quads<ADAPTIVE, DIVIDE, VAR, AMS>(r: usize, lo: i32, hi: i32): void {
  const P = <usize>load<i32>(r, 8);
  const G = <usize>load<i32>(r, 12);
  const M = <usize>load<i32>(r, 16);
  const S = <usize>load<i32>(r, 20);
  const X = <usize>load<i32>(r, 24);
  const flags = load<i32>(r, REC_FLAGS);
  const guard = (flags & GUARD) != 0;
  const l2 = (flags & L2) != 0;
  const belief = (flags & BELIEF) != 0;
  const fromMax = (flags & DENOM_FROM_MAX) != 0;
  const nesterov = (flags & NESTEROV) != 0;
  const moves = load<i32>(r, REC_UPDATE) != 0;
  const decayMul = f32x4.splat(load<f32>(r, DECAY_MUL));
  const l2v = f32x4.splat(load<f32>(r, L2V));
  const beta1 = f32x4.splat(load<f32>(r, BETA1));
  const oneMinusBeta1 = f32x4.splat(load<f32>(r, ONE_MINUS_BETA1));
  const beta2 = f32x4.splat(load<f32>(r, BETA2));
  const oneMinusBeta2 = f32x4.splat(load<f32>(r, ONE_MINUS_BETA2));
  const eps = f32x4.splat(load<f32>(r, EPS));
  const epsS = f32x4.splat(load<f32>(r, EPS_S));
  const epsMax = f32x4.splat(load<f32>(r, EPS_MAX));
  const sqrtBc2 = f32x4.splat(load<f32>(r, SQRT_BC2));
  const stepSize = f32x4.splat(load<f32>(r, STEP_SIZE));
  const invScale = f32x4.splat(load<f32>(r, INV_SCALE));
  const clipCoef = f32x4.splat(load<f32>(r, CLIP_COEF));
  for (let i = lo; i < hi; i += 4) {
    const o = (<usize>i) << 2;
    const pi = f32x4.mul(v128.load(P + o), decayMul);
    let g = v128.load(G + o);
    if (guard) g = f32x4.mul(f32x4.mul(g, invScale), clipCoef); // (the guard's scaling: cpu-optimizer.ts step)
    if (l2) g = f32x4.add(g, f32x4.mul(l2v, pi));
    const m = f32x4.add(f32x4.mul(v128.load(M + o), beta1), f32x4.mul(oneMinusBeta1, g));
    v128.store(M + o, m);

    let v = f32x4.splat(1);
    if (on<VAR>()) {
      const res = belief ? f32x4.sub(g, m) : g;
      const s = f32x4.add(
        f32x4.add(f32x4.mul(v128.load(S + o), beta2), f32x4.mul(f32x4.mul(oneMinusBeta2, res), res)),
        epsS,
      );
      v128.store(S + o, s);
      v = s;
      if (on<AMS>()) {
        const smax = f32x4.add(f32x4.max(v128.load(X + o), s), epsMax);
        v128.store(X + o, smax);
        v = fromMax ? smax : s;
      }
    }

    const momentum = nesterov ? f32x4.add(g, f32x4.mul(beta1, m)) : m;
    let direction = momentum;
    if (on<ADAPTIVE>()) {
      const root = f32x4.sqrt(v);
      const d = f32x4.add(on<DIVIDE>() ? f32x4.div(root, sqrtBc2) : root, eps);
      direction = f32x4.div(m, d);
    }
    v128.store(P + o, moves ? f32x4.add(pi, f32x4.mul(stepSize, direction)) : pi);
  }
}

/** Elements [lo, hi) of record `r`'s tensor, one at a time: the same lines in scalar f32 (the n % 4 tail). */
function scalars(r: usize, lo: i32, hi: i32): void {
  const P = <usize>load<i32>(r, 8);
  const G = <usize>load<i32>(r, 12);
  const M = <usize>load<i32>(r, 16);
  const S = <usize>load<i32>(r, 20);
  const X = <usize>load<i32>(r, 24);
  const update = load<i32>(r, REC_UPDATE);
  const flags = load<i32>(r, REC_FLAGS);
  const guard = (flags & GUARD) != 0;
  const l2 = (flags & L2) != 0;
  const variance = (flags & VARIANCE) != 0;
  const belief = (flags & BELIEF) != 0;
  const amsgrad = (flags & AMSGRAD) != 0;
  const fromMax = (flags & DENOM_FROM_MAX) != 0;
  const divideBc2 = (flags & DIVIDE_BC2) != 0;
  const nesterov = (flags & NESTEROV) != 0;
  const adaptive = update == 2;
  const moves = update != 0;
  const decayMul = load<f32>(r, DECAY_MUL);
  const l2v = load<f32>(r, L2V);
  const beta1 = load<f32>(r, BETA1);
  const oneMinusBeta1 = load<f32>(r, ONE_MINUS_BETA1);
  const beta2 = load<f32>(r, BETA2);
  const oneMinusBeta2 = load<f32>(r, ONE_MINUS_BETA2);
  const eps = load<f32>(r, EPS);
  const epsS = load<f32>(r, EPS_S);
  const epsMax = load<f32>(r, EPS_MAX);
  const sqrtBc2 = load<f32>(r, SQRT_BC2);
  const stepSize = load<f32>(r, STEP_SIZE);
  const invScale = load<f32>(r, INV_SCALE);
  const clipCoef = load<f32>(r, CLIP_COEF);
  for (let i = lo; i < hi; i++) {
    const o = (<usize>i) << 2;
    const pi = load<f32>(P + o) * decayMul;
    let g = load<f32>(G + o);
    if (guard) g = g * invScale * clipCoef;
    if (l2) g = g + l2v * pi;
    const m = load<f32>(M + o) * beta1 + oneMinusBeta1 * g;
    store<f32>(M + o, m);

    let v: f32 = 1;
    if (variance) {
      const res = belief ? g - m : g;
      const s = load<f32>(S + o) * beta2 + oneMinusBeta2 * res * res + epsS;
      store<f32>(S + o, s);
      v = s;
      if (amsgrad) {
        const smax = max<f32>(load<f32>(X + o), s) + epsMax;
        store<f32>(X + o, smax);
        v = fromMax ? smax : s;
      }
    }

    const root = sqrt<f32>(v);
    const d = (divideBc2 ? root / sqrtBc2 : root) + eps;
    const momentum = nesterov ? g + beta1 * m : m;
    const direction = adaptive ? m / d : momentum;
    store<f32>(P + o, moves ? pi + stepSize * direction : pi);
  }
}

/** Steps elements [lo, hi) (tensor-local) of the tensor whose record is at `r`: SIMD quads, then the tail. */
function stepTensor(r: usize, lo: i32, hi: i32): void {
  const flags = load<i32>(r, REC_FLAGS);
  const q = lo + ((hi - lo) & ~3);
  const adaptive = load<i32>(r, REC_UPDATE) == 2;
  const divide = (flags & DIVIDE_BC2) != 0;
  if ((flags & VARIANCE) == 0) {
    if (!adaptive) quads<Off, Off, Off, Off>(r, lo, q);
    else if (divide) quads<On, On, Off, Off>(r, lo, q);
    else quads<On, Off, Off, Off>(r, lo, q);
  } else if ((flags & AMSGRAD) == 0) {
    if (!adaptive) quads<Off, Off, On, Off>(r, lo, q);
    else if (divide) quads<On, On, On, Off>(r, lo, q);
    else quads<On, Off, On, Off>(r, lo, q);
  } else {
    if (!adaptive) quads<Off, Off, On, On>(r, lo, q);
    else if (divide) quads<On, On, On, On>(r, lo, q);
    else quads<On, Off, On, On>(r, lo, q);
  }
  scalars(r, q, hi);
}

/** Clips global element range [lo, hi) to record `r`'s tensor: its local [a, b) packed as a << 32 | b, or -1. */
function localRange(r: usize, lo: i32, hi: i32): i64 {
  const start = load<i32>(r, REC_START);
  const a = max<i32>(lo, start);
  const b = min<i32>(hi, start + load<i32>(r, REC_N));
  return a < b ? ((<i64>(a - start)) << 32) | (<i64>(b - start)) : -1;
}

/** One fused step of global elements [lo, hi) of the `count` tensors whose records start at `table`. */
export function stepRange(table: usize, count: i32, lo: i32, hi: i32): void {
  for (let k = 0; k < count; k++) {
    const r = table + <usize>(k * REC_BYTES);
    const ab = localRange(r, lo, hi);
    if (ab >= 0) stepTensor(r, <i32>(ab >> 32), <i32>ab);
  }
}

/**
 * The copy roofline of a step over global elements [lo, hi): reads p, g, m, s (and smax) and writes p, m, s
 * (and smax), as bench/cpu.ts's copyLoop: p = m, m = s, s = p + g, smax = smax + g. SIMD over quads, then the tail.
 */
export function copyRange(table: usize, count: i32, lo: i32, hi: i32): void {
  for (let k = 0; k < count; k++) {
    const r = table + <usize>(k * REC_BYTES);
    const ab = localRange(r, lo, hi);
    if (ab < 0) continue;
    const a = <i32>(ab >> 32);
    const b = <i32>ab;
    const P = <usize>load<i32>(r, 8);
    const G = <usize>load<i32>(r, 12);
    const M = <usize>load<i32>(r, 16);
    const S = <usize>load<i32>(r, 20);
    const X = <usize>load<i32>(r, 24);
    const quads = a + ((b - a) & ~3);
    for (let i = a; i < quads; i += 4) {
      const o = (<usize>i) << 2;
      const p = v128.load(P + o);
      const g = v128.load(G + o);
      v128.store(P + o, v128.load(M + o));
      v128.store(M + o, v128.load(S + o));
      v128.store(S + o, f32x4.add(p, g));
      if (X != 0) v128.store(X + o, f32x4.add(v128.load(X + o), g));
    }
    for (let i = quads; i < b; i++) {
      const o = (<usize>i) << 2;
      const p = load<f32>(P + o);
      const g = load<f32>(G + o);
      store<f32>(P + o, load<f32>(M + o));
      store<f32>(M + o, load<f32>(S + o));
      store<f32>(S + o, p + g);
      if (X != 0) store<f32>(X + o, load<f32>(X + o) + g);
    }
  }
}

/**
 * The guard's statistics over global elements [lo, hi), as core/guard.ts `guardDecision` computes them: the sum
 * of the squares of f32(g * invScale) in f64 (each square exact in f64, since it has 48 significant bits) and
 * whether any g is inf or NaN. The sum runs in this range's own order (two f64x2 accumulators, then the tail),
 * not the reference's one sequence: the host adds the threads' sums. Writes the f64 sum at `out` and the i32
 * non-finite flag at `out + 8`.
 */
export function statsRange(table: usize, count: i32, lo: i32, hi: i32, out: usize): void {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  let bad = f32x4.splat(0);
  let tail: f64 = 0;
  let found = false;
  for (let k = 0; k < count; k++) {
    const r = table + <usize>(k * REC_BYTES);
    const ab = localRange(r, lo, hi);
    if (ab < 0) continue;
    const a = <i32>(ab >> 32);
    const b = <i32>ab;
    const G = <usize>load<i32>(r, 12);
    const invScale = load<f32>(r, INV_SCALE);
    const vInvScale = f32x4.splat(invScale);
    const quadsEnd = a + ((b - a) & ~3);
    for (let i = a; i < quadsEnd; i += 4) {
      const x = v128.load(G + ((<usize>i) << 2));
      const v = f32x4.mul(x, vInvScale);
      const low = f64x2.promote_low_f32x4(v);
      const high = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
      acc0 = f64x2.add(acc0, f64x2.mul(low, low));
      acc1 = f64x2.add(acc1, f64x2.mul(high, high));
      const z = f32x4.sub(x, x); // NaN exactly where x is inf or NaN
      bad = v128.or(bad, f32x4.ne(z, z));
    }
    for (let i = quadsEnd; i < b; i++) {
      const x = load<f32>(G + ((<usize>i) << 2));
      const v = <f64>(x * invScale);
      tail += v * v;
      const z = x - x;
      if (z != z) found = true;
    }
  }
  const sum =
    f64x2.extract_lane(acc0, 0) +
    f64x2.extract_lane(acc0, 1) +
    (f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1)) +
    tail;
  store<f64>(out, sum);
  store<i32>(out, found || v128.any_true(bad) ? 1 : 0, 8);
}
