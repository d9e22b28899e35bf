/**
 * The README's complete example ("Using it") runs verbatim in headless Chromium: extracted from
 * README.md, written to test/.generated/, imported by the page under the package name.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AdaBeliefCPU } from '../../src/index.js';
import { REPO_ROOT, openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import { paramTolerance } from '../helpers/tolerance.js';

let session: BrowserSession;
beforeAll(async () => {
  session = await openBrowser();
});
afterAll(async () => session?.close());

/** The first ```ts block after `heading` in README.md. */
function snippet(heading: string): string {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const from = readme.indexOf(heading);
  expect(from, `README has '${heading}'`).toBeGreaterThan(0);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(from));
  expect(match, `a ts block after '${heading}'`).not.toBeNull();
  return match![1]!;
}

test('README "Using it" example runs and trains the parameters', async () => {
  mkdirSync(`${REPO_ROOT}test/.generated`, { recursive: true });
  const code = [
    '// Generated from README.md by test/gpu/readme.test.ts. Console output is captured.',
    'const logged: unknown[][] = [];',
    'const console = { log: (...a: unknown[]) => logged.push(a) };',
    snippet('## Using it'),
    'export const output = () => logged;',
  ].join('\n');
  writeFileSync(`${REPO_ROOT}test/.generated/readme-example.ts`, code);
  const output = await session.call<unknown[][]>('/test/.generated/readme-example.ts', 'output');
  console.log(`README example printed: ${JSON.stringify(output)}`);
  // The same 100 steps on the CPU reference: p = 1, constant gradient 0.01, default options, lr 1e-3.
  const cpu = new AdaBeliefCPU([new Float32Array([1])], { lr: 1e-3 });
  for (let t = 0; t < 100; t++) cpu.step([new Float32Array([0.01])]);
  const want = cpu.params[0]!;
  expect(output.length).toBe(1);
  const got = new Float32Array([output[0]![0] as number]);
  const tol = paramTolerance(want, [1 - want[0]!], 100)(0);
  console.log(
    `GPU ${got[0]} vs CPU ${want[0]}: |Δ| ${Math.abs(got[0]! - want[0]!)} (tolerance ${tol.toExponential(2)})`,
  );
  expect(Math.abs(got[0]! - want[0]!)).toBeLessThanOrEqual(tol);
});
