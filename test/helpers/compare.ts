/** Error measures for comparing f32 results, shared by the Node and the browser tests. */

/** Spacing of f32 values at |x| (2^-149 for zero and subnormals). */
export function ulpF32(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

export interface ErrorStats {
  /** Largest |got - want|. */
  maxAbs: number;
  /** Largest |got - want| in units of ulp(want). */
  maxUlp: number;
  /** Largest |got - want| / tol(i). Passes when <= 1; Infinity where an element fails however large the tolerance. */
  worst: number;
  worstIndex: number;
  /** Elements where either side is NaN and the other is not. */
  nanMismatch: number;
  /**
   * Elements no tolerance can pass (each also makes `worst` Infinity): a non-finite reference value in a case
   * that does not expect one, a non-finite value on one side only, or a tolerance that is NaN, infinite or
   * negative (as a mean over a reference holding ±Inf or NaN would give).
   */
  invalid: number;
}

export interface CompareOptions {
  /** How ulps are counted: f32's by default; lower-precision tests pass the stored precision's. */
  ulp?: (x: number) => number;
  /**
   * `'expected'`: the case expects non-finite values (e.g. injected inf/NaN that no guard skips), and a
   * non-finite reference value passes where `got` holds the same one (NaN for NaN, an infinity of the same
   * sign). Left out, any non-finite reference value fails the comparison: a reference is finite unless the case
   * says otherwise.
   */
  nonFinite?: 'expected';
}

/**
 * Compares `got` with `want` element by element against an absolute tolerance per element (`tol(i)`, finite and
 * >= 0). Fails (`worst` Infinity, counted in `invalid`) on what no tolerance may pass: see ErrorStats.invalid.
 * The fourth argument is the ulp function or CompareOptions.
 */
export function compareArrays(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
  options: ((x: number) => number) | CompareOptions = {},
): ErrorStats {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  const { ulp = ulpF32, nonFinite } = typeof options === 'function' ? { ulp: options } : options;
  const s: ErrorStats = { maxAbs: 0, maxUlp: 0, worst: 0, worstIndex: -1, nanMismatch: 0, invalid: 0 };
  const fail = (i: number) => {
    s.invalid++;
    if (s.worst !== Infinity) [s.worst, s.worstIndex] = [Infinity, i];
  };
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    if (Number.isNaN(a) !== Number.isNaN(b)) s.nanMismatch++;
    if (!Number.isFinite(b) || !Number.isFinite(a)) {
      // Only an expected non-finite reference matched exactly passes (NaN for NaN, the same infinity).
      if (nonFinite !== 'expected' || !Object.is(a, b)) fail(i);
      continue;
    }
    const d = a === b ? 0 : Math.abs(a - b);
    if (d > s.maxAbs) s.maxAbs = d;
    const u = d / ulp(b);
    if (u > s.maxUlp) s.maxUlp = u;
    const t = tol(i);
    if (!(Number.isFinite(t) && t >= 0)) {
      fail(i);
      continue;
    }
    const r = d === 0 ? 0 : t === 0 ? Infinity : d / t;
    if (r > s.worst) {
      s.worst = r;
      s.worstIndex = i;
    }
  }
  return s;
}
