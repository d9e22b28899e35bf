/**
 * AdaBeliefFastCPU (float64 intermediates, f32 at the stores) against AdaBeliefCPU (every op rounded to
 * f32), on random data, every option combination, several steps.
 *
 * Tolerance. Per step, the fast loop rounds m, s, smax and p once each where the reference rounds every
 * operation; between them, per value: m <= 1 ulp (2 roundings vs 1), the residual r = g - m is exact in
 * f64 (the reference rounds it: 0.5 ulp, doubled by r*r), s <= 3 ulp, sqrt / the bc2 reciprocal / the
 * divide / the step product <= 0.5 ulp each in the reference: the update m / D carries <= 4 ulp, and p's
 * final rounding may differ by 1 ulp. We budget FAST_ULP_PER_STEP = 4 ulp of relative error per step,
 * carried linearly across T steps, on the same footing as test/helpers/tolerance.ts (the mean term covers elements
 * whose running average cancels to near zero):
 *   state:  |fast - ref| <= 4 T ε (|ref_i| + mean |ref|)
 *   param:  |fast - ref| <= T ulp(p_i) + 4 T ε (Δ_i + mean Δ),   Δ_i = Σ_t |p_t - p_{t-1}| (reference)
 */
import { describe, expect, test } from 'vitest';
import { AdaBeliefFastCPU } from '../../src/cpu/fast.js';
import type { AdaBeliefOptions } from '../../src/core/options.js';
import { AdaBeliefCPU } from '../../src/cpu/reference.js';
import { compareArrays, ulpF32, type ErrorStats } from '../helpers/compare.js';
import { finiteMeanAbs } from '../helpers/tolerance.js';

const FAST_ULP_PER_STEP = 4;
const EPS_F32 = 2 ** -23;
const SIZES = [1, 5, 1000, 65537];
const STEPS = 8; // covers the rectified SGD phase (rho < 5 up to step 5) and the adaptive one

/** Deterministic normal samples (mulberry32 + Box-Muller), so a failure replays from its seed. */
function normals(seed: number, n: number, scale: number): Float32Array {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()) * scale;
  return out;
}

function relTolerance(want: ArrayLike<number>, steps: number, ulps: (i: number) => number = () => 0) {
  const mean = finiteMeanAbs(want); // (finite values only: see tolerance.ts)
  const k = FAST_ULP_PER_STEP * steps * EPS_F32;
  return (i: number) => ulps(i) + k * (Math.abs(want[i]!) + mean);
}

/** Every combination of the boolean options, the two semantics and decay on / off. */
function combinations(): Partial<AdaBeliefOptions>[] {
  const out: Partial<AdaBeliefOptions>[] = [];
  for (let bits = 0; bits < 128; bits++) {
    const flag = (k: number) => (bits & (1 << k)) !== 0;
    out.push({
      amsgrad: flag(0),
      weightDecouple: flag(1),
      fixedDecay: flag(2),
      rectify: flag(3),
      degeneratedToSgd: flag(4),
      semantics: flag(5) ? 'torch-optimizer' : 'adabelief-pytorch',
      weightDecay: flag(6) ? 1e-2 : 0,
      eps: flag(5) ? 1e-8 : 1e-16,
    });
  }
  return out;
}

interface Worst {
  ulp: number;
  fraction: number;
  where: string;
}

function run(options: Partial<AdaBeliefOptions>, size: number, seed: number, worst: Worst): void {
  const p0 = normals(seed, size, 1);
  const ref = new AdaBeliefCPU([p0.slice()], { ...options, lr: 1e-2 });
  const fast = new AdaBeliefFastCPU([p0.slice()], { ...options, lr: 1e-2 });
  const travel = new Float64Array(size);
  for (let t = 1; t <= STEPS; t++) {
    const g = normals(seed * 131 + t, size, 0.1);
    const before = ref.params[0]!.slice();
    ref.step([g.slice()]);
    fast.step([g.slice()]);
    for (let i = 0; i < size; i++) travel[i]! += Math.abs(ref.params[0]![i]! - before[i]!);
  }
  const want = ref.exportState().tensors[0]!;
  const got = fast.exportState().tensors[0]!;
  const label = `${JSON.stringify(options)} n=${size}`;
  const checks: [string, ErrorStats][] = [
    [
      'param',
      compareArrays(
        fast.params[0]!,
        ref.params[0]!,
        relTolerance(travel, STEPS, (i) => STEPS * ulpF32(ref.params[0]![i]!)),
      ),
    ],
  ];
  for (const name of ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const) {
    if (want[name])
      checks.push([name, compareArrays(got[name]!, want[name], relTolerance(want[name], STEPS))]);
  }
  for (const [name, s] of checks) {
    if (s.maxUlp > worst.ulp) worst.ulp = s.maxUlp;
    if (s.worst > worst.fraction) Object.assign(worst, { fraction: s.worst, where: `${label} ${name}` });
    expect(s.nanMismatch, `${label} ${name}: NaN mismatches`).toBe(0);
    expect(
      s.worst,
      `${label} ${name}: element ${s.worstIndex} (max ${s.maxUlp.toFixed(1)} ulp)`,
    ).toBeLessThanOrEqual(1);
  }
}

describe('AdaBeliefFastCPU', () => {
  test(`matches AdaBeliefCPU (f32) within ${FAST_ULP_PER_STEP} ulp/step on every option combination`, () => {
    const worst: Worst = { ulp: 0, fraction: 0, where: '' };
    combinations().forEach((options, k) => {
      for (const size of SIZES) run(options, size, 1000 * k + size, worst);
    });
    console.log(
      `fast vs reference: ${combinations().length} option sets x sizes ${SIZES.join(', ')} x ${STEPS} steps; ` +
        `max ${worst.ulp.toFixed(1)} ulp of the reference value (large only where a value is ~0: the mean term); ` +
        `worst ${(worst.fraction * 100).toFixed(1)}% of the tolerance ` +
        `(${FAST_ULP_PER_STEP} ulp/step budget) at ${worst.where}`,
    );
  });

  test('has the state shape and API of AdaBeliefCPU', () => {
    const fast = new AdaBeliefFastCPU([new Float32Array(3), { param: new Float32Array(2), lr: 0.1 }], {
      amsgrad: true,
    });
    fast.step([new Float32Array([1, 2, 3]), new Float32Array([1, -1])]);
    const state = fast.exportState();
    expect(state.step).toBe(1);
    expect(Object.keys(state.tensors[0]!)).toEqual(['exp_avg', 'exp_avg_var', 'max_exp_avg_var']);
    const again = new AdaBeliefFastCPU([new Float32Array(3), new Float32Array(2)], { amsgrad: true });
    again.importState(state);
    expect(again.stepCount).toBe(1);
    expect(() => fast.step([new Float32Array(3)])).toThrow(/expected 2 gradients/);
    expect(() => fast.set({ amsgrad: false } as never)).toThrow(/fixed at construction/);
  });
});
