/**
 * The TF.js adapter (adabelief-webgpu/tfjs) in headless Chromium: TF.js' webgpu backend on the browser's
 * adapter (SwiftShader here) and its cpu backend. The scenarios run in the page (test/gpu/scenarios/tfjs.ts);
 * the assertions and the printed figures are here.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TESTED_TFJS_RANGE } from '../../src/tfjs/versions.js';
import { openBrowser, REPO_ROOT, type BrowserSession } from '../../sessions/chromium.js';
import type {
  AmpConfig,
  AmpResult,
  JoinLeaveResult,
  MemoryResult,
  ParityConfig,
  ParityResult,
  ReadResult,
  Report,
  SaveLoadResult,
  Timing,
  VariantParityConfig,
  VariantParityResult,
  RegistryResult,
  LearningRateZeroResult,
} from './scenarios/tfjs.js';
import { ULP_PER_STEP } from '../helpers/tolerance.js';

const PAGE = '/test/gpu/scenarios/tfjs.ts';
const TFJS = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-cpu',
];
let session: BrowserSession;

beforeAll(async () => {
  session = await openBrowser('/sessions/index.html', false, { optimizeDeps: TFJS });
  const info = await session.call<{ tfjs: string; layers: string; adapter: string }>(PAGE, 'info');
  console.log(`TF.js ${info.tfjs} (layers ${info.layers}), webgpu backend on ${info.adapter}`);
});
afterAll(async () => session?.close());

function expectReport(label: string, report: Report, exact: boolean, least = 8): void {
  expect(Object.keys(report).length, `${label}: nothing compared`).toBeGreaterThanOrEqual(least);
  for (const [q, s] of Object.entries(report)) {
    console.log(
      `${label} ${q}: max |Δ| ${s.maxAbs.toExponential(2)}, max ${s.maxUlp.toFixed(1)} ulp` +
        (exact ? ' (tolerance 0: same f32 operations)' : `, ${(s.worst * 100).toFixed(1)}% of tolerance`),
    );
    expect(s.nanMismatch, `${label} ${q}: NaN mismatches`).toBe(0);
    expect(s.worst, `${label} ${q}: worst element ${s.worstIndex}`).toBeLessThanOrEqual(exact ? 0 : 1);
  }
}

const STEPS = 20;
const OPTION_SETS = [
  { label: 'defaults (rectify, decoupled decay)', options: {} },
  {
    label: 'amsgrad, L2 decay, rectify off, lr changed at step 11',
    options: { lr: 3e-3, amsgrad: true, weightDecay: 1e-2, weightDecouple: false, rectify: false },
    lrChange: { at: 11, lr: 1e-3 },
  },
];

describe('AdaBeliefOptimizer on the webgpu backend', () => {
  test.each(OPTION_SETS)(
    `dense 8→16→3, ${STEPS} steps, against AdaBeliefCPU on the same gradients: $label`,
    async ({ label, options, lrChange }) => {
      const cfg: ParityConfig = {
        backend: 'webgpu',
        seed: 11,
        steps: STEPS,
        options,
        ...(lrChange ? { lrChange } : {}),
      };
      const r = await session.call<ParityResult>(PAGE, 'parity', cfg);
      console.log(
        `${label}: tolerance ${ULP_PER_STEP} ulp/step × ${STEPS} steps (test/helpers/tolerance.ts); loss ${r.lossFirst.toFixed(4)} → ${r.lossLast.toFixed(4)}`,
      );
      expectReport('webgpu', r.report, false);
      expect(r.iterations).toBe(STEPS);
      expect(Object.values(r.stepCounts)).toEqual([STEPS, STEPS, STEPS, STEPS]);
      expect(r.lossLast).toBeLessThan(r.lossFirst);
      expect(r.leakedTensors, 'tensors created and not disposed across the steps').toBe(0);
    },
  );

  test('no tensors, TF.js GPU memory or optimizer buffers accumulate across 30 minimize() steps', async () => {
    const m = await session.call<MemoryResult>(PAGE, 'memory', 30);
    console.log(
      `memory over ${m.steps} steps: tensors ${m.tensorsBefore} → ${m.tensorsAfter}, TF.js GPU bytes in use ` +
        `${m.gpuBytesBefore} → ${m.gpuBytesAfter}, allocated ${m.allocatedBefore} → ${m.allocatedAfter}; ` +
        `buffers created: ${m.optimizerBuffersCreated} by the optimizer, ${m.buffersCreated} in all`,
    );
    expect(m.tensorsAfter).toBe(m.tensorsBefore);
    expect(m.gpuBytesAfter).toBe(m.gpuBytesBefore);
    expect(m.allocatedAfter).toBe(m.allocatedBefore);
    expect(m.optimizerBuffersCreated).toBe(0);
  });

  test('data(), dataSync() and ops read the updated values; the tensor a variable was made from keeps its own', async () => {
    const r = await session.call<ReadResult>(PAGE, 'readsAfterStep', 3);
    console.log(
      `reads after each step (CPU copy cached before it: ${r.cachedBefore}), max ulp vs AdaBeliefCPU: ` +
        `data ${r.data}, dataSync ${r.dataSync}, op ${r.op}; source tensor changed by ${r.sourceChange}`,
    );
    expect(r.cachedBefore).toEqual([true, true, true]);
    expect(r.changed).toEqual([true, true, true]);
    // One step on one tensor: within the GPU budget of 1 step (0 on SwiftShader, which rounds like the CPU).
    for (const u of [...r.data, ...r.dataSync, ...r.op]) expect(u).toBeLessThanOrEqual(1 + ULP_PER_STEP);
    expect(r.sourceChange).toBe(0);
  });

  test('model.save({ includeOptimizer }) → tf.loadLayersModel → fit equals uninterrupted training bit for bit', async () => {
    const r = await session.call<SaveLoadResult>(PAGE, 'saveLoadContinue');
    console.log(
      `save/load: ${r.optimizerClass} ${JSON.stringify(r.config)}; optimizer weights ${r.optimizerWeightNames.join(', ')}; ` +
        `variables renamed ${r.variableNamesBefore.join(', ')} → ${r.variableNamesAfter.join(', ')}; ` +
        `max |Δ| weights ${r.weightsMaxAbs}, state ${r.stateMaxAbs}; loss ${r.lossResumed} vs ${r.lossUninterrupted}`,
    );
    expect(r.optimizerClass).toBe('AdaBeliefOptimizer');
    expect(r.config).toMatchObject({ learningRate: 1e-2, weightDecay: 1e-3, amsgrad: true });
    expect(r.optimizerWeightNames[0]).toBe('iter');
    expect(r.optimizerWeightNames).toHaveLength(1 + 4 * 4);
    expect(r.weightsMaxAbs).toBe(0);
    expect(r.stateMaxAbs).toBe(0);
    expect(r.lossResumed).toBe(r.lossUninterrupted);
  });

  test('model.fit with a callback setting model.optimizer.learningRate = 0 after epoch 3: the weights stop, as with tf.train.adam', async () => {
    const r = await session.call<Record<string, LearningRateZeroResult>>(PAGE, 'learningRateZero');
    for (const [name, { lrSeen, moved }] of Object.entries(r)) {
      console.log(
        `webgpu ${name}: learningRate at each epoch end ${lrSeen.join(', ')}; max |Δw| per epoch ${moved.join(', ')}`,
      );
      expect(lrSeen).toEqual([0.05, 0.05, 0.05, 0, 0, 0]);
      expect(moved[1]).toBeGreaterThan(0);
      expect(moved[2]).toBeGreaterThan(0);
      expect(moved.slice(3), `${name}: epochs 4-6 at learning rate 0`).toEqual([0, 0, 0]);
    }
    expect(Object.keys(r)).toEqual(['tf.train.adam', 'AdaBeliefOptimizer', 'AdamOptimizer']);
  });

  test('model.compile({ optimizer, loss }) + model.fit: the loss decreases', async () => {
    const losses = await session.call<number[]>(PAGE, 'compileFit', 20);
    console.log(`model.fit losses: ${losses.map((l) => l.toFixed(4)).join(' ')}`);
    expect(losses).toHaveLength(20);
    // Full-batch training on fixed data: every epoch lowers the loss, by 10% over the 20.
    losses.slice(1).forEach((l, i) => expect(l, `epoch ${i + 2}`).toBeLessThan(losses[i]!));
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
  });

  test('step time: model.fit and applyGradients against tf.train.adam / tf.train.sgd (same page, same device)', async () => {
    const t = await session.call<Timing>(PAGE, 'timing', 4, 3);
    for (const [name, ms] of Object.entries(t.fitMs)) {
      console.log(
        `timing (${t.parameters} parameters in ${t.variables} variables, batch 64, median of 3 × 4 steps): ${name}: ` +
          `model.fit ${ms.toFixed(1)} ms/batch; applyGradients ${t.applyMs[name]!.toFixed(2)} ms/step, ` +
          `of which ${t.hostMs[name]!.toFixed(3)} ms in JavaScript`,
      );
    }
    expect(Object.keys(t.fitMs)).toHaveLength(3);
  });
});

describe('AdamOptimizer, AdamWOptimizer, SGDOptimizer: the same adapter over the Adam / AdamW / SGD kernels', () => {
  const CASES: (Omit<VariantParityConfig, 'backend' | 'seed' | 'steps'> & {
    label: string;
    suffixes: string[];
    className: string;
  })[] = [
    {
      label: 'AdamOptimizer, amsgrad + L2 decay, lr changed at step 11',
      variant: 'adam',
      options: { lr: 3e-3, amsgrad: true, weightDecay: 1e-2 },
      lrChange: { at: 11, lr: 1e-3 },
      suffixes: ['m', 'v', 'vmax', 'step'],
      className: 'FusedAdamOptimizer',
    },
    {
      label: 'AdamWOptimizer, decoupled decay 1e-2 (default)',
      variant: 'adamw',
      options: { lr: 3e-3 },
      suffixes: ['m', 'v', 'step'],
      className: 'FusedAdamWOptimizer',
    },
    {
      label: 'SGDOptimizer, Nesterov momentum 0.9 + L2 decay, lr changed at step 11',
      variant: 'sgd',
      options: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 },
      lrChange: { at: 11, lr: 0.02 },
      suffixes: ['momentum', 'step'],
      className: 'FusedSGDOptimizer',
    },
  ];

  test.each(CASES)(
    `webgpu, dense 8→16→3, ${STEPS} steps, against its CPU mirror on the same gradients: $label`,
    async ({ label, suffixes, className, ...c }) => {
      const r = await session.call<VariantParityResult>(PAGE, 'variantParity', {
        ...c,
        backend: 'webgpu',
        seed: 13,
        steps: STEPS,
      } satisfies VariantParityConfig);
      console.log(
        `${label}: tolerance ${ULP_PER_STEP} ulp/step × ${STEPS} steps (test/helpers/tolerance.ts); loss ${r.lossFirst.toFixed(4)} → ${r.lossLast.toFixed(4)}; ` +
          `class '${r.className}', weights per variable: ${r.stateSuffixes.join(', ')}`,
      );
      expectReport(`webgpu ${c.variant}`, r.report, false);
      expect(r.className).toBe(className);
      expect(r.stateSuffixes).toEqual(suffixes);
      expect(r.iterations).toBe(STEPS);
      expect(Object.values(r.stepCounts)).toEqual([STEPS, STEPS, STEPS, STEPS]);
      expect(r.lossLast).toBeLessThan(r.lossFirst);
      expect(r.leakedTensors, 'tensors created and not disposed across the steps').toBe(0);
    },
  );

  test.each(['adam', 'adamw', 'sgd'] as const)(
    `cpu backend, dense 8→16→3, ${STEPS} steps: %s equals its CPU mirror exactly`,
    async (variant) => {
      const options = variant === 'sgd' ? { lr: 0.05, momentum: 0.9, dampening: 0.1 } : { lr: 3e-3 };
      const r = await session.call<VariantParityResult>(PAGE, 'variantParity', {
        variant,
        backend: 'cpu',
        seed: 14,
        steps: STEPS,
        options,
      } satisfies VariantParityConfig);
      expectReport(`cpu ${variant}`, r.report, true);
      expect(r.iterations).toBe(STEPS);
      expect(r.leakedTensors).toBe(0);
    },
  );

  test("serialization names leave TF.js' own Adam / SGD / Momentum in place; getConfig → fromConfig; messages", async () => {
    const r = await session.call<RegistryResult>(PAGE, 'variantRegistry');
    console.log(`registered: ${JSON.stringify(r.registered)}`);
    console.log(`configs: ${JSON.stringify(r.configs)}`);
    console.log(r.errors);
    expect(r.registered).toEqual({
      Adam: 'AdamOptimizer',
      SGD: 'SGDOptimizer',
      Momentum: 'MomentumOptimizer',
      FusedAdamOptimizer: 'AdamOptimizer',
      FusedAdamWOptimizer: 'AdamWOptimizer',
      FusedSGDOptimizer: 'SGDOptimizer',
    });
    for (const { config, rebuilt } of Object.values(r.configs)) expect(rebuilt).toEqual(config);
    // TF.js' config keys (tf.train.adam's learningRate, beta1, beta2, epsilon; tf.train.momentum's useNesterov).
    expect(r.configs.FusedAdamOptimizer!.config).toEqual({
      learningRate: 2e-3,
      beta1: 0.8,
      beta2: 0.99,
      epsilon: 1e-8,
      weightDecay: 1e-4,
      amsgrad: true,
    });
    expect(r.configs.FusedSGDOptimizer!.config).toEqual({
      learningRate: 0.1,
      momentum: 0.9,
      dampening: 0,
      weightDecay: 1e-4,
      useNesterov: true,
    });
    expect(r.errors.adamLr).toBe('Invalid learning rate: -1');
    expect(r.errors.adamwBeta).toBe('Invalid beta parameter at index 0: 1');
    expect(r.errors.adamUnknown).toContain("Unknown Adam option: 'momentum'");
    expect(r.errors.adamAmsgrad).toContain("'amsgrad' is fixed at construction");
    expect(r.errors.sgdMomentum).toBe('Invalid momentum value: -1');
    expect(r.errors.sgdNesterov).toMatch(/^Nesterov momentum requires a momentum and zero dampening/);
  });
});

describe('AdaBeliefOptimizer on the cpu backend (CPU reference through dataSync and assign)', () => {
  test(`dense 8→16→3, ${STEPS} steps: equals AdaBeliefCPU exactly`, async () => {
    const r = await session.call<ParityResult>(PAGE, 'parity', {
      backend: 'cpu',
      seed: 12,
      steps: STEPS,
      options: { amsgrad: true, weightDecay: 1e-2 },
    } satisfies ParityConfig);
    expectReport('cpu', r.report, true);
    expect(r.iterations).toBe(STEPS);
    expect(r.leakedTensors).toBe(0);
  });
});

/** Checks the join/leave scenario (see scenarios/tfjs.ts joinLeave). */
function expectJoinLeave(backend: string, r: JoinLeaveResult): void {
  console.log(
    `${backend}: join/leave: step count ${r.stepCount}, weights ${r.weightNames.join(', ')}; ` +
      `optimizer buffers alive after step 1 ${r.aliveAfterFirst}, at most ${r.aliveMax}, at the end ${r.aliveAtEnd}`,
  );
  expectReport(`${backend} join/leave`, r.report, backend !== 'webgpu', 6);
  expect(r.bUnchanged, 'b untouched in the call without its gradient').toBe(true);
  expect(r.stepCount).toBe(5);
  expect(r.iterations).toBe(5);
  expect(Object.values(r.stepCounts)).toEqual([5, 5]);
  // a was disposed: it left (no state of it); b and c remain, the count optimizer-wide.
  expect(r.weightNames.some((n) => n.startsWith('jl-a-'))).toBe(false);
  expect(r.weightNames.filter((n) => n.endsWith('/step'))).toHaveLength(2);
}

