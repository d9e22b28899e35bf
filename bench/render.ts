/**
 * The benchmark's one renderer: draws a report (the object `npm start` writes to results/benchmark.json, and the
 * demo's benchmark page builds in the browser, bench/report.ts `buildReport`) into a page — the run's
 * facts, the targets, the whole-model case, the charts and every figure. Used by the demo's benchmark page and,
 * bundled with the JSON inlined, by results/benchmark.html (bench/report-html.ts).
 *
 * Charts by Observable Plot (log axes, line and bar marks, legends; SVG it builds, none built here). The DOM is
 * built with createElement and text nodes: no HTML is parsed from a string.
 */
import * as Plot from '@observablehq/plot';
import { IMPL_LABELS, implLabel, type Impl, type Variant } from './common.js';
import { MODES, type Mode } from './modes.js';
import { el } from './dom.js';
import {
  LEGEND,
  MODE_HEAD,
  MODE_LEGEND,
  TABLE_HEAD,
  TARGET_HEAD,
  modeTable,
  modelHostTable,
  modelLines,
  tableCells,
  targetCells,
  type Report,
  type Row,
} from './report.js';

export const IMPL_COLORS: Record<Impl, string> = {
  fused: '#d62728',
  copy: '#555555',
  'tfjs-adam': '#1f77b4',
  'tfjs-adabelief': '#17becf',
  'wasm-N': '#9467bd',
  'wasm-1': '#e377c2',
  'cpu-fast': '#2ca02c',
  'cpu-ref': '#98df8a',
  'cpu-copy-N': '#bcbd22',
  'cpu-copy': '#8c564b',
};

export const MODE_COLORS: Record<Mode, string> = {
  f32: '#d62728',
  'bf16-state': '#1f77b4',
  'f16-master': '#2ca02c',
  'f16-bf16-nomaster': '#9467bd',
  guarded: '#ff7f0e',
  adam: '#8c564b',
  'sgd-momentum': '#17becf',
};

const COPIES: readonly Impl[] = ['copy', 'cpu-copy', 'cpu-copy-N'];

/** One line of a chart: its name (legend), colour, dash, and (size, value) points. */
export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

function table(head: string[], body: string[][], rowAttrs?: (i: number) => Record<string, string>) {
  return el(
    'table',
    {},
    el('tr', {}, ...head.map((c) => el('th', {}, c))),
    ...body.map((cells, i) => el('tr', rowAttrs?.(i) ?? {}, ...cells.map((c) => el('td', {}, c)))),
  );
}

/** Sizes on a log2 axis, labelled 2^k. */
const sizeAxis = {
  type: 'log',
  base: 2,
  label: 'parameters (elements)',
  tickFormat: (d: number) => `2^${Math.round(Math.log2(d))}`,
  grid: true,
} as const;

/**
 * A line chart of values against size, both on log axes: solid or dashed lines with a dot per point, a legend,
 * and a dotted horizontal reference line where `reference` is given. Null when no point is positive.
 */
export function logLines(
  id: string,
  title: string,
  yLabel: string,
  series: Series[],
  reference?: number,
): Element | null {
  const points = series.flatMap((s) =>
    s.points
      .filter(([, y]) => y > 0 && Number.isFinite(y))
      .map(([x, y]) => ({ name: s.name, dashed: s.dashed === true, x, y })),
  );
  if (!points.length) return null;
  const shown = series.filter((s) => points.some((p) => p.name === s.name));
  const line = (dashed: boolean) =>
    Plot.line(
      points.filter((p) => p.dashed === dashed),
      {
        x: 'x',
        y: 'y',
        z: 'name',
        stroke: 'name',
        strokeWidth: 2.2,
        marker: 'circle',
        ...(dashed ? { strokeDasharray: '7,4' } : {}),
      },
    );
  const figure = Plot.plot({
    title,
    width: 760,
    height: 420,
    marginLeft: 60,
    x: sizeAxis,
    y: { type: 'log', label: yLabel, grid: true, tickFormat: '~g' },
    color: {
      legend: true,
      domain: shown.map((s) => s.name),
      range: shown.map((s) => s.color),
    },
    marks: [
      ...(reference ? [Plot.ruleY([reference], { strokeDasharray: '2,3' })] : []),
      line(false),
      line(true),
    ],
  });
  figure.id = id;
  figure.classList.add('chart');
  return figure;
}

