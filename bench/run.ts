/**
 * `npm start [-- flags]`: one optimizer step, measured side by side on this machine's WebGPU adapter (headless
 * Chromium, or Node.js on Dawn with `--runtime node`), on the CPU (Node) and with TF.js on the same adapter,
 * for a range of sizes, and every mode (bf16 state, f16 params, guarded, Adam, SGD) against a copy kernel
 * moving its own bytes. Prints the adapter, progress and tables; writes results/benchmark.json,
 * results/benchmark.html and results/benchmark.png (benchmark-node.* with `--runtime node`).
 * `npm start -- --help` lists the flags; docs/benchmark.md says what each figure is. The benchmark itself is
 * bench/main.ts; this file adds the browser (puppeteer, vite) and Dawn-through-vite sessions.
 */
import { join } from 'node:path';
import type { HTTPRequest } from 'puppeteer-core';
import { openBrowser, REPO_ROOT, type BrowserSession } from '../sessions/chromium.js';
import {
  exitOnFailure,
  parseArgs,
  runBenchmark,
  type Config,
  type GpuSession,
  type Host,
  type Hooks,
} from './main.js';
import { openDawnSession } from './node.js';
import { writeReport } from './report-html.js';

const TFJS_DEPS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'];

const HOST: Host = {
  command: 'npm start --',
  runtimes: ['browser', 'node'],
  defaultOut: join(REPO_ROOT, 'results'),
  png: true,
};

type Session = GpuSession & Partial<Pick<BrowserSession, 'page' | 'url'>>;

async function openGpuSession(cfg: Config): Promise<Session> {
  if (cfg.runtime === 'node') {
    // Dawn rounds timestamps to a coarse grid by default (as browsers do); exact ones here.
    return openDawnSession({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  }
  const session = await openBrowser('/bench/index.html', false, { optimizeDeps: TFJS_DEPS });
  const version = await session.page.browser().version();
  return { ...session, runtime: `headless Chromium (${version})` };
}

/**
 * Reloads the benchmark page as a cross-origin isolated document (COOP same-origin + COEP require-corp, added
 * to the page's own HTML by request interception), where performance.now() has a 5 us resolution instead of
 * 100 us: the host cost of one `step()` (tens of us) can then be timed call by call. The vite client script
 * is left out of that copy (no HMR here; its websocket is refused to a document served that way). Returns
 * whether the page is isolated; on any failure, reloads the page as it was and returns false.
 */
async function isolatePage(session: Pick<BrowserSession, 'page' | 'url'>): Promise<boolean> {
  const { page, url } = session;
  const handler = (req: HTTPRequest) => {
    if (req.isInterceptResolutionHandled()) return;
    if (!req.isNavigationRequest() || req.url() !== url) {
      void req.continue();
      return;
    }
    fetch(url)
      .then(async (r) => {
        if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
        const body = (await r.text()).replace(/<script[^>]*\/@vite\/client[^>]*><\/script>/, '');
        await req.respond({
          status: 200,
          contentType: 'text/html',
          headers: {
            'Cross-Origin-Opener-Policy': 'same-origin',
            'Cross-Origin-Embedder-Policy': 'require-corp',
          },
          body,
        });
      })
      .catch(() => req.continue());
  };
  try {
    await page.setRequestInterception(true);
    page.on('request', handler);
    try {
      await page.reload({ waitUntil: 'load' });
    } finally {
      page.off('request', handler);
      await page.setRequestInterception(false);
    }
    if (await page.evaluate('globalThis.crossOriginIsolated === true')) return true;
  } catch {
    // fall through: the page as it was
  }
  await page.goto(url, { waitUntil: 'load' });
  return false;
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2), HOST);
  if (!cfg) return;
  const session = await openGpuSession(cfg);
  const { page, url } = session;
  const hooks: Hooks = {
    writeReport: (json, html, png) => writeReport(json, html, png, session.page?.browser()),
    ...(page && url
      ? {
          isolate: () => isolatePage({ page, url }),
          hostTiming: (isolated: boolean) =>
            `performance.now() in the page, ${isolated ? 'cross-origin isolated (5 us resolution)' : 'NOT cross-origin isolated (100 us resolution: timed per batch of calls)'}`,
        }
      : {}),
  };
  await runBenchmark(cfg, session, hooks);
}

main().catch((e: unknown) => exitOnFailure(e, HOST));
