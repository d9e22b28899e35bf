/**
 * The guard passes in headless Chromium: loss scale (number and GPUBuffer), skipping a step on inf/NaN
 * anywhere among many tensors (nothing changes, the step count does not advance, the next clean step
 * proceeds), steps in flight with a skip among them, global-norm clipping against the CPU reference at sizes
 * up to 2^22, and GradScaler's torch.amp schedule. Node-side checks of the same pieces: test/unit/guard-cpu.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import type { GuardConfig, GuardResult } from './scenarios/guard.js';
import { expectWithin } from '../helpers/expect-report.js';

let session: BrowserSession;
const GUARD = '/test/gpu/scenarios/guard.ts';
const run = (cfg: GuardConfig) => session.call<GuardResult>(GUARD, 'guarded', cfg);

beforeAll(async () => {
  session = await openBrowser();
});
afterAll(async () => session?.close());

function expectNorms(label: string, r: GuardResult): void {
  for (const [t, s] of r.steps.entries()) {
    if (s.gpuSkipped || !Number.isFinite(s.cpuNorm)) continue;
    const rel = Math.abs(s.gpuNorm - s.cpuNorm) / s.cpuNorm;
    console.log(
      `${label} step ${t + 1}: GPU norm ${s.gpuNorm.toPrecision(8)}, f64 norm ${s.cpuNorm.toPrecision(8)}, rel error ${rel.toExponential(2)} (tolerance ${s.normTol.toExponential(2)})`,
    );
    expect(rel).toBeLessThanOrEqual(s.normTol);
  }
}

const SIZES = [1, 5, 1027, 65537, 3, 64];
/** What the guard scenarios compare: exactly these (AdaBelief without AMSGrad). */
const GUARDED_QUANTITIES = ['exp_avg', 'exp_avg_var', 'param'];

describe('skipping steps with non-finite gradients', () => {
  test.each([
    { label: 'inf in a tail element', inject: { tensor: 4, index: -1, value: 'inf' as const } },
    { label: 'NaN in a partial last vec4', inject: { tensor: 2, index: 1026, value: 'nan' as const } },
    {
      label: '-inf in the middle of the large tensor',
      inject: { tensor: 3, index: 40000, value: '-inf' as const },
    },
    { label: 'NaN in a size-1 tensor', inject: { tensor: 0, index: 0, value: 'nan' as const } },
  ])(
    'skipNonFinite: $label — whole step skipped, state untouched, next step normal',
    async ({ label, inject }) => {
      for (const shared of [false, true]) {
        const r = await run({
          seed: 3,
          sizes: SIZES,
          steps: 5,
          shared,
          options: { weightDecay: 0.01 },
          skipNonFinite: true,
          inject: { 3: [inject] },
        });
        const tag = `${label}${shared ? ' (shared buffers)' : ''}`;
        console.log(
          `${tag}: skipped per step GPU ${r.steps.map((s) => +s.gpuSkipped).join('')}, CPU ${r.steps.map((s) => +s.cpuSkipped).join('')}; step count GPU ${r.gpuStepCount}, CPU ${r.cpuStepCount}, exported ${r.exportedStep}`,
        );
        expect(r.steps.map((s) => s.gpuSkipped)).toEqual([false, false, true, false, false]);
        expect(r.steps.map((s) => s.cpuSkipped)).toEqual([false, false, true, false, false]);
        expect(r.steps[2]!.unchanged, 'params and state bit-identical across the skipped step').toBe(true);
        expect([r.gpuStepCount, r.exportedStep, r.cpuStepCount]).toEqual([4, 4, 4]);
        expectWithin(tag, r.report, GUARDED_QUANTITIES);
      }
    },
  );

  test('without skipNonFinite (clipping only), non-finite values propagate as in PyTorch', async () => {
    const r = await run({
      seed: 4,
      sizes: [7, 100],
      steps: 2,
      options: {},
      maxGradNorm: 1e9,
      inject: { 2: [{ tensor: 1, index: 50, value: 'nan' }] },
    });
    expect(r.steps.map((s) => s.gpuSkipped)).toEqual([false, false]);
    expect(r.gpuStepCount).toBe(2);
    expectWithin('propagate', r.report, GUARDED_QUANTITIES); // NaN exactly where the CPU reference has NaN
  });

  test('8 steps in flight (not awaited) with inf in steps 2 and 5: the GPU picks the right step records', async () => {
    const r = await run({
      seed: 5,
      sizes: [1027, 3, 65537],
      steps: 8,
      options: { rectify: true }, // the rectified rule changes phase at step 5/6: a wrong record would show
      gradScale: 256,
      inFlight: true,
      inject: { 2: [{ tensor: 0, index: 5, value: 'inf' }], 5: [{ tensor: 2, index: -1, value: 'nan' }] },
    });
    console.log(
      `in flight: step count GPU ${r.gpuStepCount}, exported ${r.exportedStep}, CPU ${r.cpuStepCount}`,
    );
    expect([r.gpuStepCount, r.exportedStep, r.cpuStepCount]).toEqual([6, 6, 6]);
    expectWithin('in flight', r.report, GUARDED_QUANTITIES);
  });
});