/** Effective bandwidth against size, one line per implementation that has rows (the copies dashed). */
export function bandwidthSeries(rows: Row[], variant: Variant): Series[] {
  return (Object.keys(IMPL_LABELS) as Impl[])
    .map((impl) => {
      const own = rows.filter((r) => r.variant === variant && r.impl === impl);
      return {
        name: implLabel(impl, own[0]?.threads),
        color: IMPL_COLORS[impl],
        dashed: COPIES.includes(impl),
        points: own.map((r): [number, number] => [r.size, r.effectiveGBps]),
      };
    })
    .filter((s) => s.points.length);
}

/** The fused step's speedup (their wall ms / its wall ms) against every CPU optimizer and TF.js. */
export function speedupSeries(rows: Row[], variant: Variant): Series[] {
  const fused = rows.filter((r) => r.variant === variant && r.impl === 'fused');
  const against = (impl: Impl): Series => {
    const own = rows.filter((r) => r.impl === impl && (r.variant === variant || impl === 'tfjs-adam'));
    return {
      name: `vs ${implLabel(impl, own[0]?.threads).replace(/^TF\.js ops/, 'TF.js-ops')}`,
      color: IMPL_COLORS[impl],
      points: fused.flatMap((f): [number, number][] => {
        const other = own.find((r) => r.size === f.size);
        return other ? [[f.size, other.wallMs / f.wallMs]] : [];
      }),
    };
  };
  const impls: Impl[] = ['wasm-N', 'wasm-1', 'cpu-fast', 'cpu-ref', 'tfjs-adam', 'tfjs-adabelief'];
  return impls.map(against).filter((s) => s.points.length);
}

function modesSection(report: Report): Element[] {
  const rows = report.modeRows;
  if (!rows.length || !report.modes) return [];
  const summary = Object.entries(report.modes).map(([mode, m]) => ({ mode: mode as Mode, ...m }));
  const size = summary[0]!.size;
  const kinds = summary.flatMap((m) => [
    { mode: m.mode, kind: 'fused step', GBs: m.fusedGBs },
    ...(m.copyGBs === null ? [] : [{ mode: m.mode, kind: 'its copy kernel', GBs: m.copyGBs }]),
  ]);
  const bars = Plot.plot({
    title: `Every mode at ${size.toLocaleString('en-US')} elements: effective bandwidth, fused step and its copy kernel`,
    width: 760,
    height: 380,
    marginBottom: 40,
    fx: { label: null, domain: summary.map((m) => m.mode) },
    x: { axis: null, domain: ['fused step', 'its copy kernel'] },
    y: { label: 'GB/s', grid: true },
    color: { legend: true, domain: ['fused step', 'its copy kernel'], range: ['#d62728', '#999999'] },
    marks: [Plot.barY(kinds, { fx: 'mode', x: 'kind', y: 'GBs', fill: 'kind' }), Plot.ruleY([0])],
  });
  bars.id = 'modes-bandwidth';
  const others = summary.filter((m) => m.mode !== 'f32' && m.vsF32 !== null);
  const time = Plot.plot({
    title: 'Every mode: step time × the f32 step’s (bars; black ticks: what its bytes allow; dotted: 1×)',
    width: 760,
    height: 380,
    x: { label: null, domain: others.map((m) => m.mode) },
    y: { label: 'step time / f32 step time', grid: true },
    marks: [
      Plot.barY(others, { x: 'mode', y: 'vsF32', fill: (m: { mode: Mode }) => MODE_COLORS[m.mode] }),
      Plot.tickY(others, { x: 'mode', y: 'idealVsF32', strokeWidth: 3 }),
      Plot.ruleY([1], { strokeDasharray: '2,3' }),
      Plot.ruleY([0]),
    ],
  });
  time.id = 'modes-vs-f32';
  const charts: Element[] = [bars, time];
  // Against size too, where the modes were measured at more than one.
  if (new Set(rows.map((r) => r.size)).size > 1) {
    const series = MODES.flatMap((mode) =>
      (['fused', 'copy'] as const).map((kind): Series => ({
        name: `${mode}${kind === 'copy' ? ' copy' : ''}`,
        color: MODE_COLORS[mode],
        dashed: kind === 'copy',
        points: rows
          .filter((r) => r.mode === mode && r.kind === kind)
          .map((r): [number, number] => [r.size, r.effectiveGBps]),
      })),
    ).filter((s) => s.points.length);
    const lines = logLines(
      'modes-by-size',
      'Every mode against size: effective bandwidth (dashed: its copy kernel)',
      'GB/s',
      series,
    );
    if (lines) charts.push(lines);
  }
  charts.forEach((c) => c.classList.add('chart'));
  const lines = modeTable(rows);
  return [
    el('h2', {}, 'Every mode'),
    el('div', { class: 'charts' }, ...charts),
    table(
      MODE_HEAD,
      lines.map((l) => l.cells),
      (i) => ({ 'data-mode': lines[i]!.row.mode }),
    ),
    el('p', { class: 'note' }, MODE_LEGEND.join(' ')),
  ];
}

