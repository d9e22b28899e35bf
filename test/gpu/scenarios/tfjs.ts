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
  GradScaler,
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

export interface JoinLeaveResult {
  /** b after the call without its gradient equals b before it, bit for bit (weights and state). */
  bUnchanged: boolean;
  stepCount: number;
  stepCounts: Record<string, number>;
  iterations: number;
  /** getWeights() names after the last step (a was disposed: it left). */
  weightNames: string[];
  /** Weights and state of b and c against CPU references stepped at the optimizer's count. */
  report: Report;
  /** webgpu: GPU buffers of the optimizer alive after step 1 (one optimizer) and at the end (one again). */
  aliveAfterFirst: number;
  aliveAtEnd: number;
  aliveMax: number;
}

/**
 * Variables joining, missing and leaving, on one optimizer with one step count: step 1 {a, b}; step 2 {a} (b's
 * gradient undefined: b untouched); step 3 {b, c} (b back after its absence, c new, both at count 3); a
 * disposed (it leaves); steps 4 and 5 {b, c}. Against AdaBeliefCPU references stepped at the optimizer's count.
 */
export async function joinLeave(backend: BackendName): Promise<JoinLeaveResult> {
  await useBackend(backend);
  const label = `join-leave-${backend}`;
  const alive = new Set<GPUBuffer>();
  let aliveMax = 0;
  let restore = () => {};
  if (backend === 'webgpu') {
    const device = webgpuDevice();
    const create = device.createBuffer;
    device.createBuffer = function (desc: GPUBufferDescriptor) {
      const b = create.call(this, desc);
      if (desc.label?.startsWith(label)) {
        alive.add(b);
        aliveMax = Math.max(aliveMax, alive.size);
        const destroy = b.destroy.bind(b);
        b.destroy = () => {
          alive.delete(b);
          destroy();
        };
      }
      return b;
    };
    restore = () => (device.createBuffer = create);
  }
  const r = rng(33);
  const a0 = randomArray(r, 10, 1);
  const b0 = randomArray(r, 6, 1);
  const c0 = randomArray(r, 8, 1);
  const a = tf.variable(tf.tensor1d(a0), true, `jl-a-${backend}`);
  const b = tf.variable(tf.tensor1d(b0), true, `jl-b-${backend}`);
  const opts = { lr: 0.01, rectify: false, weightDecay: 0.1 };
  const opt = new AdaBeliefOptimizer({ ...opts, label });
  const refs = { a: new AdaBeliefCPU([a0.slice()], opts), b: new AdaBeliefCPU([b0.slice()], opts) } as Record<
    string,
    AdaBeliefCPU
  >;
  const travel: Record<string, Float64Array> = { b: new Float64Array(6), c: new Float64Array(8) };
  const refStep = (k: string, g: Float32Array, t: number) => {
    const ref = refs[k]!;
    ref.importState({ ...ref.exportState(), step: t - 1 }); // the optimizer's count, not the variable's own
    const before = ref.params[0]!.slice();
    ref.step([g]);
    if (travel[k])
      for (let i = 0; i < g.length; i++) travel[k]![i]! += Math.abs(ref.params[0]![i]! - before[i]!);
  };
  const grad = (n: number) => randomArray(r, n, 0.1);
  const call = (entries: [tf.Variable, Float32Array | undefined][]) => {
    const tensors = entries.map(([, g]) => (g ? tf.tensor1d(g) : undefined));
    opt.applyGradients(entries.map(([v], i) => ({ name: v.name, tensor: tensors[i] as tf.Tensor })));
    tf.dispose(tensors.filter((t): t is tf.Tensor1D => !!t));
  };

  let ga = grad(10);
  let gb = grad(6);
  call([
    [a, ga],
    [b, gb],
  ]);
  refStep('a', ga, 1);
  refStep('b', gb, 1);
  await a.data();
  const aliveAfterFirst = alive.size;
  const bBefore = await b.data();
  const stateBefore = await weightsByName(opt);

  ga = grad(10);
  call([
    [a, ga],
    [b, undefined],
  ]);
  refStep('a', ga, 2);
  const bAfter = await b.data();
  const stateAfter = await weightsByName(opt);
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  const bUnchanged =
    same(bBefore, bAfter) &&
    ['m', 's'].every((k) => same(stateBefore.get(`${b.name}/${k}`)!, stateAfter.get(`${b.name}/${k}`)!));

  const c = tf.variable(tf.tensor1d(c0), true, `jl-c-${backend}`);
  refs.c = new AdaBeliefCPU([c0.slice()], opts);
  for (let t = 3; t <= 5; t++) {
    if (t === 4) a.dispose();
    gb = grad(6);
    const gc = grad(8);
    if (t === 3) {
      const tb = tf.tensor1d(gb);
      const tc = tf.tensor1d(gc);
      opt.applyGradients({ [b.name]: tb, [c.name]: tc }); // the map form
      tf.dispose([tb, tc]);
    } else {
      call([
        [c, gc],
        [b, gb],
      ]);
    }
    refStep('b', gb, t);
    refStep('c', gc, t);
  }
  const state = await weightsByName(opt);
  const exact = backend !== 'webgpu';
  const report: Report = {};
  for (const [k, v] of [
    ['b', b],
    ['c', c],
  ] as const) {
    const ref = refs[k]!;
    const want = ref.params[0]!;
    report[`${k} param`] = compareArrays(
      await v.data(),
      want,
      exact ? () => 0 : paramTolerance(want, travel[k]!, 5),
    );
    const st = ref.exportState().tensors[0]!;
    for (const [suffix, key] of [
      ['m', 'exp_avg'],
      ['s', 'exp_avg_var'],
    ] as const) {
      const w = st[key]!;
      report[`${k} ${suffix}`] = compareArrays(
        state.get(`${v.name}/${suffix}`)!,
        w,
        exact ? () => 0 : stateTolerance(w, 5),
      );
    }
  }
  const result: JoinLeaveResult = {
    bUnchanged,
    stepCount: opt.stepCount,
    stepCounts: opt.stepCounts,
    iterations: opt.iterations,
    weightNames: [...state.keys()],
    report,
    aliveAfterFirst,
    aliveAtEnd: alive.size,
    aliveMax,
  };
  opt.dispose();
  restore();
  tf.dispose([b, c]);
  return result;
}

