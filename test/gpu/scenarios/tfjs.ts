/**
 * In-page scenarios of the TF.js adapter (adabelief-webgpu/tfjs), called from test/gpu/tfjs.test.ts: TF.js'
 * webgpu backend (its own device on the page's adapter) or its cpu backend, a small tf.sequential model,
 * and the CPU reference fed the very gradients TF.js computed. Each returns plain numbers for Node to
 * assert and print.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-cpu';
import {
  AdaBeliefCPU,
  AdamCPU,
  AdamWCPU,
  SGDCPU,
  type AdaBeliefOptions,
  type AdamOptions,
  type SGDOptions,
} from '../../../src/index.js';
import { AdaBeliefOptimizer, AdamOptimizer, AdamWOptimizer, SGDOptimizer } from '../../../src/tfjs/index.js';
import { compareArrays, ulpF32, type ErrorStats } from '../../helpers/compare.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { randomArray, rng } from './harness.js';

export type BackendName = 'webgpu' | 'cpu';
export type Report = Record<string, ErrorStats>;

/** Switches TF.js to `name`; for webgpu, fails loudly when the browser has no WebGPU adapter. */
async function useBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu') {
    if (!navigator.gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
    if (!(await navigator.gpu.requestAdapter()))
      throw new Error('requestAdapter() returned null: no WebGPU adapter');
  }
  if (!(await tf.setBackend(name))) throw new Error(`TF.js could not initialise its '${name}' backend`);
  await tf.ready();
}

function webgpuDevice(): GPUDevice {
  return (tf.backend() as unknown as { device: GPUDevice }).device;
}

export async function info(): Promise<{ tfjs: string; layers: string; adapter: string }> {
  await useBackend('webgpu');
  const a = webgpuDevice().adapterInfo;
  return {
    tfjs: tf.version_core,
    layers: tfl.version_layers,
    adapter: `${a.vendor} / ${a.architecture} / ${a.description}`,
  };
}

/** The message `f` throws, or 'no error'. */
function caught(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

/** A dense 8→16→3 model with weights from `seed`, and a fixed batch of 32 samples. */
function smallModel(seed: number): { model: tfl.Sequential; x: tf.Tensor; y: tf.Tensor } {
  const r = rng(seed);
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, inputShape: [8], activation: 'relu' }),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const init = model.getWeights().map((w) => tf.tensor(randomArray(r, w.size, 0.3), w.shape));
  model.setWeights(init);
  tf.dispose(init);
  const data = rng(seed + 1);
  const x = tf.tensor2d(randomArray(data, 32 * 8, 1), [32, 8]);
  const y = tf.tensor2d(randomArray(data, 32 * 3, 1), [32, 3]);
  return { model, x, y };
}

function variablesOf(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

const mse = (model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor) => () =>
  tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;

/** The optimizer's weights by name, as Float32Arrays. */
async function weightsByName(opt: tf.Optimizer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const { name, tensor } of await opt.getWeights())
    out.set(name, Float32Array.from(await tensor.data()));
  return out;
}

export interface ParityConfig {
  backend: BackendName;
  seed: number;
  steps: number;
  options: Partial<AdaBeliefOptions>;
  /** Changes lr at this step (both sides). */
  lrChange?: { at: number; lr: number };
}

export interface ParityResult {
  report: Report;
  stepCounts: Record<string, number>;
  iterations: number;
  lossFirst: number;
  lossLast: number;
  leakedTensors: number;
}

/**
 * Trains the small model `steps` steps with AdaBeliefOptimizer.applyGradients, feeding every step's
 * gradients (read back) to one AdaBeliefCPU per variable too, then compares weights and state: on webgpu
 * within the derived GPU tolerance (test/helpers/tolerance.ts), on the cpu backend exactly (tolerance 0).
 */
export async function parity(cfg: ParityConfig): Promise<ParityResult> {
  return trainAgainstMirror(
    cfg,
    {
      tfjs: (o) => new AdaBeliefOptimizer(o),
      cpu: (p, o) => new AdaBeliefCPU([p], o),
      keys: { m: 'exp_avg', s: 'exp_avg_var', smax: 'max_exp_avg_var' },
    },
    (name, wantState, got) => {
      if (wantState && !got) throw new Error(`getWeights() has no '${name}'`);
    },
    () => ({}),
  );
}

