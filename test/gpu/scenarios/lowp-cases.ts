/**
 * The lower-precision parity cases, one list for both of their runners: test/gpu/lowp.test.ts (vitest, headless
 * Chromium) and test/gpu/check/gpu-check.ts (the GPU bundle's standalone check, Dawn in a bare Node). Each case is a
 * `lowpParity` config (test/gpu/scenarios/lowp.ts: mode, sizes, options, steps), the quantities it must compare
 * and what else its result must show; `lowpToleranceLines` says which tolerance each compared quantity is held to
 * and why, and `lowpVerdict` applies the pass rules to a result. Pure data and pure functions only (no vitest, no
 * DOM, no GPU), so that esbuild bundles this file into dist-bench/gpu-check.mjs.
 */
import { ULP_PER_STEP } from '../../helpers/tolerance.js';
import type { LowpConfig, LowpResult } from './lowp.js';

/** One parity case of the lower-precision modes. */
export interface LowpCase {
  /** The describe block of lowp.test.ts it belongs to. */
  group: string;
  /** The test's name, and gpu-check's (`--only TEXT` matches it). */
  name: string;
  /** Prefix of its printed lines. */
  label: string;
  cfg: LowpConfig;
  /**
   * At least this many quantities compared: one `param (dtype)` per param dtype present, the optimizer's state
   * tensors (AdaBelief: exp_avg, exp_avg_var, + max_exp_avg_var with AMSGrad; Adam: exp_avg, exp_avg_sq, ...;
   * SGD: momentum_buffer) and `master` where f16 params keep f32 master copies.
   */
  quantities: number;
  /** The GPU's step count at the end must be this (a step skipped by the guard does not count). */
  step?: number;
  /** Some params must end ±inf or NaN (f16 overflow past 65504, matched by the CPU). */
  nonFinite?: boolean;
}

/** Tensors at the sizes where the tails matter: 1, 3, 5 (less than a vec4 / a word pair), 63 (less than a
 * workgroup), 1023 and 1027 (odd counts around 1024, ending mid-word in f16), 65537 (many workgroups + 1). */
const SIZES = [1, 3, 5, 63, 1023, 1027, 65537];
const all = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v);

/** f16's special values: ±max, ±smallest subnormal, a tie between subnormals, ±0, the smallest normal... */
const F16_SPECIALS = [
  65504,
  -65504,
  2 ** -24,
  -(2 ** -24),
  3 * 2 ** -25,
  0,
  -0,
  1,
  60000,
  2 ** -14,
  1023 * 2 ** -24,
];

const F16 = 'f16 params and grads';
const SPECIALS = 'f16 special values on the GPU: overflow to ±inf, subnormals, signed zeros, NaN';
const BF16 = 'bf16 optimizer state';
const GUARD = 'guard, export / import and checkpoints in the packed modes';
const LARGE = 'a tensor larger than one binding in a packed mode';

