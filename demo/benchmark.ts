/**
 * The benchmark page: `npm start`'s measurements (bench/page.ts for the GPU and TF.js, bench/cpu.ts for the
 * CPU, bench/report.ts for the derived figures) run in the page, drawn by the renderer of npm start's
 * results/benchmark.html (bench/render.ts). A quick run starts on load; the full run measures npm start's sizes
 * and variants.
 */
import {
  IMPL_LABELS,
  plan,
  type Repetitions,
  type Samples,
  type Task,
  type Variant,
} from '../bench/common.js';
import { measureCpu } from '../bench/cpu.js';
import { init, measureGpu, measureTf, tfjsInfo, type AdapterReport } from '../bench/page.js';
import { renderReport } from '../bench/render.js';
import { buildReport, pow2, type Measurement } from '../bench/report.js';
import { openGpu } from './lib/adapter.js';
import { byId, clearError, el, nextFrame, publish, setState, showError } from './lib/page.js';

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
    const durationS = (performance.now() - started) / 1e3;
    const report = buildReport({
      date: new Date().toISOString(),
      adapter,
      tfjs: tf,
      node: null,
      cpus: `${navigator.hardwareConcurrency} logical CPUs (this page)`,
      timing: {
        gpu: adapter.timestampQuery
          ? 'timestamp-query around each step (GB/s, × copy) and wall time over K queued steps (ms, speedups)'
          : 'wall time over K queued steps + queue.onSubmittedWorkDone() (no timestamp-query on this adapter)',
        cpu: 'in this page’s JavaScript thread, performance.now() over K steps (npm start runs them in Node)',
        tfjs: `wall time over K queued steps + a 1-element read, webgpu backend on the ${tf.device}`,
      },
      settings: { sizes: cfg.sizes, variants: cfg.variants, ...cfg.rep },
      loadAverage: null,
      variants: cfg.variants,
      measurements,
      modeMeasurements: [],
      model: null,
      durationS,
    });
    renderReport(byId('report'), report);
    status.textContent = `${cfg.name} run done in ${durationS.toFixed(1)} s (${total} measurements).`;
    publish({ page: 'benchmark', run: cfg.name, ...report });
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
