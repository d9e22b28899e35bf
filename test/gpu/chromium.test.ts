/**
 * GPU tests in headless Chromium (WebGPU through whatever adapter the browser has: SwiftShader here).
 * The scenarios run in the page (test/gpu/scenarios/*.ts); the assertions and the printed figures are here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AdaBeliefOptions } from '../../src/index.js';
import { openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import type { Rejection } from './scenarios/errors.js';
import type { AdapterSummary } from './scenarios/harness.js';
import type { ParityConfig, ParityResult, Report } from './scenarios/parity.js';
import type { BigRun, Run } from './scenarios/scale.js';
import { loadGolden } from '../helpers/golden.js';
import { expectWithin } from '../helpers/expect-report.js';

let session: BrowserSession;
const PARITY = '/test/gpu/scenarios/parity.ts';
const ERRORS = '/test/gpu/scenarios/errors.ts';
const SIZES = [1, 2, 3, 4, 5, 63, 64, 65, 1023, 1024, 65537, 1000003];

beforeAll(async () => {
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/gpu/scenarios/harness.ts', 'adapterSummary');
  console.log(
    `WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}` +
      (adapter.fallback ? ' (CPU fallback adapter)' : ''),
  );
});
afterAll(async () => session?.close());

const parity = (cfg: ParityConfig) => session.call<ParityResult>(PARITY, 'parity', cfg);

/** Every combination of the optimizer-wide switches, with seeded random hyperparameters. */
function combinations(): { label: string; options: Partial<AdaBeliefOptions> }[] {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const out = [];
  for (const semantics of ['adabelief-pytorch', 'torch-optimizer'] as const)
    for (const decay of ['none', 'decoupled', 'fixed', 'l2'] as const)
      for (const amsgrad of [false, true])
        for (const rectify of [false, true])
          for (const degeneratedToSgd of [true, false]) {
            const options: Partial<AdaBeliefOptions> = {
              semantics,
              amsgrad,
              rectify,
              degeneratedToSgd,
              lr: 10 ** (-4 + 3 * rand()),
              betas: [pick([0, 0.5, 0.9, 0.95]), pick([0.9, 0.99, 0.999])],
              eps: pick([1e-16, 1e-8, 1e-3]),
              weightDecay: decay === 'none' ? 0 : 10 ** (-3 + 2 * rand()),
              weightDecouple: decay !== 'l2',
              fixedDecay: decay === 'fixed',
            };
            out.push({
              label: `${semantics} decay=${decay} amsgrad=${amsgrad} rectify=${rectify} sgd=${degeneratedToSgd}`,
              options,
            });
          }
  return out;
}

describe('GPU kernel against the golden vectors and the CPU reference', () => {
  test('reproduces every golden case (params and every state buffer)', async () => {
    const cases = loadGolden();
    const results = await session.call<{ name: string; report: Report }[]>(PARITY, 'golden', cases);
    expect(results.map((r) => r.name)).toEqual(cases.map((c) => c.name));
    for (const r of results) expectWithin(`golden '${r.name}'`, r.report);
  });

  // Every combination at every size up to 65537 (tails, vec4 boundaries, several workgroups); the
  // 1,000,003-element tensor, most of a combination's time, in every 7th (10 of 64, which between them take
  // each value of each switch): the kernel's arithmetic per element does not depend on the tensor's size.
  test.each(combinations().map((c, i) => ({ ...c, i, big: i % 7 === 0 })))(
    'matches AdaBeliefCPU (f32), 7 steps: $label (1,000,003 elements too: $big)',
    async ({ options, i, big }) => {
      const sizes = big ? SIZES : SIZES.filter((n) => n < 1000003);
      const r = await parity({ seed: 1000 + i, sizes, steps: 7, options });
      expectWithin(`combo ${i}`, r.report);
    },
  );

  test('grid-stride loop: few workgroups, each looping over many vec4s', async () => {
    for (const maxWorkgroups of [1, 3]) {
      const r = await parity({ seed: 77, sizes: [65537, 4099], steps: 3, options: {}, maxWorkgroups });
      expectWithin(`maxWorkgroups=${maxWorkgroups}`, r.report);
    }
  });
});

