/**
 * `npm run demo:screens`: a PNG screenshot of every demo page (demo/*.html) in docs/screens/<page>.png, and of
 * the trajectories page once per problem (trajectories-<problem>.png), each taken in headless Chromium once
 * the page has finished its run. Fails if a page logs an error or does not finish.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../sessions/chromium.js';
import { openDemo } from '../sessions/demo.js';

const OUT = join(REPO_ROOT, 'docs/screens');
const EXTRA: [string, string][] = [
  ['trajectories-slope', '/trajectories.html?fn=slope'],
  ['trajectories-rosenbrock', '/trajectories.html?fn=rosenbrock'],
  ['trajectories-beale', '/trajectories.html?fn=beale'],
];

async function main(): Promise<void> {
  const pages = readdirSync(join(REPO_ROOT, 'demo'))
    .filter((f) => f.endsWith('.html'))
    .map((f): [string, string] => [f.replace(/\.html$/, ''), `/${f}`]);
  mkdirSync(OUT, { recursive: true });
  const demo = await openDemo();
  let failed = 0;
  try {
    for (const [name, path] of [...pages, ...EXTRA]) {
      const v = await demo.visit(path, { viewport: { width: 1280, height: 900 } });
      const file = join(OUT, `${name}.png`) as `${string}.png`;
      await v.page.screenshot({ path: file, fullPage: true });
      await v.page.close();
      const ok = v.state === 'done' && v.errors.length === 0;
      if (!ok) failed++;
      console.log(
        `${ok ? 'wrote' : 'FAILED'} ${file} (${path}: ${v.state} after ${(v.ms / 1e3).toFixed(1)} s)` +
          (v.errors.length ? `\n  ${v.errors.join('\n  ')}` : ''),
      );
    }
  } finally {
    await demo.close();
  }
  if (failed) throw new Error(`${failed} page(s) did not finish cleanly`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
