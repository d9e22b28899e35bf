/**
 * GPU tests of the lower-precision modes in headless Chromium: f16 params / grads (with and without f32
 * master weights) and bf16 state, against the CPU mirror (ReferenceCPU with the same options), at sizes
 * 1, 3, 5, 1027, 65537, in separate and shared buffers, with AMSGrad, the guard, export / import and
 * checkpoints. Every byte of the param buffers outside the tensors is checked unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import type { AdapterSummary } from './scenarios/harness.js';
import type { LowpConfig, LowpResult } from './scenarios/lowp.js';

let session: BrowserSession;
const LOWP = '/test/gpu/scenarios/lowp.ts';
const SIZES = [1, 3, 5, 1027, 65537];

beforeAll(async () => {
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/gpu/scenarios/harness.ts', 'adapterSummary');
  console.log(`WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}`);
});
afterAll(async () => session?.close());

const run = (cfg: LowpConfig) => session.call<LowpResult>(LOWP, 'lowpParity', cfg);

/** Prints every quantity's error (ulps of its stored precision, share of its tolerance) and checks it. */
function expectWithin(label: string, r: LowpResult, quantities: number): void {
  expect(Object.keys(r.report).length, `${label}: quantities compared`).toBeGreaterThanOrEqual(quantities);
  for (const [q, s] of Object.entries(r.report)) {
    console.log(
      `${label} ${q}: max |Δ| ${s.maxAbs.toExponential(2)} = ${s.maxUlp.toFixed(2)} ulp (${s.stored}), ` +
        `worst ${(s.worst * 100).toFixed(1)}% of tolerance after ${r.stepsCompared} steps`,
    );
    expect(s.nanMismatch, `${label} ${q}: NaN mismatches`).toBe(0);
    expect(s.worst, `${label} ${q}`).toBeLessThanOrEqual(1);
  }
  console.log(
    `${label}: ${r.bytesChanged} bytes outside the tensors changed; ${r.moved} param values moved, ${r.nonFinite} non-finite; ` +
      `${r.masterFiner} master values finer than their f16 param`,
  );
  expect(r.bytesChanged, `${label}: bytes outside the tensors changed`).toBe(0);
  expect(r.moved, `${label}: the params did not move`).toBeGreaterThan(0);
  if ('master' in r.report) expect(r.masterFiner, `${label}: master copies`).toBeGreaterThan(0);
}

const f16 = SIZES.map(() => 'f16' as const);
const f32 = SIZES.map(() => 'f32' as const);

describe('f16 params and grads', () => {
  test('with f32 master weights (default), each tensor in its own buffers', async () => {
    const r = await run({ seed: 1, sizes: SIZES, dtypes: f16, steps: 8, options: { lr: 1e-2 } });
    expectWithin('f16 master', r, 4);
  });

  test('without master weights (adabelief-pytorch 0.2.1 on half params), rectify off, decay', async () => {
    const r = await run({
      seed: 2,
      sizes: SIZES,
      dtypes: f16,
      steps: 8,
      masterWeights: false,
      options: { lr: 1e-2, rectify: false, weightDecay: 1e-2 },
    });
    expectWithin('f16 no master', r, 3);
  });

  test('shared buffers with gaps, f16 and f32 tensors mixed, AMSGrad, odd counts ending mid-word', async () => {
    const r = await run({
      seed: 3,
      sizes: [5, 1027, 3, 1, 64, 7],
      dtypes: ['f16', 'f32', 'f16', 'f16', 'f32', 'f16'],
      gaps: [0, 1, 0, 2, 0, 0],
      shared: true,
      steps: 7,
      options: { amsgrad: true, lr: 3e-3 },
    });
    expectWithin('mixed shared amsgrad', r, 5);
  });
});