describe('Adam, AdamW and SGD on the same kernel, against their CPU mirrors (f32)', () => {
  const cases: { optimizer: 'Adam' | 'AdamW' | 'SGD'; label: string; options: Record<string, unknown> }[] = [
    { optimizer: 'Adam', label: 'defaults', options: {} },
    {
      optimizer: 'Adam',
      label: 'L2 decay + amsgrad',
      options: { weightDecay: 0.01, amsgrad: true, lr: 1e-2 },
    },
    { optimizer: 'AdamW', label: 'defaults (decay 1e-2)', options: {} },
    {
      optimizer: 'AdamW',
      label: 'amsgrad, betas, eps',
      options: { amsgrad: true, betas: [0.8, 0.99], eps: 1e-4 },
    },
    { optimizer: 'SGD', label: 'plain', options: { lr: 0.1 } },
    {
      optimizer: 'SGD',
      label: 'momentum + dampening + decay',
      options: { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 1e-3 },
    },
    { optimizer: 'SGD', label: 'nesterov', options: { lr: 0.05, momentum: 0.9, nesterov: true } },
  ];
  test.each(cases)('$optimizer $label: params and every state buffer at every size, 6 steps', async (c) => {
    const r = await parity({ seed: 31, sizes: SIZES, steps: 6, optimizer: c.optimizer, options: c.options });
    expectWithin(`${c.optimizer} ${c.label}`, r.report, c.optimizer === 'SGD' ? 2 : 3);
  });

  test('SGD in a shared buffer with offsets, lr and momentum changed between steps', async () => {
    const r = await parity({
      seed: 32,
      sizes: [5, 1027, 3, 64],
      offsets: [0, 256, 0, 512],
      shared: true,
      steps: 6,
      optimizer: 'SGD',
      options: { lr: 0.01, momentum: 0.5 },
      changes: { 3: { lr: 0.02, momentum: 0.9 }, 5: { nesterov: true } },
    });
    expectWithin('SGD shared', r.report, 2);
    expect(r.neighboursChanged).toBe(0);
  });
});

describe('GPU optimizer API', () => {
  test('many parameters of mixed sizes at offsets inside larger buffers; neighbouring bytes untouched', async () => {
    const sizes = [1, 7, 64, 65, 1000, 4097, 3];
    const offsets = [256, 512, 0, 768, 256, 1024, 2560];
    const r = await parity({ seed: 5, sizes, offsets, steps: 6, options: { weightDecay: 0.01 } });
    expectWithin('offsets', r.report);
    console.log(`offsets: ${r.neighboursChanged} values outside the tensors changed`);
    expect(r.neighboursChanged).toBe(0);
  });

  test('tensors sharing one pair of buffers (one dispatch): partial vec4s, gaps, a tail at the end', async () => {
    const sizes = [5, 1, 64, 3, 1027, 2, 6, 4097, 7];
    const offsets = [0, 256, 0, 512, 0, 0, 256, 0, 0];
    const r = await parity({ seed: 6, sizes, offsets, shared: true, steps: 7, options: { amsgrad: true } });
    expectWithin('shared', r.report);
    console.log(`shared: ${r.neighboursChanged} values outside the tensors changed`);
    expect(r.neighboursChanged).toBe(0);
  });

  test('hyperparameters changed between steps (lr, betas, eps, decay, rectify, semantics) are picked up', async () => {
    const r = await parity({
      seed: 9,
      sizes: [1000, 33],
      steps: 8,
      options: { weightDecay: 0.01 },
      changes: {
        2: { lr: 5e-3 },
        3: { lr: 2e-2, betas: [0.8, 0.99] },
        4: { eps: 1e-6, weightDecouple: false },
        5: { rectify: false, fixedDecay: true, weightDecouple: true },
        6: { semantics: 'torch-optimizer', rectify: true },
        7: { degeneratedToSgd: false, lr: 1e-4 },
      },
    });
    expectWithin('changes', r.report);
  });

  test('per-parameter overrides of lr, betas, eps, weightDecay (param groups)', async () => {
    const r = await parity({
      seed: 11,
      sizes: [513, 100, 7, 2048],
      steps: 7,
      options: { weightDecay: 0.001, rectify: false },
      overrides: [{ lr: 0.05 }, { betas: [0.5, 0.9] }, { eps: 1e-3, weightDecay: 0.1 }, undefined],
    });
    expectWithin('overrides', r.report);
  });

  test.each([1, 3])(
    'encode(): %i steps recorded per caller encoder give the same result as step()',
    async (k) => {
      const r = await parity({
        seed: 13,
        sizes: [1025, 3],
        steps: 7,
        options: { amsgrad: true },
        stepsPerEncoder: k,
      });
      expectWithin(`encode x${k}`, r.report);
    },
  );

  test.each([false, true])(
    'exportState → importState (through a safetensors checkpoint: %s) into a new optimizer → continue equals an uninterrupted run',
    async (viaCheckpoint) => {
      for (const options of [{}, { amsgrad: true, semantics: 'torch-optimizer' as const }]) {
        const r = await session.call<{
          maxDiff: number;
          step: number;
          cpuMaxDiff: number;
          checkpointBytes: number;
        }>(PARITY, 'exportImport', {
          seed: 21,
          sizes: [1, 130, 4099],
          steps: 9,
          splitAt: 4,
          options,
          viaCheckpoint,
        });
        console.log(
          `export/import ${JSON.stringify(options)}${viaCheckpoint ? ` via a ${r.checkpointBytes}-byte checkpoint` : ''}: GPU max diff ${r.maxDiff}, CPU max diff ${r.cpuMaxDiff}`,
        );
        expect(r.checkpointBytes > 0).toBe(viaCheckpoint);
        expect(r.step).toBe(9);
        expect(r.maxDiff).toBe(0);
        expect(r.cpuMaxDiff).toBe(0);
      }
    },
  );
});

