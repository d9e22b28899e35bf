/**
 * The entry of dist-bench/bench.mjs (`npm run bench:bundle`, scripts/bench-bundle.mjs): the benchmark of
 * `npm start -- --runtime node` (bench/main.ts) in one file for a bare `node` >= 20 — bench/page.ts and TF.js
 * bundled in, Dawn from the `webgpu` package copied beside it (dist-bench/node_modules/webgpu). The page's
 * functions are called in this process, with arguments and results passed through JSON as they are to and
 * from a page. The JSON goes to ./results/benchmark-node.json unless --out / --json say otherwise (no HTML: no
 * browser, no esbuild here; bench/report-html.ts draws the JSON elsewhere).
 */
import { resolve } from 'node:path';
import { installDawnNavigator } from '../sessions/dawn.js';
import { PAGE, exitOnFailure, parseArgs, runBenchmark, type GpuSession, type Host } from './main.js';

const HOST: Host = {
  command: 'node bench.mjs',
  runtimes: ['node'],
  defaultOut: resolve('results'),
  png: false,
};

async function openSession(): Promise<GpuSession> {
  // Dawn rounds timestamps to a coarse grid by default (as browsers do); exact ones here.
  const dawn = await installDawnNavigator({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  // Loaded once Dawn is navigator.gpu: TF.js's webgpu backend registers itself only where navigator.gpu exists.
  const fns = (await import('./page.js')) as unknown as Record<string, unknown>;
  const json = (x: unknown): unknown => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
  return {
    runtime: `Node.js ${process.version}, ${dawn.setup}`,
    call: async <T>(module: string, fn: string, ...args: unknown[]) => {
      const f = fns[fn];
      if (module !== PAGE || typeof f !== 'function')
        throw new Error(`${module} has no exported function ${fn}`);
      return json(await (f as (...a: unknown[]) => unknown)(...(json(args) as unknown[]))) as T;
    },
    close: async () => dawn.restore(),
  };
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2), HOST);
  if (!cfg) return;
  await runBenchmark(cfg, await openSession());
}

main().then(
  () => process.exit(0),
  (e: unknown) => exitOnFailure(e, HOST),
);
