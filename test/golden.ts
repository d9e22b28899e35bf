/** Loads the golden vectors (independently computed expected states; see ../shared/vectors). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AdaBeliefOptions } from '../src/options.js';

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

export const GOLDEN_PATH = fileURLToPath(
  new URL('../../shared/vectors/adabelief-golden.json', import.meta.url),
);

export function loadGolden(): GoldenCase[] {
  return (JSON.parse(readFileSync(GOLDEN_PATH, 'utf8')) as { cases: GoldenCase[] }).cases;
}
