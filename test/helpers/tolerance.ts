/**
 * Parity tolerances between the GPU kernel and the f32 CPU reference, derived from WGSL's accuracy rules.
 *
 * The CPU reference rounds every operation once (correctly rounded, <= 0.5 ulp). WGSL allows per step:
 *   - `+ - *` correctly rounded, but contraction into fma may change each result by <= 1 ulp (5 ops on m, s);
 *   - `sqrt(x)` is only as accurate as `1.0 / inverseSqrt(x)`: 2 ulp + 2.5 ulp = 4.5 ulp;
 *   - `/` 2.5 ulp, twice on the adaptive path (sqrt(v) / sqrt_bc2 and m / D).
 * Summed along the longest path (m, s -> D -> m / D -> step) that is < 14 ulp; we budget
 * ULP_PER_STEP = 16 ulp per step, and let errors of state carried across steps add up linearly in T.
 *
 * State (m, s, smax), element i after T steps:  |gpu - cpu| <= 16 T ε (|cpu_i| + mean |cpu|)
 *   (the mean term covers elements where a running average cancels to near zero).
 * Param:  |gpu - cpu| <= T ulp(p_i) + 16 T ε (Δ_i + mean Δ)
 *   where Δ_i = Σ_t |p_t - p_{t-1}| is how far the CPU moved element i: the update carries the relative
 *   error above, and each step's final rounding of p may differ by one ulp.
 * ε = 2^-23 (one ulp of 1.0).
 *
 * The means are over the finite values only: one ±Inf or NaN in a reference must not make every element's
 * tolerance infinite or NaN (which would let any difference pass). A non-finite reference value itself is
 * compareArrays' to judge: it fails unless the case says it expects non-finite values (compare.ts).
 */
import { ulpF32 } from './compare.js';

export const EPS_F32 = 2 ** -23;
export const ULP_PER_STEP = 16;

/** Mean of |x| over the finite values of `xs` (0 when there are none). */
export function finiteMeanAbs(xs: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (Number.isFinite(x)) {
      sum += Math.abs(x);
      n++;
    }
  }
  return n ? sum / n : 0;
}

/** Per-element tolerance for a state tensor after `steps` steps. */
export function stateTolerance(want: ArrayLike<number>, steps: number): (i: number) => number {
  const mean = finiteMeanAbs(want);
  const k = ULP_PER_STEP * steps * EPS_F32;
  return (i) => k * (Math.abs(want[i]!) + mean);
}

/** Per-element tolerance for parameters after `steps` steps that moved element i by `travel[i]` in all. */
export function paramTolerance(
  want: ArrayLike<number>,
  travel: ArrayLike<number>,
  steps: number,
): (i: number) => number {
  const mean = finiteMeanAbs(travel);
  const k = ULP_PER_STEP * steps * EPS_F32;
  return (i) => steps * ulpF32(want[i]!) + k * (travel[i]! + mean);
}

/**
 * What bf16 state adds to a parameter's tolerance. A state value stored in bf16 keeps 8 significant bits: where
 * the GPU's f32 result and the CPU's differ (fma contraction, WGSL's sqrt and division), rounding to bf16 may pick
 * neighbouring values, one bf16 ulp apart (relative ≤ 2^-7). The state tolerance lets that happen once per step,
 * so after t steps m may differ by t·2^-7 relatively and s by t·2^-7, which reaches D through a square root as
 * t·2^-8. Step t's update `step_size · m / D` then differs relatively by ≤ t·(2^-7 + 2^-8) = t·3·2^-8, and summed
 * over T steps the parameter by ≤ T·3·2^-8·Δ_i (Δ_i: how far the CPU moved element i), plus the mean term as in
 * paramTolerance. SwiftShader is bit-exact and never uses this margin; a real GPU does (seen on an NVIDIA H200:
 * up to ~1100 f32 ulp of params after 8 steps, well inside this bound).
 */
export function bf16StateParamTerm(travel: ArrayLike<number>, steps: number): (i: number) => number {
  const mean = finiteMeanAbs(travel);
  const k = steps * 3 * 2 ** -8;
  return (i) => k * (travel[i]! + mean);
}
