/**
 * Fuzz: random cases of the GPU optimizer against AdaBeliefCPU (f32) in headless Chromium (see
 * test/gpu/scenarios/fuzz.ts for what a case draws). Every run prints its seed; a failure prints the seed, the
 * case's index and its JSON, and the command that replays it alone:
 *
 *   FUZZ_SEED=<seed> FUZZ_CASE=<index> npx vitest run test/gpu/fuzz.test.ts
 *
 * FUZZ_SEED alone replays a whole run; FUZZ_CASES=<n> runs n cases (default 200). Without FUZZ_SEED each
 * run draws a fresh seed, so every `npm test` tries new cases.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import type { CaseResult, FuzzCase, Quantity } from './scenarios/fuzz.js';
import type { AdapterSummary } from './scenarios/harness.js';
import { ULP_PER_STEP } from '../helpers/tolerance.js';

const FUZZ = '/test/gpu/scenarios/fuzz.ts';
/** Cases per page call: enough to amortize the call, few enough to show progress. */
const BATCH = 25;

function intFromEnv(name: string, fallback: () => number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback();
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

const SEED = intFromEnv('FUZZ_SEED', () => randomInt(2 ** 31));
const ONLY = process.env.FUZZ_CASE ? intFromEnv('FUZZ_CASE', () => 0) : undefined;
if (ONLY !== undefined && !process.env.FUZZ_SEED)
  throw new Error('FUZZ_CASE replays a case of FUZZ_SEED: set both');
const COUNT = intFromEnv('FUZZ_CASES', () => 200);
const ranges: [number, number][] =
  ONLY !== undefined
    ? [[ONLY, ONLY + 1]]
    : Array.from({ length: Math.ceil(COUNT / BATCH) }, (_, b) => [
        b * BATCH,
        Math.min(COUNT, (b + 1) * BATCH),
      ]);

let session: BrowserSession;
const summary = {
  cases: 0,
  elements: 0,
  withNonFinite: 0,
  worstUlp: { value: 0, where: '' },
  worstFraction: { value: 0, where: '' },
};
const started = Date.now();

beforeAll(async () => {
  console.log(
    `fuzz: seed ${SEED}, ${ONLY !== undefined ? `case ${ONLY} only` : `${COUNT} cases`} ` +
      `(replay: FUZZ_SEED=${SEED} npx vitest run test/gpu/fuzz.test.ts)`,
  );
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/gpu/scenarios/harness.ts', 'adapterSummary');
  console.log(`WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}`);
});

afterAll(async () => {
  await session?.close();
  const { cases, elements, withNonFinite, worstUlp, worstFraction } = summary;
  const errors =
    worstUlp.value === 0
      ? 'every finite value bit-exact'
      : `max ${worstUlp.value.toFixed(1)} ulp of the reference value (${worstUlp.where}); worst ` +
        `${(worstFraction.value * 100).toFixed(1)}% of the tolerance (${worstFraction.where})`;
  console.log(
    `fuzz seed ${SEED}: ${cases} cases, ${elements} elements, ${withNonFinite} with NaN/inf in the reference; ` +
      `${errors} [tolerance ${ULP_PER_STEP} ulp/step, test/helpers/tolerance.ts]; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});

/** What is wrong with a case's result, one line each (empty when it passed). */
function problems(r: CaseResult): string[] {
  if (r.error) return [`error: ${r.error}`];
  const out: string[] = [];
  const compared = Object.keys(r.results);
  if (compared.length < 3) out.push(`only ${compared.join(', ')} compared`);
  for (const [q, s] of Object.entries(r.results) as [Quantity, CaseResult['results'][Quantity] & object][]) {
    const worst = Number(s.worst); // 'Infinity' arrives as a string
    if (s.finitenessMismatch > 0)
      out.push(`${q}: ${s.finitenessMismatch} elements NaN/inf on one side only (${s.examples.join(', ')})`);
    if (!(worst <= 1))
      out.push(`${q}: tensor ${s.worstAt[0]} element ${s.worstAt[1]} at ${worst} x the tolerance`);
  }
  if (r.neighboursChanged > 0) out.push(`${r.neighboursChanged} values outside the tensors changed`);
  return out;
}

function record(r: CaseResult): void {
  summary.cases++;
  summary.elements += r.elements;
  const where = `case ${r.case.index}`;
  let nonFinite = false;
  for (const [q, s] of Object.entries(r.results)) {
    if (s.nonFinite > 0) nonFinite = true;
    if (Number(s.maxUlp) > summary.worstUlp.value)
      summary.worstUlp = { value: Number(s.maxUlp), where: `${where} ${q}` };
    if (Number(s.worst) > summary.worstFraction.value)
      summary.worstFraction = { value: Number(s.worst), where: `${where} ${q}` };
  }
  if (nonFinite) summary.withNonFinite++;
}

describe(`GPU vs AdaBeliefCPU (f32) on random cases, seed ${SEED}`, () => {
  test.each(ranges.map(([from, to]) => [`${from} … ${to - 1}`, from, to] as const))(
    'cases %s',
    async (_, from, to) => {
      const results = await session.call<CaseResult[]>(FUZZ, 'runCases', SEED, from, to);
      expect(results.map((r) => r.case.index)).toEqual(Array.from({ length: to - from }, (_, k) => from + k));
      const failures: string[] = [];
      for (const r of results) {
        record(r);
        const found = problems(r);
        if (found.length === 0) continue;
        failures.push(
          `seed ${SEED} case ${r.case.index}: ${found.join('; ')}\n` +
            `  replay: FUZZ_SEED=${SEED} FUZZ_CASE=${r.case.index} npx vitest run test/gpu/fuzz.test.ts\n` +
            `  case: ${JSON.stringify(r.case)}`,
        );
      }
      for (const f of failures) console.log(`FAILED ${f}`);
      expect(failures.length, failures.join('\n')).toBe(0);
    },
  );
});

describe('non-finite gradients propagate as in PyTorch', () => {
  /**
   * One 8-element tensor, a NaN in element 3 and +inf in element 5 of the first gradient, two steps.
   * PyTorch (and AdaBeliefCPU) propagate both: m, s and p turn NaN there, and with AMSGrad so does
   * max_exp_avg_var, since torch.max(a, b, out=) is torch.maximum, which returns the NaN operand. WGSL's
   * max() returns the other operand instead (SwiftShader does), so the kernel cannot rely on it here.
   */
  const injected = (options: FuzzCase['options'], label: string): FuzzCase => ({
    seed: 0,
    index: 0,
    options: { rectify: false, ...options },
    tensors: [
      { size: 8, paramBuffer: 0, gradBuffer: 0, paramGap: 0, gradGap: 0, paramScale: 1, gradScale: 0.1 },
    ],
    paramPad: 0,
    gradPad: 0,
    steps: 2,
    changes: [],
    injections: [
      { step: 1, tensor: 0, element: 3, value: 'nan' },
      { step: 1, tensor: 0, element: 5, value: 'inf' },
    ],
    stepsPerEncoder: 0,
    dispatch: {},
    label,
  });
  const cases = [
    injected({ amsgrad: false }, 'adabelief-pytorch'),
    injected({ amsgrad: false, semantics: 'torch-optimizer' }, 'torch-optimizer'),
    injected({ amsgrad: true }, 'adabelief-pytorch, AMSGrad'),
    injected({ amsgrad: true, semantics: 'torch-optimizer' }, 'torch-optimizer, AMSGrad'),
  ];

  test.each(cases.map((c) => [c.label!, c] as const))(
    '%s: NaN / inf exactly where the reference has them',
    async (_, c) => {
      const [r] = await session.call<CaseResult[]>(FUZZ, 'runGiven', [c]);
      for (const [q, s] of Object.entries(r!.results))
        console.log(
          `${c.label} ${q}: ${s.nonFinite} NaN/inf in the reference, ${s.finitenessMismatch} differ ${s.examples.join(', ')}`,
        );
      expect(problems(r!)).toEqual([]);
    },
  );
});