describe('bad input', () => {
  // [scenario, message pattern, thrown synchronously by the call itself]
  const cases: [string, RegExp, boolean][] = [
    [
      'size mismatch',
      /params\[0\]: size mismatch: param buffer .* has 32 bytes, grad buffer .* has 24/,
      true,
    ],
    [
      'grad buffer too small',
      /params\[0\]\.grad: 37 f32 elements at offset 0 need 148 bytes; buffer 'test-buffer' has 144/,
      true,
    ],
    ['param too small at offset', /params\[0\]\.param: 37 f32 elements at offset 256 need 404 bytes/, true],
    ['missing STORAGE usage', /params\[0\]\.param: buffer .* lacks GPUBufferUsage\.STORAGE/, true],
    ['misaligned offset', /params\[0\]\.param: offset 4 is not a non-negative multiple of 256 bytes/, true],
    ['grad is the param buffer', /params\[0\]: grad is in the same GPUBuffer as param/, true],
    ['overlapping params', /params\[\d\]\.param overlaps params\[\d\]\.param/, true],
    ['zero size', /params\[0\]: size must be a positive integer, got 0/, true],
    ['empty parameter list', /^AdaBelief: the parameter list is empty$/, true],
    [
      'parameter list not an array',
      /^AdaBelief: expected an array of parameter entries \(\{ param, grad, size \}\), got /,
      true,
    ],
    ['mapped buffer', /params\[0\]\.param: buffer 'mapped' is mapped; unmap it first/, true],
    ['invalid lr at construction', /^Invalid learning rate: -0\.1$/, true],
    ['invalid per-param eps', /^Invalid epsilon value: -1$/, true],
    ['unknown option', /Unknown AdaBelief option: 'learningRate'/, true],
    ['invalid lr setter', /^Invalid learning rate: nan$/, true],
    ['invalid beta1 setter', /^Invalid beta parameter at index 0: 1$/, true],
    ['invalid beta2 setter', /^Invalid beta parameter at index 1: -0\.5$/, true],
    ['invalid weight decay setter', /^Invalid weight_decay value: -0\.0001$/, true],
    ['invalid eps setter', /^Invalid epsilon value: -1e-08$/, true],
    ['amsgrad change', /amsgrad is fixed at construction/, true],
    [
      'importState wrong size',
      /importState: tensors\[0\]\.exp_avg has 38 elements, parameter 0 has 37/,
      false,
    ],
    [
      'importState missing max_exp_avg_var',
      /importState: the state has amsgrad=true, this optimizer has amsgrad=false \(fixed at construction\)/,
      false,
    ],
    ['buffer of another device', /params\[0\].*WebGPU validation error.*another GPUDevice/s, false],
    ['destroyed optimizer', /AdaBelief\.step: this optimizer was destroyed/, true],
    [
      'caller destroyed its param buffer',
      /step 1: WebGPU validation error: .*destroyed.*\|\| then: AdaBelief\.step: the optimizer is unusable after an earlier error/s,
      false,
    ],
    [
      'device lost',
      /AdaBelief\.step: .*the GPUDevice was lost \(destroyed\).*importState.*\|\| AdaBelief\.exportState: the GPUDevice was lost/s,
      false,
    ],
  ];

  test('every scenario is listed here', async () => {
    const names = await session.call<string[]>(ERRORS, 'scenarioNames');
    expect(names.sort()).toEqual(cases.map((c) => c[0]).sort());
  });

  test.each(cases)('%s: rejected with a clear message, nothing changed', async (name, pattern, sync) => {
    const r = await session.call<Rejection>(ERRORS, 'reject', name);
    console.log(`${name}: ${r.message}`);
    expect(r.message).toMatch(pattern);
    if (sync) expect(r.sync, 'thrown synchronously, before any GPU work').toBe(true);
    expect(r.unchanged, 'params and optimizer state unchanged').toBe(true);
  });

  test('a page without a WebGPU adapter fails loudly instead of passing', async () => {
    const message = await session.call<string>(ERRORS, 'withoutAdapter');
    expect(message).toMatch(/no WebGPU adapter/);
  });
});