/** Every lower-precision parity case (seeds are distinct: each case draws its own data). */
export const LOWP_CASES: readonly LowpCase[] = [
  {
    group: F16,
    name: 'f16 params with f32 master weights (default), each tensor in its own buffers',
    label: 'f16 master',
    cfg: { seed: 1, sizes: SIZES, dtypes: all(SIZES.length, 'f16'), steps: 8, options: { lr: 1e-2 } },
    quantities: 4,
  },
  {
    group: F16,
    name: 'f16 params without master weights (adabelief-pytorch 0.2.1 on half params), rectify off, decay',
    label: 'f16 no master',
    cfg: {
      seed: 2,
      sizes: SIZES,
      dtypes: all(SIZES.length, 'f16'),
      steps: 8,
      masterWeights: false,
      options: { lr: 1e-2, rectify: false, weightDecay: 1e-2 },
    },
    quantities: 3,
  },
  {
    group: F16,
    name: 'shared buffers with gaps, f16 and f32 tensors mixed, AMSGrad, odd counts ending mid-word',
    label: 'mixed shared amsgrad',
    cfg: {
      seed: 3,
      sizes: [5, 1027, 3, 1, 64, 7],
      dtypes: ['f16', 'f32', 'f16', 'f16', 'f32', 'f16'],
      gaps: [0, 1, 0, 2, 0, 0],
      shared: true,
      steps: 7,
      options: { amsgrad: true, lr: 3e-3 },
    },
    quantities: 5,
  },
  {
    group: SPECIALS,
    name: "SGD steps past 65504 overflow to ±inf (then NaN) on both sides; the written f16 values match the CPU's",
    label: 'f16 specials',
    cfg: {
      seed: 11,
      optimizer: 'SGD',
      sizes: [F16_SPECIALS.length],
      dtypes: ['f16'],
      initial: F16_SPECIALS,
      steps: 4,
      masterWeights: false,
      gradScale: 30,
      options: { lr: 200 },
      expectNonFinite: true,
    },
    quantities: 2,
    nonFinite: true,
  },
  {
    group: SPECIALS,
    name: 'SGD steps of a few 2^-24 from subnormal and zero starting values: the results are f16 subnormals',
    label: 'f16 subnormals',
    cfg: {
      seed: 12,
      optimizer: 'SGD',
      sizes: [F16_SPECIALS.length],
      dtypes: ['f16'],
      initial: F16_SPECIALS.map((x) => (Math.abs(x) < 2 ** -13 ? x : 0)),
      steps: 4,
      masterWeights: false,
      gradScale: 1,
      options: { lr: 1e-7 },
    },
    quantities: 2,
  },
  {
    group: BF16,
    name: 'bf16 state, f32 params, every size (no tail dispatches), AMSGrad',
    label: 'bf16 state amsgrad',
    cfg: {
      seed: 4,
      sizes: SIZES,
      dtypes: all(SIZES.length, 'f32'),
      steps: 8,
      stateDtype: 'bf16',
      options: { amsgrad: true, rectify: false, lr: 1e-2 },
    },
    quantities: 4,
  },
  {
    group: BF16,
    name: 'bf16 state, f32 params, 1,000,003 elements (many workgroups, a partial last vector)',
    label: 'bf16 state 1,000,003',
    cfg: {
      seed: 15,
      sizes: [1_000_003],
      dtypes: ['f32'],
      steps: 3,
      stateDtype: 'bf16',
      options: { lr: 1e-2 },
    },
    quantities: 3,
  },
  {
    group: BF16,
    name: 'bf16 state, f16 params without master weights (the smallest mode: 4 B of state per element)',
    label: 'f16 no master + bf16 state',
    cfg: {
      seed: 14,
      sizes: SIZES,
      dtypes: all(SIZES.length, 'f16'),
      steps: 8,
      stateDtype: 'bf16',
      masterWeights: false,
      options: { lr: 1e-2 },
    },
    quantities: 3,
  },
  {
    group: BF16,
    name: 'bf16 state, f16 params with master weights, shared buffers, torch-optimizer semantics',
    label: 'f16 + bf16 state',
    cfg: {
      seed: 5,
      sizes: [1027, 3, 5, 1],
      dtypes: all(4, 'f16'),
      shared: true,
      gaps: [1, 0, 0, 1],
      steps: 8,
      stateDtype: 'bf16',
      options: { semantics: 'torch-optimizer', weightDecay: 1e-3, amsgrad: true },
    },
    quantities: 5,
  },
  {
    group: BF16,
    name: 'Adam on the packed kernel: bf16 state, f16 and f32 params',
    label: 'Adam bf16',
    cfg: {
      seed: 6,
      optimizer: 'Adam',
      sizes: [1027, 5],
      dtypes: ['f16', 'f32'],
      steps: 6,
      stateDtype: 'bf16',
      options: { lr: 1e-2 },
    },
    quantities: 4,
  },
  {
    group: BF16,
    name: 'SGD momentum on the packed kernel: bf16 state, f16 params',
    label: 'SGD bf16',
    cfg: {
      seed: 7,
      optimizer: 'SGD',
      sizes: [1027, 5],
      dtypes: all(2, 'f16'),
      steps: 6,
      stateDtype: 'bf16',
      options: { lr: 0.05, momentum: 0.9 },
    },
    quantities: 3,
  },
  {
    group: GUARD,
    name: 'guard in the packed modes: clipping by global norm, a step with inf in an f16 gradient skipped',
    label: 'guard',
    cfg: {
      seed: 8,
      sizes: [1027, 3, 65537],
      dtypes: ['f16', 'f16', 'f32'],
      steps: 6,
      stateDtype: 'bf16',
      maxGradNorm: 1,
      infAt: 3,
      options: { lr: 1e-2 },
    },
    quantities: 5,
    step: 5,
  },
  {
    group: GUARD,
    name: 'exportState → importState mid-run keeps master weights and bf16 state exactly',
    label: 'export/import',
    cfg: {
      seed: 9,
      sizes: [1027, 5],
      dtypes: all(2, 'f16'),
      steps: 8,
      splitAt: 4,
      stateDtype: 'bf16',
      options: { lr: 1e-2, amsgrad: true },
    },
    quantities: 5,
  },
  {
    group: GUARD,
    name: 'a safetensors checkpoint mid-run (master copies re-taken from the f16 params on both sides)',
    label: 'checkpoint',
    cfg: {
      seed: 10,
      sizes: [1027, 5],
      dtypes: all(2, 'f16'),
      steps: 8,
      splitAt: 4,
      viaCheckpoint: true,
      stateDtype: 'bf16',
      options: { lr: 1e-2 },
    },
    quantities: 4,
  },
  {
    group: LARGE,
    name: '2^25 + 3 f16 elements, bf16 state + master (8 B per element): 3 pieces, 3 windows, 2 state buffers',
    label: '2^25 + 3',
    cfg: {
      seed: 13,
      sizes: [2 ** 25 + 3],
      dtypes: ['f16'],
      steps: 2,
      stateDtype: 'bf16',
      gradScale: 0.1,
      options: { lr: 1e-2, rectify: false },
    },
    quantities: 4,
  },
];

