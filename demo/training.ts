/**
 * The training page: one MLP, three optimizers (this library's AdaBelief, Adam and SGD with momentum through
 * adabelief-webgpu/tfjs), the same initial weights and data, trained side by side with TF.js on the page's
 * WebGPU device (demo/lib/training-run.ts). Loss and accuracy curves grow live; then each model's decision
 * map, the run's figures and the step time, split into its parts. Settings come from the controls and the
 * URL (`?steps=100&lrAdam=0.02`); the figures go to `window.demoResult`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { openGpu, type DemoGpu } from './lib/adapter.js';
import { Curves, PALETTE, decisionMap } from './lib/charts.js';
import {
  addFieldInput,
  byId,
  clearError,
  el,
  nextFrame,
  publish,
  setFieldInput,
  setState,
  showError,
} from './lib/page.js';
import { TFJS_VERSION, useTfjsOn } from './lib/tfjs-webgpu.js';
import {
  BLOCK_STEPS,
  MAP_EXTENT,
  MAP_SIZE,
  contenders,
  timeStepParts,
  train,
  type Curves as TrainingCurves,
  type TimingResult,
  type TrainedOptimizer,
  type TrainingResult,
} from './lib/training-run.js';
import {
  TRAINING_DEFAULTS,
  TRAINING_FIELDS,
  parseTrainingField,
  settingsFromQuery,
  settingsToQuery,
  type TrainingSettings,
} from './lib/training-settings.js';

/** Accuracy a model must reach for "steps to reach" in the figures. */
const ACCURACY_MARK = 0.9;

let gpu: DemoGpu | null = null;
let settings: TrainingSettings = { ...TRAINING_DEFAULTS };
let running: Promise<void> = Promise.resolve();

function buildControls(): void {
  const form = byId<HTMLFormElement>('controls');
  for (const f of TRAINING_FIELDS)
    addFieldInput(form, f, (value) => {
      settings = { ...settings, [f.key]: typeof value === 'boolean' ? value : parseTrainingField(f, value) };
      clearError();
    });
  const rerun = el('button', { type: 'button', id: 'run' }, 'Run again');
  rerun.addEventListener('click', schedule);
  const reset = el('button', { type: 'button' }, 'Reset to defaults');
  reset.addEventListener('click', () => {
    settings = { ...TRAINING_DEFAULTS };
    fillControls();
    schedule();
  });
  form.append(rerun, reset);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    schedule();
  });
  fillControls();
}

function fillControls(): void {
  for (const f of TRAINING_FIELDS) setFieldInput(f.key, settings[f.key]);
}

/** Runs (after any run in progress) with the current settings. */
function schedule(): void {
  clearError();
  running = running.then(run, run);
}

/** The live loss and accuracy charts of a run: `update` redraws them with the curves so far. */
function curveCharts(names: { label: string; name: keyof typeof PALETTE }[], steps: number) {
  const lines = names.map((n) => ({ name: n.label, color: PALETTE[n.name] }));
  const loss = new Curves(byId('loss'), {
    title: 'Training loss (cross-entropy, log scale)',
    yLabel: 'loss',
    steps,
    log: true,
    lines,
  });
  const accuracy = new Curves(byId('accuracy'), {
    title: 'Training accuracy',
    yLabel: 'accuracy',
    steps,
    yRange: [0, 1],
    lines,
  });
  return {
    update(curves: TrainingCurves[]) {
      loss.update(curves.map((c) => c.losses));
      accuracy.update(curves.map((c) => c.accuracies));
    },
  };
}

/** First step k with accuracies[k] ≥ mark, or null. */
function stepsToReach(accuracies: number[], mark: number): number | null {
  const k = accuracies.findIndex((a) => a >= mark);
  return k < 0 ? null : k;
}

/** First step whose loss is not finite, or null. */
function divergedAt(losses: number[]): number | null {
  const k = losses.findIndex((l) => !Number.isFinite(l));
  return k < 0 ? null : k;
}