function modelSection(report: Report): HTMLElement[] {
  const s = report.model;
  if (!s) return [];
  const host = modelHostTable(s);
  return [
    el('h2', {}, 'Whole model'),
    ...modelLines(s).map((l) => el('p', {}, l)),
    el('p', {}, 'Host ms per step() call:'),
    table(host.head, host.body),
  ];
}

function factsSection(report: Report & { runtimeDetail?: string }): HTMLElement[] {
  const a = report.adapter;
  const adapter =
    [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || '(no adapter info)';
  const facts = [
    report.date,
    `adapter ${adapter}${a.fallback ? ' (CPU fallback adapter)' : ''}`,
    report.cpus,
    ...(report.node ? [`Node ${report.node}`] : []),
    `run took ${report.durationS.toFixed(0)} s`,
    ...(report.loadAverage
      ? [
          `load average ${report.loadAverage.before.toFixed(2)} before, ${report.loadAverage.after.toFixed(2)} after`,
        ]
      : []),
  ];
  return [
    el('p', { id: 'facts' }, facts.join(' · ')),
    ...(a.fallback
      ? [
          el(
            'p',
            { class: 'warn' },
            'This adapter is a CPU fallback (SwiftShader or similar): every "GPU" figure here is a CPU emulating a GPU.',
          ),
        ]
      : []),
    el(
      'ul',
      { class: 'note' },
      ...[
        ...(report.runtimeDetail ? [`GPU side: ${report.runtimeDetail}`] : []),
        `GPU timing: ${report.timing.gpu}`,
        `TF.js: ${report.timing.tfjs}`,
        `CPU timing: ${report.timing.cpu}`,
      ].map((t) => el('li', {}, t)),
    ),
  ];
}

/** Draws `report` (a benchmark JSON, or the demo's report object) into `root`, replacing what was there. */
export function renderReport(root: HTMLElement, report: Report & { runtimeDetail?: string }): void {
  const variants = [...new Set(report.rows.map((r) => r.variant))];
  const main = report.headline?.variant ?? variants[0];
  const ordered = main ? [main, ...variants.filter((v) => v !== main)] : variants;
  const variantSections = ordered.flatMap((v, i) => {
    const charts = [
      logLines(
        i === 0 ? 'main-chart' : `bandwidth-${v}`,
        `Effective bandwidth, ${v} (dashed: copy rooflines)`,
        'GB/s',
        bandwidthSeries(report.rows, v),
      ),
      logLines(
        `speedup-${v}`,
        `Fused step speedup, ${v} (dotted: 1×)`,
        'speedup, wall time',
        speedupSeries(report.rows, v),
        1,
      ),
    ].filter((c): c is Element => c !== null);
    return [el('h2', {}, `Variant: ${v}`), el('div', { class: 'charts' }, ...charts)];
  });
  const targets = report.targets.map(targetCells);
  root.replaceChildren(
    ...factsSection(report),
    el('h2', {}, 'Targets'),
    table(TARGET_HEAD, targets, (i) => {
      const met = report.targets[i]!.met;
      return { class: met === null ? '' : met ? 'met' : 'not-met' };
    }),
    ...modelSection(report),
    ...variantSections,
    ...modesSection(report),
    ...(report.rows.length
      ? [
          el('h2', {}, 'All figures'),
          table(TABLE_HEAD, report.rows.map(tableCells), (i) => ({
            'data-impl': report.rows[i]!.impl,
            'data-size': String(report.rows[i]!.size),
          })),
          el('p', { class: 'note' }, LEGEND.join(' ')),
        ]
      : []),
  );
}
