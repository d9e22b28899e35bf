/**
 * results/benchmark.html: one self-contained page (no network) that draws a benchmark JSON — the JSON inlined,
 * the renderer (bench/render-page.ts → bench/render.ts, the demo benchmark page's renderer) bundled in by
 * esbuild — and its PNG, the main chart screenshotted by headless Chromium. `npm start` writes both after its
 * run; any JSON (e.g. benchmark-node.json from the bundle's bench.mjs on another machine) is drawn with
 *
 *   npx tsx bench/report-html.ts results/benchmark-node.json [--out FILE.html] [--no-png]
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import puppeteer, { type Browser } from 'puppeteer-core';
import { chromiumArgs, findChromium, REPO_ROOT } from '../sessions/chromium.js';

const STYLE = `body{font-family:sans-serif;margin:24px;max-width:1600px}.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{background:#fff;width:760px;margin:0}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}.note{color:#444}
tr.met td:nth-child(4){color:#070;font-weight:bold}tr.not-met td:nth-child(4){color:#b00;font-weight:bold}
.warn{background:#fff3cd;padding:8px;border:1px solid #e0c060}.error{color:#b00}`;

/** The renderer as one classic script (it runs while the page parses: the charts exist at 'load'). */
async function rendererScript(): Promise<string> {
  const out = await build({
    entryPoints: [join(REPO_ROOT, 'bench/render-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}

/** Text that may sit inside a <script> element: no '</script' (or '<!--') can end it early. */
const inScript = (text: string) => text.replace(/<(\/script|!--)/gi, '<\\$1');

/** The page: the report as JSON and the renderer, both inline. */
export async function reportHtml(report: unknown): Promise<string> {
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>adabelief-webgpu benchmark</title><style>${STYLE}</style></head>
<body>
<h1>adabelief-webgpu: one optimizer step, GPU vs CPU vs TF.js</h1>
<div id="report"></div>
<p class="note">Raw data: the benchmark JSON beside this file (also inside this page).</p>
<script type="application/json" id="benchmark-data">${json}</script>
<script>${inScript(await rendererScript())}</script>
</body></html>
`;
}

/**
 * Loads `html` in `browser` (or a headless Chromium of its own) and screenshots its main chart into `png`.
 * Throws when the page reports an error or draws no chart.
 */
export async function screenshotReport(html: string, png: string, browser?: Browser): Promise<void> {
  const own = browser
    ? undefined
    : await puppeteer.launch({ executablePath: findChromium(), headless: true, args: chromiumArgs() });
  try {
    const page = await (browser ?? own!).newPage();
    try {
      await page.setViewport({ width: 1600, height: 1000 });
      await page.setContent(html, { waitUntil: 'load' });
      const state = await page.$eval('body', (b) => b.dataset.rendered ?? '');
      if (state !== 'done') {
        const text = await page.$eval('body', (b) => b.textContent ?? '');
        throw new Error(`the report page did not render (${state || 'no state'}): ${text.slice(-300)}`);
      }
      const chart = (await page.$('#main-chart')) ?? (await page.$('#modes-bandwidth'));
      if (!chart) throw new Error('the report has no chart');
      await chart.screenshot({ path: png as `${string}.png` });
    } finally {
      await page.close();
    }
  } finally {
    await own?.close();
  }
}

/** Writes `htmlPath` and, unless `png` is null, the PNG; returns the note for the 'wrote' line. */
export async function writeReport(
  report: unknown,
  htmlPath: string,
  png: string | null,
  browser?: Browser,
): Promise<string> {
  const html = await reportHtml(report);
  writeFileSync(htmlPath, html);
  if (!png) return '';
  try {
    await screenshotReport(html, png, browser);
    return ` and ${png}`;
  } catch (e) {
    return ` (no PNG: ${(e as Error).message})`;
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, 'no-png': { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1)
    throw new Error('usage: npx tsx bench/report-html.ts FILE.json [--out FILE.html] [--no-png]');
  const json = resolve(positionals[0]!);
  const html = resolve(values.out ?? json.replace(/\.json$/, '') + '.html');
  const png = values['no-png'] ? null : html.replace(/\.html$/, '') + '.png';
  const note = await writeReport(JSON.parse(readFileSync(json, 'utf8')), html, png);
  console.log(`wrote ${html}${note}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