const fmt = (x: number, digits = 3) =>
  !Number.isFinite(x)
    ? '—'
    : x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)
      ? x.toExponential(2)
      : x.toFixed(digits);

function showFigures(r: TrainingResult): void {
  const head = [
    'optimizer',
    'initial loss',
    'final loss',
    'initial / final',
    'final accuracy',
    `steps to ${ACCURACY_MARK * 100}% accuracy`,
    'note',
  ];
  const rows = r.optimizers.map((o) => {
    const first = o.losses[0]!;
    const last = o.losses.at(-1)!;
    const reached = stepsToReach(o.accuracies, ACCURACY_MARK);
    const diverged = divergedAt(o.losses);
    return el(
      'tr',
      { 'data-optimizer': o.name },
      ...[
        o.label,
        fmt(first, 4),
        fmt(last, 4),
        Number.isFinite(first / last) ? `${fmt(first / last, 1)}×` : '—',
        `${fmt(o.accuracies.at(-1)! * 100, 1)}%`,
        reached === null ? 'not reached' : String(reached),
        diverged === null ? '' : `loss not finite from step ${diverged}`,
      ].map((t) => el('td', {}, t)),
    );
  });
  byId('figures').replaceChildren(
    el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))), ...rows),
    el(
      'p',
      { class: 'note' },
      `${r.data.count} points in ${r.data.classes} classes; model ${r.layerSizes.join(' → ')} ` +
        `(${r.parameters} parameters in ${r.layerSizes.length * 2 - 2} tensors); full-batch steps.`,
    ),
  );
}

function showMaps(r: TrainingResult): void {
  const maps = byId('maps');
  maps.replaceChildren();
  for (const o of r.optimizers) {
    const figure = decisionMap({
      title: `${o.label}: ${fmt(o.accuracies.at(-1)! * 100, 1)}%`,
      size: MAP_SIZE,
      classes: o.map,
      extent: MAP_EXTENT,
      xy: r.data.xy,
      labels: r.data.labels,
    });
    maps.append(el('div', { id: `map-${o.name}`, 'aria-label': `decision map of ${o.label}` }, figure));
  }
}

function showTiming(r: TrainingResult, t: TimingResult): void {
  const head = [
    'optimizer',
    'whole step, training (ms)',
    'of which JavaScript in applyGradients (ms)',
    'alone, after the run (ms)',
    'its JavaScript (ms)',
  ];
  const row = (name: string, cells: string[]) =>
    el('tr', {}, el('td', {}, name), ...cells.map((c) => el('td', {}, c)));
  const ours = r.optimizers.map((o) => {
    const alone = t.steps.find((s) => s.name === o.label)!;
    return row(o.label, [
      fmt(o.stepMs, 2),
      fmt(o.applyHostMs, 3),
      fmt(alone.optimizerMs, 2),
      fmt(alone.hostMs, 3),
    ]);
  });
  const references = t.steps
    .filter((s) => !r.optimizers.some((o) => o.label === s.name))
    .map((s) => row(s.name, ['—', '—', fmt(s.optimizerMs, 2), fmt(s.hostMs, 3)]));
  byId('timing').replaceChildren(
    el(
      'table',
      {},
      el('tr', {}, ...head.map((h) => el('th', {}, h))),
      ...ours,
      ...references,
      row('forward + backward alone (TF.js, tf.variableGrads)', ['—', '—', fmt(t.forwardBackwardMs, 2), '—']),
    ),
  );
  const steps = r.optimizers[0]!.losses.length - 1;
  const over =
    r.timedSteps < steps
      ? `mean over steps ${steps - r.timedSteps + 1}–${steps} (the first block, where TF.js compiles its shaders and ` +
        `the optimizers create their GPU objects, is left out)`
      : `mean over all ${steps} steps, including the first block's warm-up (TF.js compiles its shaders, the ` +
        `optimizers create their GPU objects): run more than ${BLOCK_STEPS} steps to leave it out`;
  byId('timing-note').textContent =
    `Whole step: wall time of the training blocks (${BLOCK_STEPS} steps of one optimizer, then one read of their ` +
    `losses), per step, ${over}. Alone: after the run, ` +
    `on fresh copies of the model, ${t.callsPerRepetition} calls then one read of a weight, median of ` +
    `${t.repetitions} repetitions; TF.js' own optimizers with the same settings for comparison. "JavaScript" is the ` +
    `time spent in the calls before waiting for the GPU. Timings on a CPU fallback adapter (SwiftShader) say ` +
    `nothing about a real GPU.`;
}

