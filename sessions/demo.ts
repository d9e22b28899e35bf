/**
 * The demo pages in headless Chromium, served on localhost exactly as `npm run demo` serves them (vite's dev
 * server with demo/vite.config.ts), or as built static pages (vite preview of a build folder): open a page,
 * collect its console errors and uncaught exceptions, wait until it says it finished
 * (<body data-demo-state>), read the figures it published (`window.demoResult`). Used by test/gpu/demo.test.ts
 * and scripts/demo-screens.ts.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, preview } from 'vite';
import { REPO_ROOT, chromiumArgs, findChromium } from './chromium.js';

export type FinalState = 'done' | 'error' | 'no-webgpu';

export interface Visit {
  page: Page;
  state: FinalState;
  /** Console errors and uncaught exceptions of the page, in order. */
  errors: string[];
  /** `window.demoResult` when the page finished. */
  result: unknown;
  /** From navigation to the final state (ms). */
  ms: number;
}

export interface VisitOptions {
  /** Runs before the page's own scripts (e.g. `page.evaluateOnNewDocument`). */
  beforeLoad?: (page: Page) => Promise<void>;
  /** How long the page may take to reach a final state (ms). Default 120 s. */
  timeoutMs?: number;
  viewport?: { width: number; height: number };
}

export interface DemoSession {
  base: string;
  browser: Browser;
  /** Opens `path` (e.g. '/trajectories.html?fn=abs') in a new tab and waits for its final state. */
  visit(path: string, options?: VisitOptions): Promise<Visit>;
  close(): Promise<void>;
}

export const DEMO_CONFIG = `${REPO_ROOT}demo/vite.config.ts`;

/** Something serving the pages, and how to stop it. */
interface Served {
  base: string;
  close(): Promise<void>;
}

async function serve(builtDir?: string): Promise<Served> {
  if (builtDir) {
    const server = await preview({
      configFile: DEMO_CONFIG,
      logLevel: 'error',
      build: { outDir: builtDir },
      preview: { host: 'localhost', port: 0, strictPort: false },
    });
    return { base: server.resolvedUrls!.local[0]!.replace(/\/$/, ''), close: () => server.close() };
  }
  const server = await createServer({
    configFile: DEMO_CONFIG,
    logLevel: 'error',
    server: { host: 'localhost', port: 0, strictPort: false, hmr: false },
  });
  try {
    await server.listen();
  } catch (e) {
    await server.close();
    throw e;
  }
  return { base: server.resolvedUrls!.local[0]!.replace(/\/$/, ''), close: () => server.close() };
}

/**
 * Serves the pages (the dev server, or `builtDir` — a `vite build --config demo/vite.config.ts` output —
 * through vite preview) and launches headless Chromium with WebGPU.
 */
export async function openDemo(builtDir?: string): Promise<DemoSession> {
  const server = await serve(builtDir);
  let browser: Browser | undefined;
  try {
    const base = server.base;
    browser = await puppeteer.launch({
      executablePath: findChromium(),
      headless: true,
      args: chromiumArgs(),
      protocolTimeout: 300_000,
    });
    const b = browser;
    return {
      base,
      browser: b,
      async visit(path, options = {}) {
        const page = await b.newPage();
        await page.setViewport(options.viewport ?? { width: 1280, height: 900 });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(`uncaught: ${String(e)}`));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
        });
        await options.beforeLoad?.(page);
        const t0 = performance.now();
        await page.goto(`${base}${path}`, { waitUntil: 'load' });
        await page.waitForFunction(
          "['done', 'error', 'no-webgpu'].includes(document.body.dataset.demoState)",
          { timeout: options.timeoutMs ?? 120_000, polling: 100 },
        );
        const ms = performance.now() - t0;
        const state = (await page.evaluate('document.body.dataset.demoState')) as FinalState;
        const result = await page.evaluate('window.demoResult ?? null');
        return { page, state, errors, result, ms };
      },
      close: async () => {
        await b.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}
