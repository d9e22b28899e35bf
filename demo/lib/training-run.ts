/**
 * One run of the training page: the same MLP, from the same initial weights, trained full-batch on the same
 * spirals by AdaBelief, Adam and SGD with momentum, side by side. TF.js (webgpu backend) computes the forward
 * and backward passes; the updates are this library's fused kernels through `adabelief-webgpu/tfjs`, in place
 * on TF.js' buffers. No DOM: the page draws what `onBlock` hands it.
 *
 * Steps run in blocks of BLOCK_STEPS per optimizer, the optimizers taking turns block by block (so changes of
 * load hit all three alike); each block ends with one read of its losses and accuracies, which is also what
 * its wall time waits for.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdaBeliefOptimizer, AdamOptimizer, SGDOptimizer } from 'adabelief-webgpu/tfjs';
import { Mlp, accuracy, crossEntropy, initialWeights, type InitialWeights } from './mlp.js';
import { OPTIMIZER_NAMES, type OptimizerName } from './optimizers.js';
import { spirals, type Dataset } from './spirals.js';
import type { TrainingSettings } from './training-settings.js';

export const BLOCK_STEPS = 10;

/** Side of the grid the decision maps are evaluated on, and the square of the plane it covers. */
export const MAP_SIZE = 72;
export const MAP_EXTENT = 1.15;

/** The optimizer that trains model `name`, built (and so validated) from the settings. */
export interface Contender {
  name: OptimizerName;
  label: string;
  /** Its options, as getConfig() gives them. */
  options: Record<string, unknown>;
  optimizer: tf.Optimizer;
}

export function contenders(s: TrainingSettings): Contender[] {
  const make = (name: OptimizerName): [string, tf.Optimizer] => {
    switch (name) {
      case 'adabelief':
        return [
          `AdaBelief (lr ${s.lrAdabelief}, rectify ${s.rectify ? 'on' : 'off'})`,
          new AdaBeliefOptimizer({ lr: s.lrAdabelief, rectify: s.rectify, label: 'demo/train-adabelief' }),
        ];
      case 'adam':
        return [`Adam (lr ${s.lrAdam})`, new AdamOptimizer({ lr: s.lrAdam, label: 'demo/train-adam' })];
      case 'sgd':
        return [
          `SGD, momentum ${s.momentum} (lr ${s.lrSgd})`,
          new SGDOptimizer({ lr: s.lrSgd, momentum: s.momentum, label: 'demo/train-sgd' }),
        ];
    }
  };
  const made: Contender[] = [];
  try {
    for (const name of OPTIMIZER_NAMES) {
      const [label, optimizer] = make(name);
      made.push({ name, label, options: optimizer.getConfig() as Record<string, unknown>, optimizer });
    }
  } catch (e) {
    made.forEach((c) => c.optimizer.dispose());
    throw e;
  }
  return made;
}

export interface Curves {
  /** losses[k]: mean cross-entropy after k steps (k = 0 … steps); NaN where not finite. */
  losses: number[];
  /** accuracies[k]: fraction of points classified right after k steps. */
  accuracies: number[];
}

export interface TrainedOptimizer extends Curves {
  name: OptimizerName;
  label: string;
  options: Record<string, unknown>;
  /** Whole step (forward, backward, update, and its share of the block's read), ms, mean over timed blocks. */
  stepMs: number;
  /** JavaScript time spent inside applyGradients per step (ms), mean over the same blocks. */
  applyHostMs: number;
  /** Per decision-map cell (row-major from the top left), the class the model predicts. */
  map: number[];
}

export interface TrainingResult {
  data: Dataset;
  layerSizes: number[];
  parameters: number;
  optimizers: TrainedOptimizer[];
  /** Steps whose blocks were timed (the first block, with TF.js' shader compiles, is not). */
  timedSteps: number;
  /** TF.js tensors alive before the run and after it disposed everything. */
  tensorsBefore: number;
  tensorsAfter: number;
}

/** Everything the run holds on the GPU, freed by `dispose`. */
interface Arena {
  x: tf.Tensor2D;
  labels: tf.Tensor1D;
  targets: tf.Tensor2D;
  models: Mlp[];
}

function arena(data: Dataset, init: InitialWeights, names: readonly string[]): Arena {
  const x = tf.tensor2d(data.xy, [data.count, 2]);
  const labels = tf.tensor1d(data.labels, 'int32');
  const targets = tf.tidy(() => tf.cast(tf.oneHot(labels, data.classes), 'float32') as tf.Tensor2D);
  return { x, labels, targets, models: names.map((n) => new Mlp(init, `demo/${n}`)) };
}

function disposeArena(a: Arena): void {
  tf.dispose([a.x, a.labels, a.targets]);
  a.models.forEach((m) => m.dispose());
}