/** A case with a tensor over 2^20 elements: gpu-check runs it only with `--large`; vitest gives it more time. */
export function isLargeLowp(c: LowpCase): boolean {
  return c.cfg.sizes.some((n) => n > 2 ** 20);
}

/**
 * The tolerance of every quantity a case compares, as test/gpu/scenarios/lowp.ts computes it (from
 * test/helpers/tolerance.ts: `paramTolerance`, `stateTolerance`, `bf16StateParamTerm`; and lowp.ts's
 * `storedTolerance`), with T = the case's steps and the reason for each term. ε = 2^-23; Δ = how far the CPU moved
 * the value the update runs on (the master copy where there is one), summed over the steps; `mean` is over the tensor.
 */
export function lowpToleranceLines(cfg: LowpConfig): string[] {
  const T = cfg.steps;
  const k = ULP_PER_STEP * T;
  const bf16 = cfg.stateDtype === 'bf16';
  const hasF16 = cfg.dtypes.includes('f16');
  const hasF32 = cfg.dtypes.includes('f32');
  const master = hasF16 && cfg.masterWeights !== false;
  const f32Param = `${T}·ulp_f32(p) + ${k}ε·(Δ + mean Δ)` + (bf16 ? ` + ${T}·3·2^-8·(Δ + mean Δ)` : '');
  const lines = [
    `tolerance, T = ${T} steps (test/helpers/tolerance.ts; ε = 2^-23, Δ = how far the CPU moved the element):`,
    `  f32 budget of a param: ${f32Param}  [${ULP_PER_STEP} ulp per step under WGSL's accuracy rules (fma ` +
      `contraction, sqrt, division), and each step's rounding of p may differ by one ulp]`,
  ];
  if (bf16)
    lines.push(
      `  ${T}·3·2^-8·(Δ + mean Δ): bf16 state [m and s may round to a neighbouring bf16 once per step (2^-7 ` +
        `relative, 2^-8 in D through the square root), so step t's update may differ by t·3·2^-8 of itself; ` +
        `summed over T steps ≤ T·3·2^-8·Δ: bf16StateParamTerm]`,
    );
  if (hasF32) lines.push(`  param (f32): the f32 budget`);
  if (hasF16)
    lines.push(
      `  param (f16): the f32 budget + ${T}·(ulp_f16(p) + 2^-10·mean |p|)  [when the GPU's and the CPU's f32 ` +
        `results differ, rounding to f16 may pick the neighbouring value each step, carried into later steps]`,
    );
  if (master)
    lines.push(`  master (f32): the f32 budget  [the master copy is the f32 value the update runs on]`);
  lines.push(
    bf16
      ? `  state (bf16): ${k}ε·(|x| + mean |x|) + ${T}·(ulp_bf16(x) + 2^-7·mean |x|)  [${ULP_PER_STEP} ulp per ` +
          `step in f32, then each step's rounding to bf16 may pick the neighbouring value]`
      : `  state (f32): ${k}ε·(|x| + mean |x|)  [${ULP_PER_STEP} ulp per step, carried across steps; the mean ` +
          `term covers a moment that cancels to near zero]`,
  );
  return lines;
}