/** lr of step t (1-based): linear warm-up over `warm` steps to `peak`, then cosine down to `floor` at step `total`. */
export function warmupCosine(t: number, warm: number, total: number, peak: number, floor: number): number {
  if (t <= warm) return (peak * t) / warm;
  return floor + 0.5 * (peak - floor) * (1 + Math.cos((Math.PI * (t - warm)) / (total - warm)));
}

/**
 * torch's recipe written out in f64, independently of this library: GradScaler's unscale (g / scale) and skip
 * on a non-finite value, `clip_grad_norm_` over all parameters (coef = max / (total + 1e-6), clamped to 1), then
 * torch.optim.AdamW (p *= 1 - lr·wd; m, v; p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)).
 */
class AdamWf64 {
  readonly p: Float64Array[];
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  readonly travel: Float64Array[];
  private t = 0;
  constructor(
    params: Float32Array[],
    private readonly wd: number[],
    private readonly betas: [number, number],
    private readonly eps: number,
  ) {
    this.p = params.map((x) => Float64Array.from(x));
    this.m = params.map((x) => new Float64Array(x.length));
    this.v = params.map((x) => new Float64Array(x.length));
    this.travel = params.map((x) => new Float64Array(x.length));
  }
  step(
    grads: Float32Array[],
    scale: number,
    maxNorm: number,
    lr: number,
  ): { skipped: boolean; norm: number } {
    const u = grads.map((g) => Float64Array.from(g, (x) => x / scale));
    if (u.some((x) => x.some((y) => !Number.isFinite(y)))) return { skipped: true, norm: NaN };
    let sq = 0;
    for (const x of u) for (const y of x) sq += y * y;
    const norm = Math.sqrt(sq);
    const coef = Math.min(1, maxNorm / (norm + 1e-6));
    const [b1, b2] = this.betas;
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    this.p.forEach((p, i) => {
      for (let k = 0; k < p.length; k++) {
        const g = u[i]![k]! * coef;
        const before = p[k]!;
        p[k] = before * (1 - lr * this.wd[i]!);
        this.m[i]![k] = b1 * this.m[i]![k]! + (1 - b1) * g;
        this.v[i]![k] = b2 * this.v[i]![k]! + (1 - b2) * g * g;
        p[k] =
          p[k]! - (lr / bc1) * (this.m[i]![k]! / (Math.sqrt(this.v[i]![k]!) / Math.sqrt(bc2) + this.eps));
        this.travel[i]![k]! += Math.abs(p[k]! - before);
      }
    });
    return { skipped: false, norm };
  }
}

export interface AmpConfig {
  backend: BackendName;
  steps: number;
  /** The step whose gradient gets an inf. */
  inject: number;
}

export interface AmpResult {
  variables: { name: string; shape: number[]; noDecay: boolean }[];
  elements: number;
  /** Per step: the loss scale used, the lr, what the optimizer reported, the CPU reference and the f64 recipe. */
  steps: {
    scale: number;
    lr: number;
    skipped: boolean;
    gradNorm: number;
    clipCoef: number;
    applied: number;
    cpuSkipped: boolean;
    cpuNorm: number;
    f64Skipped: boolean;
    f64Norm: number;
  }[];
  /** Against AdamWCPU (the same guard per step, groups as per-entry overrides). */
  cpuReport: Report;
  /** Against the f64 recipe: paramTolerance plus n·2^-24·travel for the f32 norm's summation order. */
  f64Report: Report;
  stepCount: number;
  leakedTensors: number;
}

/**
 * The loop of issue 23: a small transformer-style block (dense → layerNormalization → dense), AdamWOptimizer with
 * the loss scaled by a GradScaler (init 128; `gradScale` set each step, `record(await lastStepSkipped())` after),
 * an inf in one gradient at step `inject`, `maxGradNorm: 1` over all variables, a no-decay group for rank-1
 * variables (biases, the norm's gamma and beta), and a warm-up + cosine schedule through `learningRate`, written
 * as `variableGrads` + `applyGradients`. Compared with AdamWCPU (same gradients, guard per step: exactly on the cpu
 * backend) and with torch's recipe in f64.
 */