/** The data and initial weights a run with `s` uses (the same for every optimizer). */
export function problem(s: TrainingSettings): { data: Dataset; init: InitialWeights } {
  const data = spirals({
    classes: s.classes,
    pointsPerClass: s.pointsPerClass,
    turns: s.turns,
    noise: s.noise,
    seed: s.dataSeed,
  });
  return { data, init: initialWeights([2, s.hidden, s.hidden, s.classes], s.weightSeed) };
}

/**
 * Trains one model per contender for `s.steps` steps; `onBlock(step, curves)` sees the curves so far after
 * every block (the page redraws there). Disposes the contenders' optimizers and every tensor it made.
 */
export async function train(
  s: TrainingSettings,
  made: Contender[],
  onBlock: (step: number, curves: Curves[]) => void | Promise<void>,
): Promise<TrainingResult> {
  const tensorsBefore = tf.memory().numTensors;
  const { data, init } = problem(s);
  const a = arena(
    data,
    init,
    made.map((c) => c.name),
  );
  const grid = mapGrid();
  let result: Omit<TrainingResult, 'tensorsAfter'>;
  try {
    const curves: Curves[] = made.map(() => ({ losses: [], accuracies: [] }));
    const wallMs = made.map(() => 0);
    const hostMs = made.map(() => 0);
    let timedSteps = 0;
    for (let start = 0; start < s.steps; start += BLOCK_STEPS) {
      const block = Math.min(BLOCK_STEPS, s.steps - start);
      const timed = start > 0 || s.steps <= BLOCK_STEPS;
      for (const [i, c] of made.entries()) {
        const t0 = performance.now();
        const { values, applyMs } = await trainBlock(a, i, c.optimizer, block);
        if (timed) {
          wallMs[i]! += performance.now() - t0;
          hostMs[i]! += applyMs;
        }
        for (let k = 0; k < block; k++) {
          curves[i]!.losses.push(values[2 * k]!);
          curves[i]!.accuracies.push(values[2 * k + 1]!);
        }
      }
      if (timed) timedSteps += block;
      await onBlock(start + block, curves);
    }
    // The loss and accuracy after the last step, and each model's decision map.
    for (const [i, model] of a.models.entries()) {
      const packed = tf.tidy(() => {
        const logits = model.logits(a.x);
        return tf.stack([crossEntropy(logits, a.targets), accuracy(logits, a.labels)]);
      });
      const [loss, acc] = await packed.data().finally(() => packed.dispose());
      curves[i]!.losses.push(loss!);
      curves[i]!.accuracies.push(acc!);
    }
    const maps = await Promise.all(a.models.map((m) => predictClasses(m, grid)));
    await onBlock(s.steps, curves);
    result = {
      data,
      layerSizes: init.sizes,
      parameters: a.models[0]!.parameters,
      timedSteps,
      tensorsBefore,
      optimizers: made.map((c, i) => ({
        name: c.name,
        label: c.label,
        options: c.options,
        ...curves[i]!,
        stepMs: wallMs[i]! / timedSteps,
        applyHostMs: hostMs[i]! / timedSteps,
        map: maps[i]!,
      })),
    };
  } finally {
    grid.dispose();
    disposeArena(a);
    made.forEach((c) => c.optimizer.dispose());
  }
  return { ...result, tensorsAfter: tf.memory().numTensors };
}

/**
 * `steps` full-batch steps of model `i` with `optimizer`: per step, TF.js' forward and backward pass (the loss,
 * and the accuracy from the same logits), then the optimizer's update. Returns loss, accuracy, loss, … read
 * once at the end, and the JavaScript time spent inside applyGradients.
 */
async function trainBlock(
  a: Arena,
  i: number,
  optimizer: tf.Optimizer,
  steps: number,
): Promise<{ values: Float32Array; applyMs: number }> {
  const model = a.models[i]!;
  const scalars: tf.Scalar[] = [];
  let applyMs = 0;
  try {
    for (let k = 0; k < steps; k++) {
      let acc: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.logits(a.x);
        acc = tf.keep(accuracy(logits, a.labels));
        return crossEntropy(logits, a.targets);
      }, model.variables);
      scalars.push(value, acc!);
      const t0 = performance.now();
      try {
        optimizer.applyGradients(grads);
      } finally {
        applyMs += performance.now() - t0;
        tf.dispose(grads);
      }
    }
    const packed = tf.stack(scalars);
    const values = (await packed.data().finally(() => packed.dispose())) as Float32Array;
    return { values, applyMs };
  } finally {
    tf.dispose(scalars);
  }
}