describe('one optimizer over all variables of a step: variables join, miss a gradient, leave', () => {
  test('webgpu: state moves between GPU optimizers on the GPU (copyStateFrom); the old ones are destroyed', async () => {
    const r = await session.call<JoinLeaveResult>(PAGE, 'joinLeave', 'webgpu');
    expectJoinLeave('webgpu', r);
    // After step 1 one optimizer; while b is absent two (b's state stays in the first); at step 3 a third
    // (b, c) is built before the first is destroyed (after the submit that copies from it); at the end one again.
    expect(r.aliveAfterFirst).toBeGreaterThan(0);
    expect(r.aliveMax).toBe(3 * r.aliveAfterFirst);
    expect(r.aliveAtEnd).toBe(r.aliveAfterFirst);
  });

  test('cpu backend: the same, exactly', async () => {
    expectJoinLeave('cpu', await session.call<JoinLeaveResult>(PAGE, 'joinLeave', 'cpu'));
  });
});

describe('issue 23 loop: GradScaler (×128, an inf at step 6), maxGradNorm 1 over all variables, no-decay group, warm-up + cosine', () => {
  const STEPS_AMP = 12;
  const INJECT = 6;
  test.each(['webgpu', 'cpu'] as const)(
    `%s: dense → layerNormalization → dense, ${STEPS_AMP} steps of AdamWOptimizer vs AdamWCPU and torch's recipe in f64`,
    async (backend) => {
      const r = await session.call<AmpResult>(PAGE, 'ampLoop', {
        backend,
        steps: STEPS_AMP,
        inject: INJECT,
      } satisfies AmpConfig);
      const normBound = r.elements * 2 ** -24;
      console.log(
        `${backend}: ${r.variables.map((v) => `${v.name} [${v.shape}]${v.noDecay ? ' (no decay)' : ''}`).join(', ')}; ` +
          `${r.elements} elements; norm tolerance n·2^-24 = ${normBound.toExponential(2)} relative`,
      );
      const f = (x: number | null) => (x === null ? 'non-finite' : x.toFixed(6));
      r.steps.forEach((s, i) =>
        console.log(
          `${backend} step ${i + 1}: scale ${s.scale}, lr ${s.lr.toExponential(3)}, skipped ${s.skipped}, ` +
            `norm ${f(s.gradNorm)} (CPU ${f(s.cpuNorm)}, f64 ${f(s.f64Norm)}), clip ${f(s.clipCoef)}, applied ${s.applied}`,
        ),
      );
      expectReport(`${backend} vs AdamWCPU`, r.cpuReport, backend !== 'webgpu');
      expectReport(`${backend} vs torch's recipe (f64)`, r.f64Report, false, 6);
      r.steps.forEach((s, i) => {
        const t = i + 1;
        expect(s.skipped, `step ${t} skipped`).toBe(t === INJECT);
        expect(s.cpuSkipped).toBe(s.skipped);
        expect(s.f64Skipped).toBe(s.skipped);
        // GradScaler: 128 until the skip, halved after it.
        expect(s.scale).toBe(t <= INJECT ? 128 : 64);
        expect(s.applied).toBe(t < INJECT ? t : t - 1);
        if (!s.skipped) {
          expect(Math.abs(s.gradNorm - s.f64Norm) / s.f64Norm).toBeLessThanOrEqual(normBound);
          expect(s.clipCoef).toBeCloseTo(Math.min(1, 1 / (s.f64Norm + 1e-6)), 5);
        }
      });
      // Clipping must have acted on some steps for the test to say anything about it.
      expect(r.steps.some((s) => !s.skipped && s.clipCoef < 1)).toBe(true);
      expect(r.stepCount).toBe(STEPS_AMP - 1);
      expect(r.leakedTensors).toBe(0);
    },
  );
});