describe('f16 special values on the GPU: overflow to ±inf, subnormals, signed zeros, NaN', () => {
  test('rounding of the written params matches the CPU bit for bit', async () => {
    const initial = [
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
    const r = await run({
      seed: 11,
      optimizer: 'SGD',
      sizes: [initial.length],
      dtypes: ['f16'],
      initial,
      steps: 4,
      masterWeights: false,
      gradScale: 30,
      options: { lr: 200 },
    });
    expectWithin('f16 specials', r, 2);
    expect(r.nonFinite, 'values past 65504 overflow to ±inf (then NaN) on both sides').toBeGreaterThan(0);
    // Steps of a few 2^-24 from subnormal and zero starting values: the results are f16 subnormals.
    const tiny = await run({
      seed: 12,
      optimizer: 'SGD',
      sizes: [initial.length],
      dtypes: ['f16'],
      initial: initial.map((x) => (Math.abs(x) < 2 ** -13 ? x : 0)),
      steps: 4,
      masterWeights: false,
      gradScale: 1,
      options: { lr: 1e-7 },
    });
    expectWithin('f16 subnormals', tiny, 2);
  });
});

describe('bf16 optimizer state', () => {
  test('f32 params, every size (no tail dispatches), AMSGrad', async () => {
    const r = await run({
      seed: 4,
      sizes: SIZES,
      dtypes: f32,
      steps: 8,
      stateDtype: 'bf16',
      options: { amsgrad: true, rectify: false, lr: 1e-2 },
    });
    expectWithin('bf16 state amsgrad', r, 4);
  });

  test('f16 params with master weights and bf16 state, shared buffers, torch-optimizer semantics', async () => {
    const r = await run({
      seed: 5,
      sizes: [1027, 3, 5, 1],
      dtypes: ['f16', 'f16', 'f16', 'f16'],
      shared: true,
      gaps: [1, 0, 0, 1],
      steps: 8,
      stateDtype: 'bf16',
      options: { semantics: 'torch-optimizer', weightDecay: 1e-3, amsgrad: true },
    });
    expectWithin('f16 + bf16 state', r, 5);
  });

  test('Adam and SGD on the packed kernel (bf16 state, f16 params)', async () => {
    const adam = await run({
      seed: 6,
      optimizer: 'Adam',
      sizes: [1027, 5],
      dtypes: ['f16', 'f32'],
      steps: 6,
      stateDtype: 'bf16',
      options: { lr: 1e-2 },
    });
    expectWithin('Adam bf16', adam, 4);
    const sgd = await run({
      seed: 7,
      optimizer: 'SGD',
      sizes: [1027, 5],
      dtypes: ['f16', 'f16'],
      steps: 6,
      stateDtype: 'bf16',
      options: { lr: 0.05, momentum: 0.9 },
    });
    expectWithin('SGD bf16', sgd, 3);
  });
});

describe('guard, export / import and checkpoints in the packed modes', () => {
  test('clipping by global norm and a skipped step (inf in an f16 gradient)', async () => {
    const r = await run({
      seed: 8,
      sizes: [1027, 3, 65537],
      dtypes: ['f16', 'f16', 'f32'],
      steps: 6,
      stateDtype: 'bf16',
      maxGradNorm: 1,
      infAt: 3,
      options: { lr: 1e-2 },
    });
    expectWithin('guard', r, 5);
    expect(r.step, 'the step with an inf gradient is skipped').toBe(5);
  });

  test('exportState → importState mid-run keeps master weights and bf16 state exactly', async () => {
    const r = await run({
      seed: 9,
      sizes: [1027, 5],
      dtypes: ['f16', 'f16'],
      steps: 8,
      splitAt: 4,
      stateDtype: 'bf16',
      options: { lr: 1e-2, amsgrad: true },
    });
    expectWithin('export/import', r, 5);
  });

  test('a safetensors checkpoint mid-run (master copies re-taken from the f16 params on both sides)', async () => {
    const r = await run({
      seed: 10,
      sizes: [1027, 5],
      dtypes: ['f16', 'f16'],
      steps: 8,
      splitAt: 4,
      viaCheckpoint: true,
      stateDtype: 'bf16',
      options: { lr: 1e-2 },
    });
    expectWithin('checkpoint', r, 4);
  });
});

describe('a tensor larger than one binding in a packed mode', () => {
  test('2^25 + 3 f16 elements, bf16 state + master (8 B per element): 3 pieces, 3 windows, 2 state buffers', async () => {
    const r = await run({
      seed: 13,
      sizes: [2 ** 25 + 3],
      dtypes: ['f16'],
      steps: 2,
      stateDtype: 'bf16',
      gradScale: 0.1,
      options: { lr: 1e-2, rectify: false },
    });
    expectWithin('2^25 + 3', r, 4);
  }, 180_000);
});

describe('bytes of optimizer state per parameter', () => {
  test('allocated buffers match the table in docs/drafts/lowp.md', async () => {
    const n = 1 << 16;
    const cases: [string, 'f32' | 'f16', Record<string, unknown>, number][] = [
      ['f32 params, f32 state', 'f32', {}, 8],
      ['f32 params, f32 state, AMSGrad', 'f32', { amsgrad: true }, 12],
      ['f32 params, bf16 state', 'f32', { stateDtype: 'bf16' }, 4],
      ['f32 params, bf16 state, AMSGrad', 'f32', { stateDtype: 'bf16', amsgrad: true }, 6],
      ['f16 params + master, f32 state', 'f16', {}, 12],
      ['f16 params + master, bf16 state', 'f16', { stateDtype: 'bf16' }, 8],
      ['f16 params, no master, f32 state', 'f16', { masterWeights: false }, 8],
      ['f16 params, no master, bf16 state', 'f16', { masterWeights: false, stateDtype: 'bf16' }, 4],
    ];
    for (const [label, dtype, options, perElement] of cases) {
      const bytes = await session.call<number>(LOWP, 'stateBytes', { size: n, dtype, options });
      console.log(`${label}: ${bytes / n} B of state per parameter`);
      expect(bytes / n, label).toBe(perElement);
    }
  });
});

describe("the kernel's conversions, on the GPU, against their CPU mirrors", () => {
  test('f16 → f32 for every f16; f32 → f16 and f32 → bf16 (round to nearest even) around every rounding point', async () => {
    const r = await session.call<import('./scenarios/conversions.js').ConversionsResult>(
      '/test/gpu/scenarios/conversions.ts',
      'conversions',
    );
    for (const k of ['f16Value', 'f16Bits', 'bf16Bits'] as const) {
      console.log(
        `${k}: ${r[k].mismatches} of ${r.inputs} differ from the CPU mirror ${r[k].first.join('; ')}`,
      );
      expect(r[k].mismatches, `${k}: ${r[k].first.join('; ')}`).toBe(0);
    }
  });
});