/** The centres of the decision map's cells, row by row from the top left: [MAP_SIZE², 2]. */
function mapGrid(): tf.Tensor2D {
  const xy = new Float32Array(2 * MAP_SIZE * MAP_SIZE);
  for (let row = 0; row < MAP_SIZE; row++)
    for (let col = 0; col < MAP_SIZE; col++) {
      const k = row * MAP_SIZE + col;
      xy[2 * k] = -MAP_EXTENT + ((col + 0.5) / MAP_SIZE) * 2 * MAP_EXTENT;
      xy[2 * k + 1] = MAP_EXTENT - ((row + 0.5) / MAP_SIZE) * 2 * MAP_EXTENT;
    }
  return tf.tensor2d(xy, [MAP_SIZE * MAP_SIZE, 2]);
}

async function predictClasses(model: Mlp, grid: tf.Tensor2D): Promise<number[]> {
  const classes = tf.tidy(() => tf.argMax(model.logits(grid), 1));
  const values = await classes.data();
  classes.dispose();
  return Array.from(values);
}

export interface StepTiming {
  name: string;
  /** ms per applyGradients on fixed gradients: K calls, then one read of a weight; median over repetitions. */
  optimizerMs: number;
  /** JavaScript time per applyGradients call (ms), median. */
  hostMs: number;
}

export interface TimingResult {
  /** ms per forward + backward pass (tf.variableGrads) alone, the same model: P passes and one read, median. */
  forwardBackwardMs: number;
  passesPerRepetition: number;
  /** This library's three optimizers, then TF.js' own Adam and momentum optimizers on the same model. */
  steps: StepTiming[];
  callsPerRepetition: number;
  repetitions: number;
}

/**
 * The parts of a step, measured apart on fresh models from the same initial weights (the trained curves are
 * not touched): the forward and backward pass alone, and each optimizer's step alone on fixed gradients —
 * this library's three next to TF.js' own `tf.train.adam` and `tf.train.momentum` with the same settings.
 */
export async function timeStepParts(
  s: TrainingSettings,
  calls = 10,
  passes = 5,
  repetitions = 3,
): Promise<TimingResult> {
  const { data, init } = problem(s);
  const made = contenders(s);
  const all: { name: string; optimizer: tf.Optimizer }[] = [
    ...made.map((c) => ({ name: c.label, optimizer: c.optimizer })),
    { name: `TF.js tf.train.adam (lr ${s.lrAdam})`, optimizer: tf.train.adam(s.lrAdam, 0.9, 0.999, 1e-8) },
    {
      name: `TF.js tf.train.momentum ${s.momentum} (lr ${s.lrSgd})`,
      optimizer: tf.train.momentum(s.lrSgd, s.momentum),
    },
  ];
  const a = arena(
    data,
    init,
    all.map((_, i) => `timing-${i}`),
  );
  const loss = (model: Mlp) => () => crossEntropy(model.logits(a.x), a.targets);
  try {
    const steps: StepTiming[] = [];
    for (const [i, { name, optimizer }] of all.entries()) {
      const model = a.models[i]!;
      const { value, grads } = tf.variableGrads(loss(model), model.variables);
      value.dispose();
      try {
        const probe = model.variables.at(-1)!;
        const { wall, host } = await repeat(
          repetitions,
          calls,
          () => optimizer.applyGradients(grads),
          () => probe.data(),
        );
        steps.push({ name, optimizerMs: wall, hostMs: host });
      } finally {
        tf.dispose(grads);
      }
    }
    let last: tf.Scalar | undefined;
    const pass = () => {
      last?.dispose();
      const r = tf.variableGrads(loss(a.models[0]!), a.models[0]!.variables);
      tf.dispose(r.grads);
      last = r.value;
    };
    const { wall: forwardBackwardMs } = await repeat(repetitions, passes, pass, () => last!.data());
    last?.dispose();
    return { forwardBackwardMs, passesPerRepetition: passes, steps, callsPerRepetition: calls, repetitions };
  } finally {
    disposeArena(a);
    all.forEach((o) => disposeOptimizer(o.optimizer));
  }
}

/**
 * Runs `work` `calls` times, then awaits `sync` (a read, so the GPU finished it), once to warm up and then
 * `repetitions` times: the median wall time per call, and the median JavaScript time per call (before `sync`).
 */
async function repeat(
  repetitions: number,
  calls: number,
  work: () => void,
  sync: () => Promise<unknown>,
): Promise<{ wall: number; host: number }> {
  const wall: number[] = [];
  const host: number[] = [];
  for (let rep = -1; rep < repetitions; rep++) {
    const t0 = performance.now();
    for (let k = 0; k < calls; k++) work();
    const t1 = performance.now();
    await sync();
    if (rep >= 0) {
      wall.push((performance.now() - t0) / calls);
      host.push((t1 - t0) / calls);
    }
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
  return { wall: median(wall), host: median(host) };
}

/**
 * `optimizer.dispose()`, plus the learning-rate scalar that TF.js 4.22's MomentumOptimizer.dispose() leaves
 * behind (it frees its momentum scalar and buffers but not the `c` its SGD base class keeps).
 */
function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  if (optimizer instanceof tf.MomentumOptimizer) {
    const c = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }
}