export type VariantName = 'adam' | 'adamw' | 'sgd';

export interface VariantParityConfig {
  variant: VariantName;
  backend: BackendName;
  seed: number;
  steps: number;
  options: Partial<AdamOptions> | Partial<SGDOptions>;
  /** Changes lr at this step (both sides). */
  lrChange?: { at: number; lr: number };
}

export interface VariantParityResult extends ParityResult {
  className: string;
  /** getWeights() names of the first variable, without the variable's name. */
  stateSuffixes: string[];
}

/** What the parity test uses of AdamOptimizer, AdamWOptimizer, SGDOptimizer. */
interface TestedOptimizer extends tf.Optimizer {
  lr: number;
  readonly stepCounts: Record<string, number>;
}

/** What it uses of their CPU mirrors. */
interface Mirror {
  readonly params: Float32Array[];
  step(grads: Float32Array[]): void;
  set(changes: object): void;
  exportState(): { tensors: Record<string, Float32Array>[] };
}

/** A TF.js optimizer of this package and its CPU mirror, with the mirror's state key of each weight suffix. */
const VARIANTS = {
  adam: {
    tfjs: (o: object) => new AdamOptimizer(o),
    cpu: (p: Float32Array, o: object) => new AdamCPU([p], o),
    keys: { m: 'exp_avg', v: 'exp_avg_sq', vmax: 'max_exp_avg_sq' },
  },
  adamw: {
    tfjs: (o: object) => new AdamWOptimizer(o),
    cpu: (p: Float32Array, o: object) => new AdamWCPU([p], o),
    keys: { m: 'exp_avg', v: 'exp_avg_sq', vmax: 'max_exp_avg_sq' },
  },
  sgd: {
    tfjs: (o: object) => new SGDOptimizer(o),
    cpu: (p: Float32Array, o: object) => new SGDCPU([p], o),
    keys: { momentum: 'momentum_buffer' },
  },
} satisfies Record<VariantName, OptimizerAndMirror>;

/**
 * `parity` for AdamOptimizer, AdamWOptimizer and SGDOptimizer: the small model trained `steps` steps with
 * applyGradients, every step's gradients (read back) fed to the CPU mirror too (AdamCPU, AdamWCPU, SGDCPU);
 * then weights and every state tensor of getWeights() compared, on webgpu within the derived GPU tolerance,
 * on the cpu backend exactly.
 */
export async function variantParity(cfg: VariantParityConfig): Promise<VariantParityResult> {
  return trainAgainstMirror(
    cfg,
    VARIANTS[cfg.variant],
    (name, wantState, got) => {
      if (!wantState !== !got)
        throw new Error(`'${name}': in getWeights() ${!!got}, in the mirror ${!!wantState}`);
    },
    (opt, state, vars) => {
      const first = vars[0]!.name;
      return {
        className: opt.getClassName(),
        stateSuffixes: [...state.keys()]
          .filter((k) => k.startsWith(`${first}/`))
          .map((k) => k.slice(first.length + 1)),
      };
    },
  );
}

/** A TF.js optimizer of this package, its CPU mirror, and the mirror's state key of each weight suffix. */
interface OptimizerAndMirror {
  tfjs(o: object): TestedOptimizer;
  cpu(p: Float32Array, o: object): Mirror;
  keys: Record<string, string>;
}

/**
 * What `parity` and `variantParity` share: trains the small model `cfg.steps` steps with
 * `applyGradients`, every step's gradients (read back) fed to one CPU mirror per variable too, then compares
 * weights and each state tensor of `spec.keys` (getWeights() suffix → mirror key): on webgpu within the
 * derived GPU tolerance (test/helpers/tolerance.ts), on the cpu backend exactly (tolerance 0). `checkPresence` throws
 * where a state tensor is missing on a side it must be on; one missing on either side is not compared.
 * `describe` adds fields to the result, before the optimizer is disposed.
 */
