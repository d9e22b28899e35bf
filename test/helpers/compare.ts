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
  /** Largest |got - want| / tol(i). Passes when <= 1. */
  worst: number;
  worstIndex: number;
  /** Elements where either side is NaN and the other is not. */
  nanMismatch: number;
}

/**
 * Compares `got` with `want` element by element against an absolute tolerance per element; ulps are counted
 * with `ulp` (f32's by default; lower-precision tests pass the stored precision's).
 */
export function compareArrays(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
  ulp: (x: number) => number = ulpF32,
): ErrorStats {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  const s: ErrorStats = { maxAbs: 0, maxUlp: 0, worst: 0, worstIndex: -1, nanMismatch: 0 };
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) s.nanMismatch++;
      continue;
    }
    const d = a === b ? 0 : Math.abs(a - b);
    if (d > s.maxAbs) s.maxAbs = d;
    const u = d / ulp(b);
    if (u > s.maxUlp) s.maxUlp = u;
    const t = tol(i);
    const r = d === 0 ? 0 : t === 0 ? Infinity : d / t;
    if (r > s.worst) {
      s.worst = r;
      s.worstIndex = i;
    }
  }
  return s;
}
