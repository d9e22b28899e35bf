/**
 * results/benchmark.html (bench/report-html.ts): a benchmark JSON, built here by the benchmark's own
 * buildReport from made-up measurements of the shape `npm start -- --quick` takes, is drawn by the one
 * renderer (bench/render.ts, Observable Plot) in headless Chromium: every chart is there with its marks, the
 * tables hold the figures, text from the JSON stays text, and the PNG of the main chart is written.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Impl, ModelSamples, Samples } from '../../bench/common.js';
import { MODES } from '../../bench/modes.js';
import type { AdapterReport } from '../../bench/page.js';
import { reportHtml, screenshotReport } from '../../bench/report-html.js';
import { buildReport, type Measurement, type ModeMeasurement } from '../../bench/report.js';
import { chromiumArgs, findChromium } from '../../sessions/chromium.js';

const SIZES = [2 ** 12, 2 ** 16, 2 ** 20, 2 ** 22];
/** ms per step of each implementation at 2^12, growing with the size (the copy fastest, the reference slowest). */
const MS: Record<Impl, number> = {
  fused: 0.2,
  copy: 0.1,
  'tfjs-adam': 1,
  'tfjs-adabelief': 2,
  'wasm-N': 0.3,
  'wasm-1': 0.5,
  'cpu-fast': 0.8,
  'cpu-ref': 3,
  'cpu-copy-N': 0.15,
  'cpu-copy': 0.4,
};
const samples = (ms: number, gpu: boolean): Samples => ({
  stepsPerRep: 10,
  reps: 3,
  wallMs: [ms, ms * 1.1, ms * 0.9],
  ...(gpu ? { gpuMs: [ms * 0.8, ms * 0.8, ms * 0.8] } : {}),
});

function quickReport() {
  const measurements: Measurement[] = SIZES.flatMap((size) =>
    (Object.keys(MS) as Impl[]).map((impl) => ({
      ...samples(MS[impl] * (size / 4096) ** 0.8, impl === 'fused' || impl === 'copy'),
      impl,
      size,
      variant: 'default' as const,
      ...(impl === 'cpu-ref' && size === 4096 ? { note: '</script><b>not bold</b>' } : {}),
      ...(impl.endsWith('-N') ? { threads: 2 } : {}),
    })),
  );
  const modeMeasurements: ModeMeasurement[] = MODES.flatMap((mode, i) =>
    (['fused', 'copy'] as const).map((kind) => ({
      ...samples((kind === 'fused' ? 50 : 30) * (1 + i / 10), true),
      mode,
      kind,
      size: 2 ** 20,
    })),
  );
  const model: ModelSamples = {
    model: 'ResNet-50',
    tensors: 161,
    elements: 25_557_032,
    arenaBuffers: { param: 1, grad: 1 },
    dispatches: { model: 1, flat: 1 },
    modelSamples: samples(900, true),
    flatSamples: samples(880, true),
    host: {
      method: 'made up for the test',
      perCall: true,
      batchSize: 50,
      model: [0.06, 0.07, 0.05],
      flat: [0.04, 0.05, 0.04],
      emptyStep: [0.02, 0.02, 0.02],
      timedModel: [0.08],
      timedFlat: [0.07],
    },
    timerResolutionMs: 0.005,
    crossOriginIsolated: true,
    setupMs: 100,
  };
  const adapter: AdapterReport = {
    vendor: 'google',
    architecture: 'swiftshader',
    description: 'made <up>',
    device: '',
    fallback: true,
    timestampQuery: true,
    maxStorageBufferBindingSize: 2 ** 30,
    maxBufferSize: 2 ** 30,
    workgroupSize: 256,
    maxWorkgroups: 64,
    userAgent: 'test',
  };
  return buildReport({
    date: '2026-12-07T00:00:00.000Z',
    adapter,
    tfjs: { version: '4.22.0', device: 'shared GPUDevice (same adapter)' },
    node: process.version,
    cpus: '2 x test CPU',
    timing: { gpu: 'timestamp-query', cpu: 'Node', tfjs: 'wall' },
    settings: { quick: true },
    loadAverage: { before: 1, after: 2 },
    variants: ['default'],
    measurements,
    modeMeasurements,
    model,
    durationS: 60,
  });
}

describe('results/benchmark.html', () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'adabelief-report-'));
  beforeAll(async () => {
    browser = await puppeteer.launch({
      executablePath: findChromium(),
      headless: true,
      args: chromiumArgs(),
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('draws every chart of a --quick run and its tables from the inlined JSON; the PNG is written', async () => {
    const report = quickReport();
    const html = await reportHtml({ ...report, runtimeDetail: 'headless Chromium (test)' });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setContent(html, { waitUntil: 'load' });
    const seen = await page.evaluate(() => {
      const charts = Array.from(document.querySelectorAll('#report .chart')).map((c) => ({
        id: c.id,
        svgs: c.querySelectorAll('svg').length,
        // Plot draws lines as <path> and bars as <rect> inside its mark groups.
        marks: c.querySelectorAll('svg g[aria-label] path, svg g[aria-label] rect').length,
        title: c.querySelector('h2')?.textContent ?? '',
      }));
      const cells = (sel: string) =>
        Array.from(document.querySelectorAll(sel)).map((e) => e.textContent ?? '');
      return {
        state: document.body.dataset.rendered,
        charts,
        implRows: document.querySelectorAll('tr[data-impl]').length,
        modeRows: document.querySelectorAll('tr[data-mode]').length,
        targets: cells('#report table:first-of-type tr td:first-child'),
        facts: document.getElementById('facts')?.textContent ?? '',
        bold: document.querySelectorAll('#report b').length,
        notes: cells('tr[data-impl="cpu-ref"] td:nth-child(3)'),
      };
    });
    await page.close();
    console.log(seen.charts.map((c) => `  #${c.id}: ${c.marks} marks, "${c.title}"`).join('\n'));
    expect(errors).toEqual([]);
    expect(seen.state).toBe('done');
    expect(seen.charts.map((c) => c.id)).toEqual([
      'main-chart',
      'speedup-default',
      'modes-bandwidth',
      'modes-vs-f32',
    ]);
    for (const c of seen.charts) {
      expect(c.svgs, c.id).toBeGreaterThan(0);
      expect(c.marks, c.id).toBeGreaterThan(0);
    }
    expect(seen.implRows).toBe(report.rows.length);
    expect(seen.modeRows).toBe(MODES.length);
    expect(seen.targets).toEqual(report.targets.map((t) => t.name));
    expect(seen.facts).toContain('made <up>');
    expect(seen.bold).toBe(0);
    expect(seen.notes[0]).toContain('</script><b>not bold</b>');

    const png = join(dir, 'benchmark.png');
    await screenshotReport(html, png, browser);
    expect([...readFileSync(png).subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
  });

  test('a page that cannot draw its JSON says so, and no PNG is taken', async () => {
    const html = (await reportHtml(quickReport())).replace(/("rows":)\[/, '$1 7, "x": [');
    await expect(screenshotReport(html, join(dir, 'broken.png'), browser)).rejects.toThrow(
      /did not render \(error\): .*could not be drawn/,
    );
  });
});
