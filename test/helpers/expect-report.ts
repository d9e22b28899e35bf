/**
 * The Node-side check of a GPU-vs-CPU parity report (test/gpu/scenarios/parity.ts `Report`), shared by the test
 * files: prints every quantity's largest error and checks every element within its tolerance, with NaN
 * exactly where the reference has NaN.
 */
import { expect } from 'vitest';
import type { Report } from '../gpu/scenarios/parity.js';
import { ULP_PER_STEP } from './tolerance.js';

/**
 * `quantities`: at least that many compared (param and the state tensors: 3 or 4 for AdaBelief and Adam,
 * 2 for SGD), or exactly these names.
 */
export function expectWithin(label: string, report: Report, quantities: number | string[] = 3): void {
  if (typeof quantities === 'number') {
    expect(Object.keys(report).length, `${label}: nothing compared`).toBeGreaterThanOrEqual(quantities);
  } else {
    expect(Object.keys(report).sort(), `${label}: compared quantities`).toEqual([...quantities].sort());
  }
  for (const [q, s] of Object.entries(report)) {
    console.log(
      `${label} ${q}: max |Δ| ${s.maxAbs.toExponential(2)}, max ${s.maxUlp.toFixed(1)} ulp, ` +
        `worst ${(s.worst * 100).toFixed(1)}% of tolerance (${ULP_PER_STEP} ulp/step)`,
    );
    expect(s.nanMismatch, `${label} ${q}: NaN mismatches`).toBe(0);
    expect(
      s.invalid ?? 0,
      `${label} ${q}: elements no tolerance may pass (a non-finite reference not expected, a NaN tolerance)`,
    ).toBe(0);
    expect(s.worst, `${label} ${q}: worst element ${s.worstIndex}`).toBeLessThanOrEqual(1);
  }
}