/**
 * The pass rules of a case's result: at least `quantities` quantities compared, no NaN mismatch, every element
 * within its tolerance, no byte outside the tensors changed, the params moved, master copies finer than f16,
 * and the case's own conditions (`step`, `nonFinite`). Returns the lines to print and what failed (empty: passed).
 */
export function lowpVerdict(c: LowpCase, r: LowpResult): { lines: string[]; failures: string[] } {
  const lines: string[] = [];
  const failures: string[] = [];
  const names = Object.keys(r.report);
  if (names.length < c.quantities)
    failures.push(`${names.length} quantities compared (${names.join(', ')}), want >= ${c.quantities}`);
  for (const [q, s] of Object.entries(r.report)) {
    lines.push(
      `${q}: max |Δ| ${s.maxAbs.toExponential(2)} = ${s.maxUlp.toFixed(2)} ulp (${s.stored}), ` +
        `worst ${(s.worst * 100).toFixed(1)}% of tolerance after ${r.stepsCompared} steps`,
    );
    if (s.nanMismatch !== 0) failures.push(`${q}: ${s.nanMismatch} NaN mismatches`);
    if (s.invalid !== 0)
      failures.push(
        `${q}: ${s.invalid} elements no tolerance may pass (a non-finite value, a NaN tolerance)`,
      );
    // (Infinity arrives from the page as null, and null <= 1 holds: a number is required.)
    if (!(typeof s.worst === 'number' && s.worst <= 1))
      failures.push(`${q}: worst element at ${s.worst} × its tolerance`);
  }
  lines.push(
    `${r.bytesChanged} bytes outside the tensors changed; ${r.moved} param values moved, ${r.nonFinite} ` +
      `non-finite; ${r.masterFiner} master values finer than their f16 param; step count ${r.step}`,
  );
  if (r.bytesChanged !== 0) failures.push(`${r.bytesChanged} bytes outside the tensors changed`);
  if (!(r.moved > 0)) failures.push('the params did not move');
  if ('master' in r.report && !(r.masterFiner > 0))
    failures.push('master copies: none holds anything finer than its f16 param');
  if (c.step !== undefined && r.step !== c.step)
    failures.push(`step count ${r.step}, want ${c.step} (a step with a non-finite gradient is skipped)`);
  if (c.nonFinite && !(r.nonFinite > 0))
    failures.push('no param ended ±inf or NaN: values past 65504 must overflow on both sides');
  return { lines, failures };
}
