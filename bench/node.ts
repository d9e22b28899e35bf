/**
 * The benchmark's GPU side in Node.js on Dawn (`npm start -- --runtime node`): the very functions the
 * browser runtime calls in its page (bench/page.ts), run in this process with Dawn installed as
 * `navigator.gpu` (sessions/dawn.ts, which applies src/node/index.ts's software fallback where there is no GPU).
 * bench/page.ts is loaded through vite's SSR module loader, which handles its `?raw` WGSL imports as the
 * browser build does (plain Node and tsx cannot). Same `call(module, fn, ...args)` as the browser session,
 * with arguments and results passed through JSON as they are to and from a page.
 */
import { createServer } from 'vite';
import { REPO_ROOT } from '../sessions/chromium.js';
import type { NodeGPUOptions } from '../src/node/index.js';
import { installDawnNavigator } from '../sessions/dawn.js';

export interface DawnSession {
  /** What runs the GPU side, in words: Node's version and how Dawn's adapter was set up. */
  runtime: string;
  /** Calls `fn` exported by `module` (a path under the repo root, e.g. '/bench/page.ts'). */
  call<T>(module: string, fn: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

/** Installs Dawn as `navigator.gpu` and starts the module loader; throws the helper's clear error without an adapter. */
export async function openDawnSession(options: NodeGPUOptions = {}): Promise<DawnSession> {
  const dawn = await installDawnNavigator(options);
  const server = await createServer({
    root: REPO_ROOT,
    configFile: false,
    logLevel: 'error',
    server: { middlewareMode: true, hmr: false, ws: false },
    appType: 'custom',
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  const json = (x: unknown): unknown => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
  return {
    runtime: `Node.js ${process.version}, ${dawn.setup}`,
    call: async <T>(module: string, fn: string, ...args: unknown[]) => {
      const mod = await server.ssrLoadModule(module);
      const f = mod[fn];
      if (typeof f !== 'function') throw new Error(`${module} has no exported function ${fn}`);
      return json(await (f as (...a: unknown[]) => unknown)(...(json(args) as unknown[]))) as T;
    },
    close: async () => {
      await server.close();
      dawn.restore();
    },
  };
}