export async function ampLoop(cfg: AmpConfig): Promise<AmpResult> {
  await useBackend(cfg.backend);
  const r = rng(71);
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, inputShape: [8], activation: 'relu' }),
      tfl.layers.layerNormalization(),
      tfl.layers.dense({ units: 4 }),
    ],
  });
  const init = model.getWeights().map((w) => tf.tensor(randomArray(r, w.size, 0.5), w.shape));
  model.setWeights(init);
  tf.dispose(init);
  const x = tf.tensor2d(randomArray(r, 16 * 8, 1), [16, 8]);
  const y = tf.tensor2d(randomArray(r, 16 * 4, 3), [16, 4]);
  const vars = variablesOf(model);
  const noDecay = (v: tf.Variable) => v.shape.length === 1;
  const wd = 0.1;
  const betas: [number, number] = [0.9, 0.95];
  const eps = 1e-8;
  const scaler = new GradScaler({ initScale: 128, growthInterval: 1000 });
  const opt = new AdamWOptimizer({
    lr: 0,
    betas,
    eps,
    weightDecay: wd,
    gradScale: scaler.scale,
    maxGradNorm: 1,
    groups: [{ match: noDecay, weightDecay: 0 }],
  });
  const p0 = await Promise.all(vars.map(async (v) => Float32Array.from(await v.data())));
  const cpu = new AdamWCPU(
    p0.map((p, i) => (noDecay(vars[i]!) ? { param: p.slice(), weightDecay: 0 } : p.slice())),
    { lr: 0, betas, eps, weightDecay: wd },
  );
  const f64 = new AdamWf64(
    p0,
    vars.map((v) => (noDecay(v) ? 0 : wd)),
    betas,
    eps,
  );
  const loss = () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
  const steps: AmpResult['steps'] = [];
  const before = tf.memory().numTensors;
  for (let t = 1; t <= cfg.steps; t++) {
    const lr = warmupCosine(t, 3, cfg.steps, 1e-2, 1e-3);
    opt.learningRate = lr;
    cpu.set({ lr });
    const scale = scaler.scale;
    opt.gradScale = scale;
    const { value, grads } = tf.variableGrads(() => tf.mul(loss(), scale) as tf.Scalar, vars);
    value.dispose();
    if (t === cfg.inject) {
      const target = vars[3]!.name; // the layer norm's beta
      const vals = Float32Array.from(await grads[target]!.data());
      vals[1] = Infinity;
      grads[target]!.dispose();
      grads[target] = tf.tensor(vals, vars[3]!.shape);
    }
    const gs = await Promise.all(vars.map(async (v) => Float32Array.from(await grads[v.name]!.data())));
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const rep = await opt.lastStepReport();
    scaler.record(await opt.lastStepSkipped());
    const c = cpu.step(gs, { gradScale: scale, maxGradNorm: 1, skipNonFinite: true })!;
    const f = f64.step(gs, scale, 1, lr);
    steps.push({
      scale,
      lr,
      skipped: rep.skipped,
      gradNorm: rep.gradNorm,
      clipCoef: rep.clipCoef,
      applied: rep.applied,
      cpuSkipped: c.skipped,
      cpuNorm: c.gradNorm,
      f64Skipped: f.skipped,
      f64Norm: f.norm,
    });
  }
  const leakedTensors = tf.memory().numTensors - before;
  const exact = cfg.backend !== 'webgpu';
  const applied = steps.filter((s) => !s.skipped).length;
  const elements = vars.reduce((n, v) => n + v.size, 0);
  const state = await weightsByName(opt);
  const cpuState = cpu.exportState().tensors;
  const cpuReport: Report = {};
  const f64Report: Report = {};
  for (const [i, v] of vars.entries()) {
    const got = await v.data();
    const want = cpu.params[i]!;
    const travel = f64.travel[i]!;
    cpuReport[`${v.name} param`] = compareArrays(
      got,
      want,
      exact ? () => 0 : paramTolerance(want, travel, applied),
    );
    for (const [suffix, key] of [
      ['m', 'exp_avg'],
      ['v', 'exp_avg_sq'],
    ] as const) {
      const w = cpuState[i]![key]!;
      cpuReport[`${v.name} ${suffix}`] = compareArrays(
        state.get(`${v.name}/${suffix}`)!,
        w,
        exact ? () => 0 : stateTolerance(w, applied),
      );
    }
    const want64 = f64.p[i]!;
    const base = paramTolerance(want64, travel, applied);
    const norm = elements * 2 ** -24;
    f64Report[`${v.name} param`] = compareArrays(got, want64, (k) => base(k) + norm * travel[k]!);
  }
  const result: AmpResult = {
    variables: vars.map((v) => ({ name: v.name, shape: [...v.shape], noDecay: noDecay(v) })),
    elements,
    steps,
    cpuReport,
    f64Report,
    stepCount: await opt.readStepCount(),
    leakedTensors,
  };
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
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
