/**
 * GPU tests in headless Chromium (WebGPU through whatever adapter the browser has: SwiftShader here).
 * The scenarios run in the page (test/browser/*.ts); the assertions and the printed figures are here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AdaBeliefOptions } from '../src/index.js';
import { openBrowser, type BrowserSession } from './browser/chromium.js';
import type { Rejection } from './browser/errors.js';
import type { AdapterSummary } from './browser/harness.js';
import type { ParityConfig, ParityResult, Report } from './browser/parity.js';
import { loadGolden } from './golden.js';
import { ULP_PER_STEP } from './tolerance.js';

let session: BrowserSession;
const PARITY = '/test/browser/parity.ts';
const ERRORS = '/test/browser/errors.ts';
const SIZES = [1, 2, 3, 4, 5, 63, 64, 65, 1023, 1024, 65537, 1000003];

beforeAll(async () => {
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/browser/harness.ts', 'adapterSummary');
  console.log(
    `WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}` +
      (adapter.fallback ? ' (CPU fallback adapter)' : ''),
  );
});
afterAll(async () => session?.close());

/** Prints and checks a report: every element within its tolerance, NaN exactly where the reference has NaN. */
function expectWithin(label: string, report: Report): void {
  expect(Object.keys(report).length, `${label}: nothing compared`).toBeGreaterThanOrEqual(3);
  for (const [q, s] of Object.entries(report)) {
    console.log(
      `${label} ${q}: max |Δ| ${s.maxAbs.toExponential(2)}, max ${s.maxUlp.toFixed(1)} ulp, ` +
        `worst ${(s.worst * 100).toFixed(1)}% of tolerance (${ULP_PER_STEP} ulp/step)`,
    );
    expect(s.nanMismatch, `${label} ${q}: NaN mismatches`).toBe(0);
    expect(s.worst, `${label} ${q}: worst element ${s.worstIndex}`).toBeLessThanOrEqual(1);
  }
}

const parity = (cfg: ParityConfig) => session.call<ParityResult>(PARITY, 'parity', cfg);

/** Every combination of the optimizer-wide switches, with seeded random hyperparameters. */
function combinations(): { label: string; options: Partial<AdaBeliefOptions> }[] {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
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
            out.push({ label: `${semantics} decay=${decay} amsgrad=${amsgrad} rectify=${rectify} sgd=${degeneratedToSgd}`, options });
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

  test.each(combinations().map((c, i) => ({ ...c, i })))(
    'matches AdaBeliefCPU (f32) at every size, 7 steps: $label',
    async ({ options, i }) => {
      const r = await parity({ seed: 1000 + i, sizes: SIZES, steps: 7, options });
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
