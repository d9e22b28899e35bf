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
 * same bytes with no math (the benchmark's roofline).
 */

// Record layout: byte offsets (src/cpu/wasm/layout.ts has the same numbers; a unit test compares them).
export const REC_BYTES: i32 = 128;
export const REC_N: i32 = 0; // i32 element count
export const REC_START: i32 = 4; // i32 first global element index (a multiple of 16)
export const REC_P: i32 = 8; // i32 byte address of p (grad at 12, m at 16, s at 20, smax at 24)
export const REC_UPDATE: i32 = 28; // i32 Update: 0 none, 1 sgd, 2 adaptive
export const REC_FLAGS: i32 = 32; // i32 flags, below
export const REC_SCALARS: i32 = 48; // f32 × 13: decayMul … stepSize, invScale, clipCoef

// Flags (the bits of packHyper, plus the rule's and the guard's).
const DENOM_FROM_MAX: i32 = 1;
const DIVIDE_BC2: i32 = 2;
const L2: i32 = 4;
const BELIEF: i32 = 8;
const NESTEROV: i32 = 16;
const VARIANCE: i32 = 32;
const AMSGRAD: i32 = 64;
const GUARD: i32 = 128;

/** Steps elements [lo, hi) (tensor-local) of the tensor whose record is at `r`. */
function stepTensor(r: usize, lo: i32, hi: i32): void {
  const P = <usize>load<i32>(r, 8);
  const G = <usize>load<i32>(r, 12);
  const M = <usize>load<i32>(r, 16);
  const S = <usize>load<i32>(r, 20);
  const X = <usize>load<i32>(r, 24);
  const update = load<i32>(r, REC_UPDATE);
  const flags = load<i32>(r, REC_FLAGS);
  const decayMul = load<f32>(r, REC_SCALARS);
  const l2v = load<f32>(r, REC_SCALARS + 4);
  const beta1 = load<f32>(r, REC_SCALARS + 8);
  const oneMinusBeta1 = load<f32>(r, REC_SCALARS + 12);
  const beta2 = load<f32>(r, REC_SCALARS + 16);
  const oneMinusBeta2 = load<f32>(r, REC_SCALARS + 20);
  const eps = load<f32>(r, REC_SCALARS + 24);
  const epsS = load<f32>(r, REC_SCALARS + 28);
  const epsMax = load<f32>(r, REC_SCALARS + 32);
  const sqrtBc2 = load<f32>(r, REC_SCALARS + 36);
  const stepSize = load<f32>(r, REC_SCALARS + 40);
  const invScale = load<f32>(r, REC_SCALARS + 44);
  const clipCoef = load<f32>(r, REC_SCALARS + 48);

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

  // SIMD over whole quads.
  const vDecayMul = f32x4.splat(decayMul);
  const vL2 = f32x4.splat(l2v);
  const vBeta1 = f32x4.splat(beta1);
  const vOneMinusBeta1 = f32x4.splat(oneMinusBeta1);
  const vBeta2 = f32x4.splat(beta2);
  const vOneMinusBeta2 = f32x4.splat(oneMinusBeta2);
  const vEps = f32x4.splat(eps);
  const vEpsS = f32x4.splat(epsS);
  const vEpsMax = f32x4.splat(epsMax);
  const vSqrtBc2 = f32x4.splat(sqrtBc2);
  const vStepSize = f32x4.splat(stepSize);
  const vInvScale = f32x4.splat(invScale);
  const vClipCoef = f32x4.splat(clipCoef);
  const vOne = f32x4.splat(1);
  const quads = lo + ((hi - lo) & ~3);
  for (let i = lo; i < quads; i += 4) {
    const o = (<usize>i) << 2;
    const pi = f32x4.mul(v128.load(P + o), vDecayMul);
    let g = v128.load(G + o);
    if (guard) g = f32x4.mul(f32x4.mul(g, vInvScale), vClipCoef);
    if (l2) g = f32x4.add(g, f32x4.mul(vL2, pi));
    const m = f32x4.add(f32x4.mul(v128.load(M + o), vBeta1), f32x4.mul(vOneMinusBeta1, g));
    v128.store(M + o, m);

    let v = vOne;
    if (variance) {
      const res = belief ? f32x4.sub(g, m) : g;
      const s = f32x4.add(
        f32x4.add(f32x4.mul(v128.load(S + o), vBeta2), f32x4.mul(f32x4.mul(vOneMinusBeta2, res), res)),
        vEpsS,
      );
      v128.store(S + o, s);
      v = s;
      if (amsgrad) {
        const smax = f32x4.add(f32x4.max(v128.load(X + o), s), vEpsMax);
        v128.store(X + o, smax);
        v = fromMax ? smax : s;
      }
    }

    const root = f32x4.sqrt(v);
    const d = f32x4.add(divideBc2 ? f32x4.div(root, vSqrtBc2) : root, vEps);
    const momentum = nesterov ? f32x4.add(g, f32x4.mul(vBeta1, m)) : m;
    const direction = adaptive ? f32x4.div(m, d) : momentum;
    v128.store(P + o, moves ? f32x4.add(pi, f32x4.mul(vStepSize, direction)) : pi);
  }

  // The tail (n % 4 elements at the tensor's end): the same lines in scalar f32.
  for (let i = quads; i < hi; i++) {
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
