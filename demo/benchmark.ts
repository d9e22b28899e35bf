/**
 * The benchmark page: `npm start`'s measurements (bench/page.ts for the GPU and TF.js, bench/cpu.ts for the
 * CPU, bench/report.ts for the derived figures) run in the page, drawn on canvases. A quick run starts on
 * load; the full run measures npm start's sizes and variants.
 */
import {
  IMPL_LABELS,
  plan,
  type Impl,
  type Repetitions,
  type Samples,
  type Task,
  type Variant,
} from '../bench/common.js';
import { measureCpu } from '../bench/cpu.js';
import { init, measureGpu, measureTf, tfjsInfo, type AdapterReport } from '../bench/page.js';
import {
  COLORS,
  bandwidthSeries,
  headline,
  pow2,
  tableCells,
  tableHead,
  targets,
  toRows,
  type Measurement,
  type Row,
} from '../bench/report.js';
import { openGpu } from './lib/adapter.js';
import { byId, clearError, el, nextFrame, publish, setState, showError } from './lib/page.js';
import { drawLogChart, type Series } from './lib/plot.js';

interface RunConfig {
  name: 'quick' | 'full';
  sizes: number[];
  variants: Variant[];
  rep: Repetitions;
}

const QUICK: RunConfig = {
  name: 'quick',
  sizes: [2 ** 12, 2 ** 14, 2 ** 16, 2 ** 18],
  variants: ['default'],
  rep: { reps: 3, stepsPerRep: 0, minRepMs: 30, maxStepsPerRep: 50, warmupSteps: 6 },
};

/** npm start's default run, less the whole-model case. */
const FULL: RunConfig = {
  name: 'full',
  sizes: [12, 14, 16, 18, 20, 22, 24].map((k) => 2 ** k),
  variants: ['default', 'amsgrad', 'norectify'],
  rep: { reps: 5, stepsPerRep: 0, minRepMs: 200, maxStepsPerRep: 200, warmupSteps: 6 },
};

/** A task is measured where its kind runs: the GPU kernels together, TF.js or the CPU alone. */
async function measure(task: Task): Promise<Samples[]> {
  const specs = task.map((p) => p.spec);
  const impl = specs[0]!.impl;
  if (impl === 'fused' || impl === 'copy') return measureGpu(specs);
  if (impl.startsWith('tfjs-')) return [await measureTf(specs[0]!)];
  return [measureCpu(specs[0]!)];
}

function showTable(rows: Row[]): void {
  const head = tableHead('×');
  const body = rows.map((r) =>
    el(
      'tr',
      { 'data-impl': r.impl, 'data-size': String(r.size) },
      ...tableCells(r, '–', '×').map((t) => el('td', {}, t)),
    ),
  );
  byId('table').replaceChildren(el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))), ...body));
  byId('legend-text').textContent =
    'wall ms: median wall time per step (K steps queued, then waited for, / K); GPU ms: median timestamp-query time ' +
    'of the step where the adapter has timestamp-query. GB/s: 28 bytes per element (36 with AMSGrad; TF.js is ' +
    'credited with the same minimum) × size / time. × copy: GB/s over the copy of the same bytes on the same ' +
    'side (GPU: the copy kernel; CPU: a Float32Array loop). vs X: X’s wall ms / this row’s (> 1: this row is ' +
    'faster). CPU rows run in this page’s JavaScript thread (npm start runs them in Node).';
}

function showTargets(rows: Row[]): void {
  const ts = targets(headline(rows));
  byId('targets').replaceChildren(
    el(
      'table',
      {},
      el(
        'tr',
        {},
        ...['ratio', 'target', 'measured', '', 'what'].map((h) =>
          el('th', h === 'what' ? { class: 'left' } : {}, h),
        ),
      ),
      ...ts.map((t) =>
        el(
          'tr',
          {},
          el('td', {}, t.name),
          el('td', {}, t.want),
          el('td', {}, t.measured === null ? '–' : t.measured.toFixed(t.digits ?? 2)),
          el(
            'td',
            { class: t.met === null ? '' : t.met ? 'holds' : 'fails' },
            t.met === null ? 'not measured' : t.met ? 'met' : 'not met',
          ),
          el('td', { class: 'left' }, t.detail),
        ),
      ),
    ),
  );
}