async function trainAgainstMirror<E extends object>(
  cfg: ParityConfig | VariantParityConfig,
  spec: OptimizerAndMirror,
  checkPresence: (name: string, wantState: Float32Array | undefined, got: Float32Array | undefined) => void,
  describe: (opt: TestedOptimizer, state: Map<string, Float32Array>, vars: tf.Variable[]) => E,
): Promise<E & ParityResult> {
  await useBackend(cfg.backend);
  const { model, x, y } = smallModel(cfg.seed);
  const vars = variablesOf(model);
  const opt = spec.tfjs(cfg.options);
  const refs = await Promise.all(
    vars.map(async (v) => spec.cpu(Float32Array.from(await v.data()), cfg.options)),
  );
  const travel = vars.map((v) => new Float64Array(v.size));
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  for (let step = 1; step <= cfg.steps; step++) {
    if (cfg.lrChange?.at === step) {
      opt.lr = cfg.lrChange.lr;
      for (const r of refs) r.set({ lr: cfg.lrChange.lr });
    }
    const { value, grads } = tf.variableGrads(mse(model, x, y), vars);
    losses.push((await value.data())[0]!);
    for (const [i, v] of vars.entries()) {
      const p = refs[i]!.params[0]!;
      const prev = p.slice();
      refs[i]!.step([Float32Array.from(await grads[v.name]!.data())]);
      for (let k = 0; k < p.length; k++) travel[i]![k]! += Math.abs(p[k]! - prev[k]!);
    }
    opt.applyGradients(grads);
    tf.dispose(grads);
    value.dispose();
  }
  const leakedTensors = tf.memory().numTensors - before;
  const exact = cfg.backend !== 'webgpu';
  const report: Report = {};
  const state = await weightsByName(opt);
  for (const [i, v] of vars.entries()) {
    const want = refs[i]!.params[0]!;
    const tol = exact ? () => 0 : paramTolerance(want, travel[i]!, cfg.steps);
    report[`${v.name} param`] = compareArrays(await v.data(), want, tol);
    const ref = refs[i]!.exportState().tensors[0]!;
    for (const [suffix, key] of Object.entries(spec.keys)) {
      const wantState = ref[key];
      const got = state.get(`${v.name}/${suffix}`);
      checkPresence(`${v.name}/${suffix}`, wantState, got);
      if (!wantState || !got) continue;
      report[`${v.name} ${suffix}`] = compareArrays(
        got,
        wantState,
        exact ? () => 0 : stateTolerance(wantState, cfg.steps),
      );
    }
  }
  const result = {
    ...describe(opt, state, vars),
    report,
    stepCounts: opt.stepCounts,
    iterations: state.get('iter')![0]!,
    lossFirst: losses[0]!,
    lossLast: losses.at(-1)!,
    leakedTensors,
  };
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return result;
}

export interface RegistryResult {
  /** Class registered under each name in TF.js' serialization map. */
  registered: Record<string, string>;
  /** getConfig() of each of ours, and getConfig() of the optimizer fromConfig() rebuilt from it. */
  configs: Record<string, { config: unknown; rebuilt: unknown }>;
  /** Validation messages. */
  errors: Record<string, string>;
}

/**
 * Serialization names: ours next to TF.js' own Adam / SGD / Momentum (which must stay TF.js'), the
 * getConfig() → fromConfig() round trip, and the validation messages of the three constructors.
 */