describe('whole models and huge tensors', () => {
  const SCALE = '/test/gpu/scenarios/scale.ts';

  test('300 tensors (1 … 300000 elements, and 1, 3, 4, 255, 256, 257) in a ParamArena: 3 steps, every element', async () => {
    const sizes = await session.call<number[]>(
      SCALE,
      'modelSizes',
      42,
      300,
      300000,
      [1, 3, 4, 255, 256, 257],
    );
    expect(sizes.length).toBe(300);
    const r = await session.call<Run>(SCALE, 'arenaModel', { seed: 42, sizes, steps: 3 });
    console.log(
      `arena model: ${sizes.length} tensors, ${r.elements} elements, ${r.dispatches} dispatch(es) per step`,
    );
    expectWithin('arena model', r.report);
    expect(r.dispatches).toBeLessThanOrEqual(Math.ceil((r.elements * 4) / (128 * 2 ** 20)) + 1);
  });

  test('after the first step, 100 steps create no GPU object and submit once each', async () => {
    const r = await session.call<{ counts: Record<string, number>; submits: number }>(SCALE, 'createCalls', {
      sizes: [3, 64, 1000, 257, 5],
      steps: 100,
    });
    console.log(`create calls over 100 steps: ${JSON.stringify(r.counts)}, submits ${r.submits}`);
    for (const [method, n] of Object.entries(r.counts)) expect(n, method).toBe(0);
    expect(r.submits).toBe(100);
  });

  // The huge tensors: the GPU updates every element; the CPU reference checks params and every state buffer
  // (usual tolerances) on the elements scale.ts sampleRanges picks: every piece's first and last 4096, 4096 on
  // each side of every power of two and of the grid-stride pass boundaries, 512 random runs of 256. Every
  // element of the tensor must hold a positive exp_avg_var (each step adds eps): none was left out.
  const describeBig = (label: string, r: BigRun) =>
    console.log(
      `${label}: maxStorageBufferBindingSize ${r.maxBinding}, ${r.pieces} piece(s), ${r.tails} tail(s), ` +
        `${r.dispatches} dispatch(es); compared ${r.compared} of ${r.elements} elements in ${r.ranges} ranges; ` +
        `${r.unwritten} element(s) with exp_avg_var not > 0 (never updated)`,
    );

  test('default limits: a 40M-element tensor (160 MB > 128 MiB binding) is updated through several bindings, 2 steps', async () => {
    const size = 40_000_000;
    const r = await session.call<BigRun>(SCALE, 'bigTensor', { size, steps: 2, limits: 'default' });
    describeBig('40M tensor', r);
    expect(r.maxBinding).toBe(128 * 2 ** 20);
    expect(r.pieces).toBe(2);
    expect(r.tails).toBe(0);
    expect(r.dispatches).toBe(2);
    expect(r.lastIndex).toBe(size - 1);
    expect(r.unwritten, `first at ${r.firstUnwritten}`).toBe(0);
    expectWithin('40M tensor', r.report);
  });

  test('one tensor of 2^26 + 5 elements, 65535 workgroups (past the limit: grid-stride) and a tail', async () => {
    const size = 2 ** 26 + 5;
    const r = await session.call<BigRun>(SCALE, 'bigTensor', {
      size,
      steps: 1,
      limits: 'adapter',
      maxWorkgroups: 65535,
    });
    describeBig('2^26+5 tensor', r);
    expect(r.tails).toBe(1);
    expect(r.lastIndex).toBe(size - 1);
    expect(r.unwritten, `first at ${r.firstUnwritten}`).toBe(0);
    expectWithin('2^26+5 tensor', r.report);
  });
});
