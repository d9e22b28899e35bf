/**
 * Headless Chromium with WebGPU for the browser tests and the benchmark: finds the browser, serves the
 * repository with vite on localhost (a secure context, so `navigator.gpu` exists) and opens a page.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** The browser to drive: $CHROME_PATH, else the usual system paths. Throws with the install line otherwise. */
export function findChromium(): string {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROME_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      'No Chromium found. Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or set CHROME_PATH.',
    );
  }
  return found;
}

/** Flags for headless WebGPU on a machine without network (see DESIGN.md §4). */
export function chromiumArgs(): string[] {
  const args = [
    '--enable-unsafe-webgpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--disable-dev-shm-usage',
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return args;
}

export interface BrowserSession {
  /** The open page (a new one after `reopen()`). */
  readonly page: Page;
  url: string;
  /** Calls `fn` exported by `module` (a path under the repo root, e.g. '/test/gpu/scenarios/cases.ts') in the page. */
  call<T>(module: string, fn: string, ...args: unknown[]): Promise<T>;
  /**
   * Opens `url` in a new tab (a fresh page: nothing kept from the old one) and closes the old tab without
   * waiting for it to unload, so a page left busy cannot hold the next one up.
   */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** Optional extras for `openBrowser` (the defaults change nothing). */
export interface OpenOptions {
  /** npm packages vite pre-bundles to ESM (packages with CommonJS dependencies, e.g. TF.js). Default none. */
  optimizeDeps?: string[];
  /** Chromium flags added to `chromiumArgs()`. Default none. */
  extraArgs?: string[];
}

/** Starts vite on localhost, launches headless Chromium and opens `pagePath`. */
export async function openBrowser(
  pagePath = '/sessions/index.html',
  log = false,
  options: OpenOptions = {},
): Promise<BrowserSession> {
  const server: ViteDevServer = await createServer({
    root: REPO_ROOT,
    configFile: false,
    logLevel: 'error',
    server: { host: 'localhost', port: 0, strictPort: false, hmr: false },
    optimizeDeps: { noDiscovery: true, include: options.optimizeDeps ?? [] },
    // Pages import the library by its package name, as users do (README examples run verbatim).
    resolve: { alias: { 'adabelief-webgpu': `${REPO_ROOT}src/index.ts` } },
  });
  let browser: Browser | undefined;
  try {
    await server.listen();
    const base = server.resolvedUrls!.local[0]!.replace(/\/$/, '');
    browser = await puppeteer.launch({
      executablePath: findChromium(),
      headless: true,
      args: [...chromiumArgs(), ...(options.extraArgs ?? [])],
      protocolTimeout: 600_000,
    });
    const errors: string[] = [];
    const b = browser;
    const url = `${base}${pagePath}`;
    const open = async () => {
      const page = await b.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (log || m.type() === 'error') console.log(`[page ${m.type()}] ${m.text()}`);
      });
      await page.goto(url, { waitUntil: 'load' });
      return page;
    };
    let page = await open();
    return {
      get page() {
        return page;
      },
      url,
      // The page code is a string: a function literal here would be rewritten by the test runner's transform.
      call: async <T>(module: string, fn: string, ...args: unknown[]) => {
        const result = await page.evaluate(
          `import(${JSON.stringify(module)}).then((m) => m[${JSON.stringify(fn)}](...${JSON.stringify(args)}))`,
        );
        // Uncaught exceptions and unhandled rejections in the page (since the last call) fail this call.
        if (errors.length) throw new Error(`uncaught in the page: ${errors.splice(0).join(' | ')}`);
        return result as T;
      },
      reopen: async () => {
        const old = page;
        page = await open();
        await old.close({ runBeforeUnload: false });
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