export async function variantRegistry(): Promise<RegistryResult> {
  await useBackend('cpu');
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  const registered: Record<string, string> = {};
  for (const name of [
    'Adam',
    'SGD',
    'Momentum',
    'FusedAdamOptimizer',
    'FusedAdamWOptimizer',
    'FusedSGDOptimizer',
  ])
    registered[name] = map[name]?.[0]?.name ?? 'none';
  const made = {
    FusedAdamOptimizer: new AdamOptimizer({ lr: 2e-3, betas: [0.8, 0.99], amsgrad: true, weightDecay: 1e-4 }),
    FusedAdamWOptimizer: new AdamWOptimizer({ lr: 3e-3, eps: 1e-6 }),
    FusedSGDOptimizer: new SGDOptimizer({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
  };
  const configs: RegistryResult['configs'] = {};
  for (const [name, opt] of Object.entries(made)) {
    const [cls, fromConfig] = map[name]!;
    const config = opt.getConfig();
    const rebuilt = fromConfig(cls, { ...config, customObjects: {} }) as unknown as tf.Optimizer;
    configs[name] = { config, rebuilt: rebuilt.getConfig() };
    rebuilt.dispose();
  }
  const errors = {
    adamLr: caught(() => new AdamOptimizer({ lr: -1 })),
    adamwBeta: caught(() => new AdamWOptimizer({ betas: [1, 0.999] })),
    adamUnknown: caught(() => new AdamOptimizer({ momentum: 0.9 } as never)),
    adamAmsgrad: caught(() => made.FusedAdamOptimizer.set({ amsgrad: false })),
    sgdMomentum: caught(() => new SGDOptimizer({ momentum: -1 })),
    sgdNesterov: caught(() => new SGDOptimizer({ nesterov: true })),
  };
  Object.values(made).forEach((o) => o.dispose());
  return { registered, configs, errors };
}

export interface MemoryResult {
  steps: number;
  tensorsBefore: number;
  tensorsAfter: number;
  gpuBytesBefore: number;
  gpuBytesAfter: number;
  allocatedBefore: number;
  allocatedAfter: number;
  /** GPUBuffers created with the optimizer's label during the measured steps. */
  optimizerBuffersCreated: number;
  /** GPUBuffers created by anyone during the measured steps. */
  buffersCreated: number;
}

/** `optimizer.minimize` for `steps` steps after two warm-up steps: tensors, TF.js GPU bytes, buffers created. */
export async function memory(steps: number): Promise<MemoryResult> {
  await useBackend('webgpu');
  const { model, x, y } = smallModel(3);
  const opt = new AdaBeliefOptimizer({ lr: 1e-2, label: 'tfjs-memory-test' });
  const loss = mse(model, x, y);
  const step = () => tf.dispose(opt.minimize(loss, true)!);
  step();
  step();
  const device = webgpuDevice();
  const create = device.createBuffer;
  let ours = 0;
  let all = 0;
  device.createBuffer = function (desc: GPUBufferDescriptor) {
    all++;
    if (desc.label?.startsWith('tfjs-memory-test')) ours++;
    return create.call(this, desc);
  };
  const mem = () => tf.memory() as tf.MemoryInfo & { numBytesInGPU: number; numBytesAllocatedInGPU: number };
  await model.getWeights()[0]!.data();
  const m0 = mem();
  try {
    for (let k = 0; k < steps; k++) step();
    await model.getWeights()[0]!.data();
  } finally {
    device.createBuffer = create;
  }
  const m1 = mem();
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return {
    steps,
    tensorsBefore: m0.numTensors,
    tensorsAfter: m1.numTensors,
    gpuBytesBefore: m0.numBytesInGPU,
    gpuBytesAfter: m1.numBytesInGPU,
    allocatedBefore: m0.numBytesAllocatedInGPU,
    allocatedAfter: m1.numBytesAllocatedInGPU,
    optimizerBuffersCreated: ours,
    buffersCreated: all,
  };
}

/** Largest |a - b| in ulps of b. */
function maxUlp(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / ulpF32(b[i]!));
  return worst;
}

export interface ReadResult {
  /** Per step: whether TF.js held a CPU copy of the variable's values just before the step. */
  cachedBefore: boolean[];
  /** Per step: max ulp of data(), then dataSync(), then an op reading the variable, against the CPU reference. */
  data: number[];
  dataSync: number[];
  op: number[];
  /** Whether the values read after each step differ from those before it. */
  changed: boolean[];
  /** The tensor the variable was made from, after the steps, against its original values (max |Δ|). */
  sourceChange: number;
}

/**
 * A variable made with `tf.variable(x)` (sharing x's data, values still on the CPU), with a CPU copy of its
 * values cached before every step: after each step `data()` (which returns that cache when there is one),
 * `dataSync()` and an op reading the variable return the updated values, and x keeps its own.
 *
 * `dataSync()` reads from the CPU copy that `data()` refilled: TF.js' own synchronous GPU read (an
 * OffscreenCanvas copy) returns zeros and destroys the device in headless Chromium on SwiftShader, with or
 * without this optimizer (plain `tf.mul(tf.fill([5000], 2), 3).dataSync()` does it), so it is not run here.
 */
export async function readsAfterStep(steps: number): Promise<ReadResult> {
  await useBackend('webgpu');
  const backend = tf.backend() as unknown as { tensorMap: { get(id: unknown): { values: unknown } } };
  const r = rng(21);
  const p0 = randomArray(r, 37, 1);
  const source = tf.tensor1d(p0);
  const v = tf.variable(source, true, 'tfjs-read-test');
  const opt = new AdaBeliefOptimizer({ lr: 0.05, rectify: false });
  const ref = new AdaBeliefCPU([p0.slice()], { lr: 0.05, rectify: false });
  const out: ReadResult = { cachedBefore: [], data: [], dataSync: [], op: [], changed: [], sourceChange: 0 };
  let before = v.dataSync().slice(); // CPU-resident values: no GPU read
  for (let step = 0; step < steps; step++) {
    out.cachedBefore.push(backend.tensorMap.get(v.dataId).values != null);
    const g = randomArray(r, 37, 0.1);
    const grad = tf.tensor1d(g);
    opt.applyGradients({ [v.name]: grad });
    grad.dispose();
    ref.step([g]);
    const want = ref.params[0]!;
    const fresh = await v.data();
    out.data.push(maxUlp(fresh, want));
    out.changed.push(fresh.some((x, i) => x !== before[i]));
    out.dataSync.push(maxUlp(v.dataSync(), want));
    const viaOp = tf.mul(v, 1);
    out.op.push(maxUlp(await viaOp.data(), want));
    viaOp.dispose();
    before = fresh.slice();
  }
  const src = await source.data();
  out.sourceChange = Math.max(...Array.from(src, (x, i) => Math.abs(x - p0[i]!)));
  opt.dispose();
  v.dispose();
  source.dispose();
  return out;
}

export interface MissingResult {
  /** b after the step without its gradient equals b before it, bit for bit (params and state). */
  bUnchanged: boolean;
  stepCounts: Record<string, number>;
  iterations: number;
  /** Against per-variable CPU references stepped only when their gradient is present. */
  maxUlp: Record<string, number>;
}

/** Two variables; step 2 has no gradient for b (array form, undefined), step 3 none for a (map form). */
export async function missingGradient(backend: BackendName): Promise<MissingResult> {
  await useBackend(backend);
  const r = rng(33);
  const a0 = randomArray(r, 10, 1);
  const b0 = randomArray(r, 6, 1);
  const a = tf.variable(tf.tensor1d(a0), true, `missing-a-${backend}`);
  const b = tf.variable(tf.tensor1d(b0), true, `missing-b-${backend}`);
  const opts = { lr: 0.01, rectify: false };
  const opt = new AdaBeliefOptimizer(opts);
  const refA = new AdaBeliefCPU([a0.slice()], opts);
  const refB = new AdaBeliefCPU([b0.slice()], opts);
  const ga = [randomArray(r, 10, 0.1), randomArray(r, 10, 0.1)];
  const gb = [randomArray(r, 6, 0.1), randomArray(r, 6, 0.1)];
  const t = (arr: Float32Array) => tf.tensor1d(arr);

  let grads: tf.Tensor[] = [t(ga[0]!), t(gb[0]!)];
  opt.applyGradients([
    { name: a.name, tensor: grads[0]! },
    { name: b.name, tensor: grads[1]! },
  ]);
  refA.step([ga[0]!]);
  refB.step([gb[0]!]);
  tf.dispose(grads);
  const bBefore = await b.data();
  const stateBefore = await weightsByName(opt);

  grads = [t(ga[1]!)];
  opt.applyGradients([
    { name: a.name, tensor: grads[0]! },
    { name: b.name, tensor: undefined as unknown as tf.Tensor },
  ]);
  refA.step([ga[1]!]);
  tf.dispose(grads);
  const bAfter = await b.data();
  const stateAfter = await weightsByName(opt);
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  const bUnchanged =
    same(bBefore, bAfter) &&
    ['m', 's'].every((k) => same(stateBefore.get(`${b.name}/${k}`)!, stateAfter.get(`${b.name}/${k}`)!));

  grads = [t(gb[1]!)];
  opt.applyGradients({ [b.name]: grads[0]! });
  refB.step([gb[1]!]);
  tf.dispose(grads);

  const result = {
    bUnchanged,
    stepCounts: opt.stepCounts,
    iterations: opt.iterations,
    maxUlp: {
      a: maxUlp(await a.data(), refA.params[0]!),
      b: maxUlp(await b.data(), refB.params[0]!),
    },
  };
  opt.dispose();
  tf.dispose([a, b]);
  return result;
}

export interface SaveLoadResult {
  optimizerClass: string;
  config: unknown;
  optimizerWeightNames: string[];
  variableNamesBefore: string[];
  variableNamesAfter: string[];
  /** Resumed (save → load → continue) against uninterrupted training, weights and optimizer state. */
  weightsMaxAbs: number;
  stateMaxAbs: number;
  lossResumed: number;
  lossUninterrupted: number;
}

async function fitEpochs(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number) {
  const h = await model.fit(x, y, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  return h.history.loss as number[];
}

/** model.fit 3 epochs, save (includeOptimizer) → tf.loadLayersModel → 3 more, against 6 in one go. */
export async function saveLoadContinue(): Promise<SaveLoadResult> {
  await useBackend('webgpu');
  const options = { lr: 1e-2, weightDecay: 1e-3, amsgrad: true };
  const a = smallModel(5);
  a.model.compile({ optimizer: new AdaBeliefOptimizer(options), loss: 'meanSquaredError' });
  await fitEpochs(a.model, a.x, a.y, 3);
  let saved: tf.io.ModelArtifacts | undefined;
  await a.model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const b = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  const resumed = await fitEpochs(b, a.x, a.y, 3);

  const c = smallModel(5);
  c.model.compile({ optimizer: new AdaBeliefOptimizer(options), loss: 'meanSquaredError' });
  const uninterrupted = await fitEpochs(c.model, c.x, c.y, 6);

  const maxAbs = (p: ArrayLike<number>, q: ArrayLike<number>) => {
    if (p.length !== q.length) return Infinity;
    let m = 0;
    for (let i = 0; i < p.length; i++) m = Math.max(m, Object.is(p[i], q[i]) ? 0 : Math.abs(p[i]! - q[i]!));
    return m;
  };
  let weightsMaxAbs = 0;
  const bw = b.getWeights();
  const cw = c.model.getWeights();
  for (let i = 0; i < cw.length; i++)
    weightsMaxAbs = Math.max(weightsMaxAbs, maxAbs(await bw[i]!.data(), await cw[i]!.data()));
  const bs = [...(await weightsByName(b.optimizer)).values()];
  const cs = [...(await weightsByName(c.model.optimizer)).values()];
  let stateMaxAbs = bs.length === cs.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(bs.length, cs.length); i++)
    stateMaxAbs = Math.max(stateMaxAbs, maxAbs(bs[i]!, cs[i]!));

  const result: SaveLoadResult = {
    optimizerClass: b.optimizer.getClassName(),
    config: b.optimizer.getConfig(),
    optimizerWeightNames: saved!.weightSpecs!.filter((s) => s.group === 'optimizer').map((s) => s.name),
    variableNamesBefore: variablesOf(a.model).map((v) => v.name),
    variableNamesAfter: variablesOf(b).map((v) => v.name),
    weightsMaxAbs,
    stateMaxAbs,
    lossResumed: resumed.at(-1)!,
    lossUninterrupted: uninterrupted.at(-1)!,
  };
  for (const m of [a.model, b, c.model]) {
    m.optimizer.dispose();
    m.dispose();
  }
  tf.dispose([a.x, a.y, c.x, c.y]);
  return result;
}

/** model.compile({ optimizer, loss }) + model.fit: the loss per epoch. */
export async function compileFit(epochs: number): Promise<number[]> {
  await useBackend('webgpu');
  const { model, x, y } = smallModel(7);
  const optimizer = new AdaBeliefOptimizer({ lr: 1e-2 });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const losses = await fitEpochs(model, x, y, epochs);
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return losses;
}

export interface LearningRateZeroResult {
  /** `model.optimizer.learningRate` read at each epoch end (before the callback changes it). */
  lrSeen: number[];
  /** Max |Δ| of the model's weights over each epoch (NaN for the first: nothing to compare with). */
  moved: number[];
}

/**
 * TF.js' way of changing the learning rate from a `model.fit` callback, on the webgpu backend: 6 epochs,
 * `model.optimizer.learningRate = 0` after the 3rd; tf.train.adam next to ours.
 */
export async function learningRateZero(): Promise<Record<string, LearningRateZeroResult>> {
  await useBackend('webgpu');
  type WithLr = tf.Optimizer & { learningRate: number };
  const makers: [string, () => WithLr][] = [
    ['tf.train.adam', () => tf.train.adam(0.05) as unknown as WithLr],
    ['AdaBeliefOptimizer', () => new AdaBeliefOptimizer({ lr: 0.05 })],
    ['AdamOptimizer', () => new AdamOptimizer({ lr: 0.05 })],
  ];
  const out: Record<string, LearningRateZeroResult> = {};
  for (const [name, make] of makers) {
    const { model, x, y } = smallModel(9);
    model.compile({ optimizer: make(), loss: 'meanSquaredError' });
    const snapshots: Float32Array[] = [];
    const lrSeen: number[] = [];
    await model.fit(x, y, {
      epochs: 6,
      batchSize: 32,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochEnd: async (epoch) => {
          const parts = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
          snapshots.push(Float32Array.from(parts.flatMap((p) => [...p])));
          const opt = model.optimizer as WithLr;
          lrSeen.push(opt.learningRate);
          if (epoch === 2) opt.learningRate = 0;
        },
      },
    });
    const moved = snapshots.map((w, i) => {
      if (i === 0) return NaN;
      let m = 0;
      for (let k = 0; k < w.length; k++) m = Math.max(m, Math.abs(w[k]! - snapshots[i - 1]![k]!));
      return m;
    });
    out[name] = { lrSeen, moved };
    model.optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
  return out;
}

/** Messages of bad input, and of switching backends between steps. */
export async function errors(): Promise<Record<string, string>> {
  await useBackend('cpu');
  const out: Record<string, string> = {};
  out.lr = caught(() => new AdaBeliefOptimizer({ lr: -1 }));
  out.beta = caught(() => new AdaBeliefOptimizer({ betas: [0.9, 1] }));
  out.unknownOption = caught(() => new AdaBeliefOptimizer({ foo: 1 } as never));
  const opt = new AdaBeliefOptimizer();
  out.amsgrad = caught(() => opt.set({ amsgrad: true }));
  const iv = tf.variable(tf.tensor1d([1, 2], 'int32'), true, 'errors-int');
  const g = tf.tensor1d([1, 2]);
  out.int32 = caught(() => opt.applyGradients({ [iv.name]: g }));
  out.unknownVariable = caught(() => opt.applyGradients({ 'no-such-variable': g }));
  const fv = tf.variable(tf.tensor1d([1, 2, 3]), true, 'errors-float');
  out.shape = caught(() => opt.applyGradients({ [fv.name]: g }));
  const g3 = tf.tensor1d([0.1, 0.2, 0.3]);
  opt.applyGradients({ [fv.name]: g3 });
  await useBackend('webgpu');
  out.backendSwitch = caught(() => opt.applyGradients({ [fv.name]: g3 }));
  opt.dispose();
  // A variable listed twice in one call: refused on the webgpu backend as on the cpu one, nothing stepped.
  const dv = tf.variable(tf.tensor1d([1, 2, 3]), true, 'errors-twice');
  const dg = tf.tensor1d([0.5, -0.25, 1]);
  const twice = new AdaBeliefOptimizer({ lr: 0.1 });
  out.duplicate = caught(() =>
    twice.applyGradients([
      { name: dv.name, tensor: dg },
      { name: dv.name, tensor: dg },
    ]),
  );
  out.duplicateAfter = JSON.stringify({
    values: Array.from(await dv.data()),
    iterations: twice.iterations,
    stepCounts: twice.stepCounts,
  });
  twice.dispose();
  tf.dispose([dv, dg]);
  // A webgpu backend without the internals the in-place step relies on (as after a TF.js upgrade).
  const backend = tf.backend() as unknown as Record<string, unknown>;
  backend.submitQueue = undefined;
  try {
    out.internals = caught(() => new AdaBeliefOptimizer().applyGradients({ [fv.name]: g3 }));
  } finally {
    delete backend.submitQueue;
  }
  tf.dispose([iv, g, fv, g3]);
  return out;
}

export interface Timing {
  /** ms per batch of model.fit, median of `reps` runs of `batches` batches each. */
  fitMs: Record<string, number>;
  /** ms per applyGradients on fixed gradients (K calls, then one read of a weight), median. */
  applyMs: Record<string, number>;
  /** ms per applyGradients call spent in JavaScript (the K calls, before waiting for the GPU), median. */
  hostMs: Record<string, number>;
  parameters: number;
  variables: number;
}

/**
 * The same model (dense 64→128→128→10, batch 64) trained with AdaBeliefOptimizer, tf.train.adam and
 * tf.train.sgd, interleaved on one page: model.fit per batch, and the optimizer step alone.
 */
export async function timing(batches: number, reps: number): Promise<Timing> {
  await useBackend('webgpu');
  const r = rng(99);
  const make = () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 128, inputShape: [64], activation: 'relu' }),
        tfl.layers.dense({ units: 128, activation: 'relu' }),
        tfl.layers.dense({ units: 10 }),
      ],
    });
    return model;
  };
  const x = tf.tensor2d(randomArray(r, batches * 64 * 64, 1), [batches * 64, 64]);
  const y = tf.tensor2d(randomArray(r, batches * 64 * 10, 1), [batches * 64, 10]);
  const candidates: Record<string, () => tf.Optimizer> = {
    AdaBeliefOptimizer: () => new AdaBeliefOptimizer({ lr: 1e-3 }),
    'tf.train.adam': () => tf.train.adam(1e-3),
    'tf.train.sgd': () => tf.train.sgd(1e-3),
  };
  const fitRuns: Record<string, number[]> = {};
  const applyRuns: Record<string, number[]> = {};
  const hostRuns: Record<string, number[]> = {};
  const setups = Object.entries(candidates).map(([name, makeOpt]) => {
    const model = make();
    const optimizer = makeOpt();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    fitRuns[name] = [];
    applyRuns[name] = [];
    hostRuns[name] = [];
    return { name, model, optimizer };
  });
  const probe = async (model: tfl.LayersModel) => {
    await model.getWeights()[0]!.data();
  };
  for (let rep = -1; rep < reps; rep++) {
    for (const s of setups) {
      const t0 = performance.now();
      await s.model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
      await probe(s.model);
      if (rep >= 0) fitRuns[s.name]!.push((performance.now() - t0) / batches);
    }
  }
  const xb = tf.slice(x, 0, 64);
  const yb = tf.slice(y, 0, 64);
  for (const s of setups) {
    const vars = variablesOf(s.model);
    const { value, grads } = tf.variableGrads(mse(s.model, xb, yb), vars);
    value.dispose();
    for (let rep = -1; rep < reps; rep++) {
      const t0 = performance.now();
      for (let k = 0; k < batches; k++) s.optimizer.applyGradients(grads);
      const t1 = performance.now();
      await probe(s.model);
      if (rep >= 0) {
        applyRuns[s.name]!.push((performance.now() - t0) / batches);
        hostRuns[s.name]!.push((t1 - t0) / batches);
      }
    }
    tf.dispose(grads);
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const result: Timing = {
    fitMs: Object.fromEntries(Object.entries(fitRuns).map(([k, v]) => [k, median(v)])),
    applyMs: Object.fromEntries(Object.entries(applyRuns).map(([k, v]) => [k, median(v)])),
    hostMs: Object.fromEntries(Object.entries(hostRuns).map(([k, v]) => [k, median(v)])),
    parameters: setups[0]!.model.countParams(),
    variables: setups[0]!.model.trainableWeights.length,
  };
  for (const s of setups) {
    s.optimizer.dispose();
    s.model.dispose();
  }
  tf.dispose([x, y, xb, yb]);
  return result;
}