function summary(o: TrainedOptimizer, t: TimingResult) {
  const alone = t.steps.find((s) => s.name === o.label)!;
  const initialLoss = o.losses[0]!;
  const finalLoss = o.losses.at(-1)!;
  return {
    label: o.label,
    options: o.options,
    initialLoss,
    finalLoss,
    lossRatio: initialLoss / finalLoss,
    finalAccuracy: o.accuracies.at(-1)!,
    stepsTo90: stepsToReach(o.accuracies, ACCURACY_MARK),
    divergedAt: divergedAt(o.losses),
    stepMs: o.stepMs,
    applyHostMs: o.applyHostMs,
    optimizerMs: alone.optimizerMs,
    optimizerHostMs: alone.hostMs,
    losses: o.losses,
    accuracies: o.accuracies,
  };
}

async function run(): Promise<void> {
  if (!gpu) return;
  setState('running');
  const current = { ...settings };
  history.replaceState(null, '', `?${settingsToQuery(current)}`);
  const status = byId('status');
  const button = byId<HTMLButtonElement>('run');
  button.disabled = true;
  const started = performance.now();
  try {
    const made = contenders(current);
    const names = made.map((c) => ({ label: c.label, name: c.name }));
    const charts = curveCharts(names, current.steps);
    status.textContent = 'Training…';
    const result = await train(current, made, async (step, curves) => {
      charts.update(curves);
      status.textContent = `Training: step ${step} / ${current.steps} of each optimizer…`;
      await nextFrame();
    });
    showMaps(result);
    showFigures(result);
    status.textContent = 'Timing the parts of a step…';
    await nextFrame();
    const timing = await timeStepParts(current);
    const tensorsAtEnd = tf.memory().numTensors;
    showTiming(result, timing);
    const durationS = (performance.now() - started) / 1e3;
    status.textContent = `Done: ${current.steps} steps of each optimizer, then the step timing, in ${durationS.toFixed(1)} s.`;
    publish({
      page: 'training',
      settings: current,
      adapter: gpu.summary,
      tfjs: TFJS_VERSION,
      layerSizes: result.layerSizes,
      parameters: result.parameters,
      points: result.data.count,
      blockSteps: BLOCK_STEPS,
      timedSteps: result.timedSteps,
      tensorsBefore: result.tensorsBefore,
      tensorsAfter: result.tensorsAfter,
      tensorsAtEnd,
      durationS,
      optimizers: Object.fromEntries(result.optimizers.map((o) => [o.name, summary(o, timing)])),
      timing,
    });
    setState('done');
  } catch (e) {
    status.textContent = '';
    showError('The run failed', e);
  } finally {
    button.disabled = false;
  }
}

async function main(): Promise<void> {
  let urlOk = true;
  try {
    settings = settingsFromQuery(new URLSearchParams(location.search));
  } catch (e) {
    // Said on the page, and no run: the user fixes the setting and presses Run again.
    showError('Bad URL', e);
    urlOk = false;
    settings = { ...TRAINING_DEFAULTS };
  }
  buildControls();
  gpu = await openGpu(byId('adapter'));
  if (!gpu) return;
  await useTfjsOn(gpu);
  byId('adapter').append(
    el(
      'p',
      { class: 'note' },
      `TF.js ${TFJS_VERSION}, webgpu backend on this page's GPUDevice: the forward and backward passes and the ` +
        `optimizer steps share one device and one queue.`,
    ),
  );
  if (!urlOk) return;
  running = run();
  await running;
}

main().catch((e: unknown) => showError('The page failed to start', e));