test('bad input and a backend switch give clear errors', async () => {
  const m = await session.call<Record<string, string>>(PAGE, 'errors');
  console.log(m);
  expect(m.lr).toBe('Invalid learning rate: -1');
  expect(m.beta).toBe('Invalid beta parameter at index 1: 1');
  expect(m.unknownOption).toContain("Unknown AdaBelief option: 'foo'");
  expect(m.amsgrad).toContain("'amsgrad' is fixed at construction");
  expect(m.int32).toContain("variable 'errors-int' has dtype int32");
  expect(m.unknownVariable).toContain("no variable named 'no-such-variable'");
  expect(m.shape).toContain("the gradient of 'errors-float' has 2 elements");
  expect(m.backendSwitch).toContain('the backend changed');
  // As on the cpu backend (test/unit/tfjs-learning-rate.test.ts): refused, nothing stepped.
  expect(m.duplicate).toBe(
    "AdaBeliefOptimizer.applyGradients: variable 'errors-twice' is listed twice (entries 0 and 1); give each variable one gradient per call (sum them first)",
  );
  expect(JSON.parse(m.duplicateAfter!)).toEqual({ values: [1, 2, 3], iterations: 0, stepCounts: {} });
  expect(m.internals).toContain("the 'webgpu' backend lacks submitQueue");
  expect(m.internals).toContain('@tensorflow/tfjs-backend-webgpu >=4.22.0 <4.23.0');
});

