/** Loads the golden vectors (independently computed expected states; see ../shared/vectors). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AdaBeliefOptions } from '../../src/core/options.js';

export interface GoldenState {
  param: number[];
  exp_avg: number[];
  exp_avg_var: number[];
  max_exp_avg_var?: number[];
}

export interface GoldenCase {
  name: string;
  semantics: AdaBeliefOptions['semantics'];
  options: Omit<AdaBeliefOptions, 'semantics'>;
  size: number;
  steps: number;
  param0: number[];
  grads: number[][];
  expected_f32: GoldenState;
  expected_f64: GoldenState;
}

/** The shared, independently computed vectors (beside the checkout), and the copy committed here for CI. */
export const SHARED_GOLDEN = fileURLToPath(
  new URL('../../../shared/vectors/adabelief-golden.json', import.meta.url),
);
export const COMMITTED_GOLDEN = fileURLToPath(new URL('../vectors/adabelief-golden.json', import.meta.url));

/** The golden cases: from ../shared when it is there (test/unit/vectors.test.ts checks the copy matches). */
export function loadGolden(): GoldenCase[] {
  const path = existsSync(SHARED_GOLDEN) ? SHARED_GOLDEN : COMMITTED_GOLDEN;
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: GoldenCase[] }).cases;
}