function showCharts(rows: Row[]): void {
  const charts = byId('charts');
  charts.replaceChildren();
  const variants = [...new Set(rows.map((r) => r.variant))];
  for (const variant of variants) {
    const bandwidth = bandwidthSeries(rows, variant);
    const fused = rows.filter((r) => r.variant === variant && r.impl === 'fused');
    const against = (impl: Impl, name: string): Series => ({
      name,
      color: COLORS[impl],
      points: fused.flatMap((f): [number, number][] => {
        const other = rows.find(
          (r) => r.size === f.size && r.impl === impl && (r.variant === variant || impl === 'tfjs-adam'),
        );
        return other ? [[f.size, other.wallMs / f.wallMs]] : [];
      }),
    });
    const speedup = [
      against('cpu-fast', 'vs CPU AdaBeliefFastCPU'),
      against('cpu-ref', 'vs CPU AdaBeliefCPU (ref)'),
      against('tfjs-adam', 'vs TF.js tf.train.adam'),
      against('tfjs-adabelief', 'vs TF.js-ops AdaBelief'),
    ].filter((s) => s.points.length);
    const a = el('canvas', { id: `bandwidth-${variant}`, 'aria-label': `effective bandwidth, ${variant}` });
    const b = el('canvas', {
      id: `speedup-${variant}`,
      'aria-label': `speedup of the fused step, ${variant}`,
    });
    charts.append(el('div', { class: 'row' }, a, b));
    drawLogChart(a, {
      title: `Effective bandwidth, ${variant} (dashed: copy rooflines)`,
      xLabel: 'parameters (elements)',
      yLabel: 'GB/s (log)',
      series: bandwidth,
    });
    drawLogChart(b, {
      title: `Fused step speedup, ${variant} (dotted: 1×)`,
      xLabel: 'parameters (elements)',
      yLabel: 'speedup, wall time (log)',
      series: speedup,
      reference: 1,
    });
  }
}

let adapter: AdapterReport | null = null;
let busy = false;

async function run(cfg: RunConfig): Promise<void> {
  if (busy || !adapter) return;
  busy = true;
  clearError();
  setState('running');
  const buttons = [byId<HTMLButtonElement>('quick'), byId<HTMLButtonElement>('full')];
  buttons.forEach((b) => (b.disabled = true));
  const started = performance.now();
  const tasks = plan({ ...cfg, tfjs: true, cpu: true });
  const total = tasks.reduce((n, t) => n + t.length, 0);
  const progress = byId<HTMLProgressElement>('progress');
  progress.max = total;
  progress.value = 0;
  const log = byId('log');
  log.replaceChildren();
  const status = byId('status');
  const measurements: Measurement[] = [];
  try {
    const tf = await tfjsInfo();
    log.append(el('li', {}, `TF.js ${tf.version}, webgpu backend on the ${tf.device}`));
    for (const task of tasks) {
      status.textContent = `${cfg.name} run: ${progress.value + 1}/${total}: ${pow2(task[0]!.spec.size)} ${task.map((p) => IMPL_LABELS[p.spec.impl]).join(', ')}…`;
      await nextFrame();
      const samples = await measure(task);
      task.forEach(({ spec, variants }, k) => {
        const s = samples[k]!;
        for (const variant of variants)
          measurements.push({ ...s, impl: spec.impl, size: spec.size, variant });
        const median = [...s.wallMs].sort((x, y) => x - y)[s.wallMs.length >> 1]!;
        log.append(
          el(
            'li',
            {},
            `${pow2(spec.size)} ${variants.join('+')} ${IMPL_LABELS[spec.impl]}: ${median.toFixed(3)} ms/step wall (${s.stepsPerRep} steps × ${s.reps})`,
          ),
        );
        progress.value++;
      });
    }
    const rows = toRows(measurements);
    showTargets(rows);
    showCharts(rows);
    showTable(rows);
    const durationS = (performance.now() - started) / 1e3;
    status.textContent = `${cfg.name} run done in ${durationS.toFixed(1)} s (${total} measurements).`;
    publish({
      page: 'benchmark',
      run: cfg.name,
      adapter,
      settings: { sizes: cfg.sizes, variants: cfg.variants, ...cfg.rep },
      durationS,
      headline: headline(rows),
      targets: targets(headline(rows)),
      rows,
    });
    setState('done');
  } catch (e) {
    status.textContent = '';
    showError(`The ${cfg.name} run failed`, e);
  } finally {
    busy = false;
    buttons.forEach((b) => (b.disabled = false));
  }
}

async function main(): Promise<void> {
  // The banner (and the no-WebGPU message) come from the shared check; the measurements use the bench's own
  // device, with the adapter's storage limits and timestamp-query.
  const gpu = await openGpu(byId('adapter'));
  if (!gpu) return;
  gpu.device.destroy();
  adapter = await init();
  const details = `timestamp-query: ${adapter.timestampQuery ? 'yes' : 'no'}; fused and copy kernels: workgroups of ${adapter.workgroupSize}, at most ${adapter.maxWorkgroups} per dispatch (grid-stride).`;
  byId('adapter').append(el('p', { class: 'note' }, details));
  byId('quick').addEventListener('click', () => void run(QUICK));
  byId('full').addEventListener('click', () => void run(FULL));
  await run(QUICK);
}

main().catch((e: unknown) => showError('The page failed to start', e));