test('the TF.js range the adapter pins is the installed one and the peer dependency range', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
  expect(pkg.peerDependencies['@tensorflow/tfjs-core']).toBe(TESTED_TFJS_RANGE);
  expect(pkg.peerDependencies['@tensorflow/tfjs-backend-webgpu']).toBe(TESTED_TFJS_RANGE);
  expect(pkg.peerDependenciesMeta['@tensorflow/tfjs-backend-webgpu']).toEqual({ optional: true });
  expect(pkg.exports['./tfjs']).toEqual({ types: './dist/types/tfjs/index.d.ts', import: './dist/tfjs.js' });
  for (const name of ['tfjs-core', 'tfjs-backend-webgpu']) {
    const installed = JSON.parse(
      readFileSync(join(REPO_ROOT, 'node_modules/@tensorflow', name, 'package.json'), 'utf8'),
    ).version;
    console.log(`@tensorflow/${name} installed: ${installed}, pinned: ${TESTED_TFJS_RANGE}`);
    expect(installed).toMatch(/^4\.22\.\d+$/);
  }
});

test('library build: dist/tfjs.js imports the core from ./internal.js and TF.js as a peer, bundling neither', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'adabelief-tfjs-build-'));
  await build({ root: REPO_ROOT, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  const code = readFileSync(join(outDir, 'tfjs.js'), 'utf8');
  const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  console.log(`dist/tfjs.js: ${code.length} bytes, imports ${imports.join(', ')}`);
  expect(imports.sort()).toEqual(['./internal.js', '@tensorflow/tfjs-core']);
  expect(code).not.toContain('fn adabelief(');
  // The shader text lives once, in the chunk the library's entries (index.js, internal.js) share.
  const internal = readFileSync(join(outDir, 'internal.js'), 'utf8');
  const chunks = [...internal.matchAll(/from "\.\/([^"]+)"/g)].map((m) =>
    readFileSync(join(outDir, m[1]!), 'utf8'),
  );
  expect(chunks.some((c) => c.includes('fn adabelief('))).toBe(true);
});
