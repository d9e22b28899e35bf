/**
 * The WASM CPU optimizer in headless Chromium: on Web Workers over shared memory in a cross-origin isolated
 * page (COOP same-origin + COEP require-corp, served here), and on the main thread alone, saying why, in a page
 * that is not isolated (sessions/chromium.ts's). Bit-exact with AdaBeliefCPU in both (no tolerance: see
 * test/unit/wasm-cpu.test.ts). No GPU is used; it is in this tier because it needs the browser.
 */
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  REPO_ROOT,
  chromiumArgs,
  findChromium,
  openBrowser,
  type BrowserSession,
} from '../../sessions/chromium.js';
import type { WasmPageResult } from './scenarios/wasm-cpu.js';

const SCENARIO = '/test/gpu/scenarios/wasm-cpu.ts';
const SIZES = [1, 3, 4, 5, 1023, 65537];

/** A page served with the cross-origin isolation headers; `run` calls the scenario in it. */
async function openIsolated() {
  const server = await createServer({
    root: REPO_ROOT,
    configFile: false,
    logLevel: 'error',
    server: {
      host: 'localhost',
      port: 0,
      hmr: false,
      headers: {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      },
    },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  const browser = await puppeteer.launch({
    executablePath: findChromium(),
    headless: true,
    args: chromiumArgs(),
  });
  const page = await browser.newPage();
  await page.goto(`${server.resolvedUrls!.local[0]!.replace(/\/$/, '')}/sessions/index.html`, {
    waitUntil: 'load',
  });
  return {
    run: (threads: number) =>
      page.evaluate(
        `import(${JSON.stringify(SCENARIO)}).then((m) => m.wasmParity(${JSON.stringify(SIZES)}, ${threads}, 7))`,
      ) as Promise<WasmPageResult>,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

describe('AdaBeliefWasmCPU in Chromium', () => {
  let isolated: Awaited<ReturnType<typeof openIsolated>>;
  let plain: BrowserSession;
  beforeAll(async () => {
    [isolated, plain] = await Promise.all([openIsolated(), openBrowser()]);
  });
  afterAll(async () => {
    await Promise.all([isolated?.close(), plain?.close()]);
  });

  test.each([2, 3])('cross-origin isolated: %i threads on Web Workers, bit-exact', async (threads) => {
    const r = await isolated.run(threads);
    console.log(`isolated page, ${threads} threads:`, r);
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.threads).toBe(threads);
    expect(r.stepThreads).toEqual(Array(7).fill(threads));
    expect(r.reason).toBeNull();
    expect(r.mismatches).toBe(0);
  });

  test('not isolated: one thread, says why, bit-exact', async () => {
    const r = await plain.call<WasmPageResult>(SCENARIO, 'wasmParity', SIZES, 4, 7);
    console.log('page without isolation:', r);
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.threads).toBe(1);
    expect(r.stepThreads).toEqual(Array(7).fill(1));
    expect(r.reason).toMatch(/SharedArrayBuffer|shared WebAssembly memory/);
    expect(r.mismatches).toBe(0);
  });
});
