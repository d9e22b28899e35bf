import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, type BrowserSession } from './browser/chromium.js';
import type { AdapterSummary } from './browser/harness.js';
import type { ParityConfig, ParityResult, Report } from './browser/parity.js';
import { loadGolden } from './golden.js';
import { ULP_PER_STEP } from './tolerance.js';

let session: BrowserSession;
const PARITY = '/test/browser/parity.ts';

beforeAll(async () => {
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/browser/harness.ts', 'adapterSummary');
  console.log(`WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}${adapter.fallback ? ' (CPU fallback)' : ''}`);
});
afterAll(async () => session?.close());

/** Prints and checks a report: every element within its tolerance, no NaN where the reference has none. */
function expectWithin(label: string, report: Report): void {
  for (const [q, s] of Object.entries(report)) {
    console.log(
      `${label} ${q}: max |Δ| ${s.maxAbs.toExponential(2)}, max ${s.maxUlp.toFixed(1)} ulp, ` +
        `worst ${(s.worst * 100).toFixed(1)}% of tolerance (${ULP_PER_STEP} ulp/step budget)`,
    );
    expect(s.nanMismatch, `${label} ${q}: NaN mismatches`).toBe(0);
    expect(s.worst, `${label} ${q}: worst element ${s.worstIndex}`).toBeLessThanOrEqual(1);
  }
}

describe('GPU kernel', () => {
  test('reproduces every golden case', async () => {
    const results = await session.call<{ name: string; report: Report }[]>(PARITY, 'golden', loadGolden());
    expect(results.length).toBe(loadGolden().length);
    for (const r of results) expectWithin(`golden '${r.name}'`, r.report);
  });

  test('one parity run', async () => {
    const cfg: ParityConfig = { seed: 1, sizes: [1, 5, 1000003], steps: 7, options: {} };
    const r = await session.call<ParityResult>(PARITY, 'parity', cfg);
    expectWithin('parity', r.report);
  });
});