describe('loss scale', () => {
  test.each([
    { label: 'a number', scaleBuffer: false },
    { label: 'a GPUBuffer the caller writes', scaleBuffer: true },
  ])(
    'gradients divided by the scale ($label): same result as the unscaled CPU step',
    async ({ scaleBuffer }) => {
      const r = await run({ seed: 6, sizes: SIZES, steps: 4, options: {}, gradScale: 65536, scaleBuffer });
      expect(r.steps.every((s) => !s.gpuSkipped)).toBe(true);
      expectWithin(`scale ${scaleBuffer ? 'buffer' : 'number'}`, r.report, GUARDED_QUANTITIES);
      expectNorms('scale', r);
    },
  );

  test('GradScaler: backoff on inf, growth after growthInterval clean steps (torch.amp schedule)', async () => {
    const r = await session.call<{ scales: number[]; skipped: boolean[]; stepCount: number }>(
      GUARD,
      'scalerRun',
      {
        infAt: [2, 3],
        steps: 8,
        growthInterval: 3,
      },
    );
    console.log(`GradScaler: skipped ${r.skipped.map(Number).join('')}, scales ${r.scales.join(', ')}`);
    expect(r.skipped).toEqual([false, true, true, false, false, false, false, false]);
    expect(r.scales).toEqual([1024, 512, 256, 256, 256, 512, 512, 512]);
    expect(r.stepCount).toBe(6);
  });
});

describe('clipping by global norm', () => {
  test.each([
    { sizes: [1, 1000, 3], label: 'small' },
    { sizes: [2 ** 22 - 3, 5, 65537], label: 'up to 2^22' },
  ])(
    'GPU norm vs f64 norm and the clipped update vs the CPU reference ($label)',
    async ({ sizes, label }) => {
      const r = await run({
        seed: 8,
        sizes,
        steps: 3,
        options: { amsgrad: false },
        maxGradNorm: 0.5,
        gradMagnitude: 0.1,
      });
      expectNorms(`clip ${label}`, r);
      expect(
        r.steps.every((s) => s.gpuNorm > 0.5),
        'clipping was active',
      ).toBe(true);
      expectWithin(`clip ${label}`, r.report, GUARDED_QUANTITIES);
    },
  );

  test('clipping with a loss scale and a shared buffer', async () => {
    const r = await run({
      seed: 9,
      sizes: SIZES,
      shared: true,
      steps: 3,
      options: {},
      maxGradNorm: 0.1,
      gradScale: 1024,
    });
    expectNorms('clip+scale', r);
    expectWithin('clip+scale', r.report, GUARDED_QUANTITIES);
  });
});

describe('the guard as a module', () => {
  test('without guard options: no partials, no guard pass, no report; with them: all, same update', async () => {
    const r = await session.call<{
      unguardedLabels: string[];
      guardedLabels: string[];
      unguardedReport: string;
      guardedReport: string;
      sameParams: boolean;
    }>(GUARD, 'guardFootprint');
    console.log(`unguarded creates: ${r.unguardedLabels.join(', ')}`);
    console.log(`guarded creates: ${r.guardedLabels.join(', ')}`);
    const guardBuffers = (labels: string[]) => labels.filter((l) => /partials/.test(l));
    expect(guardBuffers(r.unguardedLabels)).toEqual([]);
    expect(guardBuffers(r.guardedLabels).length).toBe(1);
    expect(
      r.unguardedLabels.filter((l) => /steps$/.test(l)),
      'one step record',
    ).toHaveLength(1);
    expect(r.unguardedReport).toMatch(/lastStepReport: construct the optimizer with gradScale/);
    expect(JSON.parse(r.guardedReport)).toMatchObject({ applied: 1, skipped: false });
    expect(r.sameParams, 'a guarded step that clips nothing updates exactly as an unguarded one').toBe(true);
  });
});
