/**
 * In-page measurements of the benchmark (bench/run.ts calls them through openBrowser().call; JSON in, JSON
 * out): the fused AdaBelief step, the copy roofline kernel (bench/copy.wgsl), TF.js Adam and AdaBelief
 * written with TF.js ops — all on one GPUDevice of the page's adapter, so they share adapter and queue.
 *
 * Timing. Wall: K steps are queued (one submit each, as `opt.step()` does), then
 * `queue.onSubmittedWorkDone()` (TF.js: a 1-element read) is awaited; per step = elapsed / K. GPU, where the
 * adapter has `timestamp-query`: each step is encoded between two empty compute passes that write a
 * timestamp (the first at its end, the second at its beginning), so the interval spans exactly the step's
 * own commands; per repetition, the median over its K steps.
 *
 * Whole model (`measureModel`): a model's shapes in a ParamArena against one flat tensor of the same element
 * count, timed as above, plus the JavaScript time spent inside `step()` (host cost).
 */
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import copySource from './copy.wgsl?raw';
import {
  AdaBelief,
  Adam,
  SGD,
  toF16Array,
  isFallbackDevice,
  stepScalars,
  resolveOptions,
  Update,
  Amsgrad,
  workgroupsFor,
  ParamArena,
} from '../src/internal.js';
import {
  VARIANTS,
  repsFor,
  stepsFor,
  type MeasureSpec,
  type ModelSamples,
  type ModelSpec,
  type Repetitions,
  type Samples,
} from './common.js';
import { MODE_DEFS, trafficKey, variantTraffic, type ModeMeasureSpec, type Traffic } from './modes.js';

const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const MAP_READ = 0x1;
const QUERY_RESOLVE = 0x200;

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  fallback: boolean;
  timestampQuery: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  /** The optimizer's dispatch on this adapter, also used by the copy kernel. */
  workgroupSize: number;
  maxWorkgroups: number;
  userAgent: string;
}

interface Context {
  device: GPUDevice;
  info: GPUAdapterInfo;
  report: AdapterReport;
  errors: string[];
}

let context: Promise<Context> | undefined;

/** The page's device: the adapter's storage limits, and `timestamp-query` when the adapter has it. */
function ctx(maxWorkgroups?: number): Promise<Context> {
  context ??= (async () => {
    if (!navigator.gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null: no WebGPU adapter');
    const timestampQuery = adapter.features.has('timestamp-query');
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      label: 'bench-device',
      requiredFeatures: timestampQuery ? ['timestamp-query'] : [],
      // What the optimizer and TF.js (which shares this device) need for 2^24-element tensors and beyond.
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      },
    });
    const errors: string[] = [];
    device.addEventListener('uncapturederror', (e) =>
      errors.push((e as GPUUncapturedErrorEvent).error.message),
    );
    void device.lost.then((i) => errors.push(`device lost: ${i.reason} ${i.message}`));
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    const report: AdapterReport = {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      device: info.device,
      fallback: info.isFallbackAdapter === true || isFallbackDevice(device),
      timestampQuery,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      workgroupSize: 256,
      // The optimizer's own default (src/gpu/adabelief.ts): few long workgroups on a CPU fallback, else the limit.
      maxWorkgroups: maxWorkgroups ?? (isFallbackDevice(device) ? 64 : limit),
      userAgent: navigator.userAgent,
    };
    return { device, info, report, errors };
  })();
  return context;
}

/** Opens the device and describes the adapter. `maxWorkgroups` overrides the optimizer's default cap. */
export async function init(maxWorkgroups?: number): Promise<AdapterReport> {
  return (await ctx(maxWorkgroups ?? undefined)).report;
}

function checkErrors(c: Context, what: string): void {
  if (c.errors.length) throw new Error(`${what}: WebGPU error: ${c.errors.splice(0).join('; ')}`);
}

/** A STORAGE buffer of `n` f32 filled with uniform noise in [-scale, scale) (xorshift, seeded). */
function noiseBuffer(device: GPUDevice, n: number, scale: number, seed: number, label: string): GPUBuffer {
  const b = device.createBuffer({
    label,
    size: n * 4,
    usage: STORAGE | COPY_SRC | COPY_DST,
    mappedAtCreation: true,
  });
  fillNoise(new Float32Array(b.getMappedRange()), scale, seed);
  b.unmap();
  return b;
}

function fillNoise(a: Float32Array, scale: number, seed: number): Float32Array {
  let x = seed | 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x / 2147483648) * scale;
  }
  return a;
}

/** Something that records one step into an encoder, or submits one on its own. */
interface Runner {
  step(): void;
  encode(encoder: GPUCommandEncoder): void;
  /** Rejects if a step reported a WebGPU error. */
  check(): Promise<void>;
  /**
   * Called after each timed run, outside the timed interval: a guarded optimizer reads its step count here,
   * so the steps it holds scalars for never run out however long the run (docs/errors.md#encode).
   */
  settle?(): Promise<void>;
  destroy(): void;
}

async function fusedRunner(c: Context, spec: MeasureSpec): Promise<Runner> {
  const { device, report } = c;
  const param = noiseBuffer(device, spec.size, 1, 1, 'bench/param');
  const grad = noiseBuffer(device, spec.size, 0.01, 2, 'bench/grad');
  const opt = await AdaBelief.create(device, [{ param, grad, size: spec.size }], {
    ...VARIANTS[spec.variant],
    dispatch: { workgroupSize: report.workgroupSize, maxWorkgroups: report.maxWorkgroups },
    label: 'bench',
  });
  const failures: Promise<void>[] = [];
  return {
    step: () => void failures.push(opt.step()),
    encode: (e) => opt.encode(e),
    check: async () => void (await Promise.all(failures.splice(0))),
    destroy: () => {
      opt.destroy();
      param.destroy();
      grad.destroy();
    },
  };
}

/** A runner of one recorded dispatch (the copy kernel): `owned` buffers are destroyed with it. */
function dispatchRunner(
  device: GPUDevice,
  label: string,
  pipeline: GPUComputePipeline,
  bindGroup: GPUBindGroup,
  workgroups: number,
  owned: GPUBuffer[],
): Runner {
  const encode = (encoder: GPUCommandEncoder) => {
    const pass = encoder.beginComputePass({ label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
  };
  return {
    step: () => {
      const encoder = device.createCommandEncoder({ label });
      encode(encoder);
      device.queue.submit([encoder.finish()]);
    },
    encode,
    check: async () => undefined,
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}

/**
 * The copy kernel (bench/copy.wgsl `copy_mode`) over the arrays of `traffic`, `trafficBytes(traffic)` per element:
 * the roofline of a variant (bench/modes.ts variantTraffic) and of a mode (its `traffic`) alike.
 */
function copyRunner(c: Context, size: number, traffic: Traffic): Runner {
  const { device, report } = c;
  const units = Math.floor(size / 8);
  const slots: { name: string; binding: number; capacity: number; widths: (2 | 4)[] }[] = [
    { name: 'IN_PLACE_', binding: 1, capacity: 4, widths: traffic.inPlace },
    { name: 'READ_', binding: 5, capacity: 2, widths: traffic.readOnly },
    { name: 'WRITE_', binding: 7, capacity: 1, widths: traffic.writeOnly },
  ];
  const key = trafficKey(traffic);
  const constants: Record<string, number> = { WORKGROUP_SIZE: report.workgroupSize };
  const buffers: GPUBuffer[] = [];
  const entries: GPUBindGroupEntry[] = [];
  for (const slot of slots) {
    if (slot.widths.length > slot.capacity)
      throw new Error(
        `copy_mode has ${slot.capacity} ${slot.name} arrays, traffic ${key} needs ${slot.widths.length}`,
      );
    for (let k = 0; k < slot.capacity; k++) {
      const width = slot.widths[k];
      constants[`${slot.name}${k}`] = width ? width / 2 : 0;
      // An absent array still has its (untouched) binding: a 16-byte buffer of its own.
      const bytes = width ? Math.max(16, units * 8 * width) : 16;
      const b = noiseBuffer(device, bytes / 4, 1, 10 + buffers.length, `bench/copy-${key}-${slot.name}${k}`);
      buffers.push(b);
      entries.push({ binding: slot.binding + k, resource: { buffer: b } });
    }
  }
  const label = `bench/copy-${key}`;
  const module = device.createShaderModule({ label: 'bench/copy', code: copySource });
  const pipeline = device.createComputePipeline({
    label,
    layout: 'auto',
    compute: { module, entryPoint: 'copy_mode', constants },
  });
  const uniform = device.createBuffer({ label: `${label}-params`, size: 16, usage: UNIFORM | COPY_DST });
  device.queue.writeBuffer(uniform, 0, new Uint32Array([units, 0, 0, 0]));
  const bindGroup = device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: uniform } }, ...entries],
  });
  const workgroups = workgroupsFor(Math.max(units, 1), report.workgroupSize, report.maxWorkgroups);
  return dispatchRunner(device, label, pipeline, bindGroup, workgroups, [uniform, ...buffers]);
}

/** Runs `count` steps and waits for the GPU; returns the wall time in ms. */
async function wallRun(device: GPUDevice, runner: Runner, count: number): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < count; k++) runner.step();
  await device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  await runner.settle?.();
  return ms;
}

/** Runs `count` steps each bracketed by timestamps; returns each step's GPU time in ms. */
async function timedRun(device: GPUDevice, runner: Runner, count: number): Promise<number[]> {
  const querySet = device.createQuerySet({ label: 'bench/timestamps', type: 'timestamp', count: 2 * count });
  const resolve = device.createBuffer({
    label: 'bench/resolve',
    size: 16 * count,
    usage: QUERY_RESOLVE | COPY_SRC,
  });
  const staging = device.createBuffer({
    label: 'bench/timestamps-read',
    size: 16 * count,
    usage: MAP_READ | COPY_DST,
  });
  try {
    for (let k = 0; k < count; k++) {
      const encoder = device.createCommandEncoder({ label: 'bench/timed-step' });
      encoder.beginComputePass({ timestampWrites: { querySet, endOfPassWriteIndex: 2 * k } }).end();
      runner.encode(encoder);
      encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k + 1 } }).end();
      device.queue.submit([encoder.finish()]);
    }
    const encoder = device.createCommandEncoder({ label: 'bench/resolve' });
    encoder.resolveQuerySet(querySet, 0, 2 * count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, 16 * count);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MAP_READ);
    const t = new BigUint64Array(staging.getMappedRange());
    const out: number[] = [];
    for (let k = 0; k < count; k++) out.push(Number(t[2 * k + 1]! - t[2 * k]!) / 1e6);
    staging.unmap();
    await runner.settle?.();
    return out;
  } finally {
    querySet.destroy();
    resolve.destroy();
    staging.destroy();
  }
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
}

/** Warm-up and calibration, one runner after the other: steps per repetition of each, and the repetitions. */
async function calibrate(
  device: GPUDevice,
  runners: Runner[],
  specs: Repetitions[],
): Promise<{ K: number[]; reps: number }> {
  const K: number[] = [];
  let reps = Infinity;
  for (const [i, runner] of runners.entries()) {
    const spec = specs[i]!;
    await wallRun(device, runner, 1); // pipeline compilation, first touch of the buffers
    const stepMs = await wallRun(device, runner, 1);
    K.push(stepsFor(spec, stepMs));
    reps = Math.min(reps, repsFor(spec, stepMs));
    await wallRun(device, runner, Math.max(spec.warmupSteps - 2, K[i]!));
  }
  return { K, reps };
}

/**
 * Repetition r of every runner before repetition r + 1 of any (so a change in the machine's load hits all
 * of them alike): wall time per step of each repetition, and GPU time too where the adapter has timestamp-query.
 */
async function timeInterleaved(
  c: Context,
  runners: Runner[],
  K: number[],
  reps: number,
  beforeWall?: () => void,
  afterWall?: () => void,
): Promise<Samples[]> {
  const { device } = c;
  const out: Samples[] = runners.map((_, i) => ({ stepsPerRep: K[i]!, reps, wallMs: [] }));
  beforeWall?.();
  for (let r = 0; r < reps; r++) {
    for (const [i, runner] of runners.entries())
      out[i]!.wallMs.push((await wallRun(device, runner, K[i]!)) / K[i]!);
  }
  afterWall?.();
  if (c.report.timestampQuery) {
    for (const [i, runner] of runners.entries()) {
      await timedRun(device, runner, 1);
      out[i]!.gpuMs = [];
    }
    for (let r = 0; r < reps; r++) {
      for (const [i, runner] of runners.entries())
        out[i]!.gpuMs!.push(medianOf(await timedRun(device, runner, K[i]!)));
    }
  }
  return out;
}

/**
 * Fused steps and copy kernels of one size, measured together: repetition r of every one of them runs
 * before repetition r + 1 of any, so a change in the machine's load hits all of them alike and their ratios
 * stay fair. Wall time always; GPU time too where the adapter has timestamp-query.
 */
export async function measureGpu(specs: MeasureSpec[]): Promise<Samples[]> {
  const c = await ctx();
  const { device } = c;
  const runners: Runner[] = [];
  try {
    for (const spec of specs)
      runners.push(
        spec.impl === 'fused'
          ? await fusedRunner(c, spec)
          : copyRunner(c, spec.size, variantTraffic(spec.variant)),
      );
    const { K, reps } = await calibrate(device, runners, specs);
    const out = await timeInterleaved(c, runners, K, reps);
    for (const runner of runners) await runner.check();
    checkErrors(c, `GPU kernels n=${specs[0]?.size}`);
    return out;
  } finally {
    runners.forEach((r) => r.destroy());
    await device.queue.onSubmittedWorkDone();
  }
}

// ---------------------------------------------------------------------------------------------- modes

/**
 * The fused step of a mode through the optimizers' public API (`create()` with the mode's options, f16
 * entries where the mode has them). The optimizer picks its own dispatch shape per mode unless the run gave
 * --max-workgroups.
 */
async function modeRunner(c: Context, spec: ModeMeasureSpec, maxWorkgroups: number | null): Promise<Runner> {
  const { device } = c;
  const def = MODE_DEFS[spec.mode];
  const n = spec.size;
  const values = (scale: number, seed: number) => {
    const f32 = fillNoise(new Float32Array(n), scale, seed);
    return def.dtype === 'f16' ? toF16Array(f32) : f32;
  };
  const buffer = (data: Float32Array | Uint16Array, label: string) => {
    const b = device.createBuffer({
      label,
      size: Math.ceil(data.byteLength / 4) * 4,
      usage: STORAGE | COPY_SRC | COPY_DST,
      mappedAtCreation: true,
    });
    new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    b.unmap();
    return b;
  };
  const param = buffer(values(1, 1), `bench/${spec.mode}/param`);
  const grad = buffer(values(0.01, 2), `bench/${spec.mode}/grad`);
  const entries = [{ param, grad, size: n, dtype: def.dtype }];
  const options = {
    ...def.options,
    ...(maxWorkgroups !== null ? { dispatch: { maxWorkgroups } } : {}),
    label: `bench/${spec.mode}`,
  };
  const opt =
    def.optimizer === 'Adam'
      ? await Adam.create(device, entries, options)
      : def.optimizer === 'SGD'
        ? await SGD.create(device, entries, options)
        : await AdaBelief.create(device, entries, options);
  const guarded = 'skipNonFinite' in def.options || 'maxGradNorm' in def.options;
  const pending: Promise<void>[] = [];
  return {
    step: () => void pending.push(opt.step()),
    encode: (e) => opt.encode(e),
    check: async () => void (await Promise.all(pending.splice(0))),
    settle: async () => {
      await Promise.all(pending.splice(0));
      if (guarded) await opt.lastStepReport();
    },
    destroy: () => {
      opt.destroy();
      param.destroy();
      grad.destroy();
    },
  };
}

/**
 * The modes of one size measured together, interleaved as `measureGpu` does (repetition r of every one
 * before repetition r + 1 of any): each mode's fused step and the copy kernels of their traffic.
 * `maxWorkgroups`: the run's --max-workgroups (null: each optimizer's own dispatch).
 */
export async function measureModes(
  specs: ModeMeasureSpec[],
  maxWorkgroups: number | null = null,
): Promise<Samples[]> {
  const c = await ctx();
  const { device } = c;
  const runners: Runner[] = [];
  try {
    for (const spec of specs)
      runners.push(
        spec.kind === 'fused'
          ? await modeRunner(c, spec, maxWorkgroups)
          : copyRunner(c, spec.size, MODE_DEFS[spec.mode].traffic),
      );
    checkErrors(c, `modes n=${specs[0]?.size}: setup`);
    const { K, reps } = await calibrate(device, runners, specs);
    const out = await timeInterleaved(c, runners, K, reps);
    for (const runner of runners) await runner.check();
    checkErrors(c, `modes n=${specs[0]?.size}`);
    return out;
  } finally {
    runners.forEach((r) => r.destroy());
    await device.queue.onSubmittedWorkDone();
  }
}

// ---------------------------------------------------------------------------------------------- whole model

/** A runner over an optimizer whose `step()` calls can be timed on the JS side (into `record` when set). */
interface OptimizerRunner extends Runner {
  opt: AdaBelief;
  record: number[] | null;
}

function optimizerRunner(opt: AdaBelief): OptimizerRunner {
  const failures: Promise<void>[] = [];
  const runner: OptimizerRunner = {
    opt,
    record: null,
    step: () => {
      const t0 = performance.now();
      const done = opt.step();
      const t1 = performance.now();
      runner.record?.push(t1 - t0);
      failures.push(done);
    },
    encode: (e) => opt.encode(e),
    check: async () => void (await Promise.all(failures.splice(0))),
    destroy: () => opt.destroy(),
  };
  return runner;
}

/**
 * `calls` calls of `call` (e.g. `opt.step()`) back to back, then lets the queue drain. Returns each call's JS
 * time (ms) when `perCall`, else one figure: the batch's time / calls (for a coarse timer).
 */
async function hostBatch(
  device: GPUDevice,
  call: () => Promise<void> | void,
  calls: number,
  perCall: boolean,
): Promise<number[]> {
  const done = new Array<Promise<void> | void>(calls);
  const ms = new Array<number>(perCall ? calls : 1);
  const start = performance.now();
  let t0 = start;
  for (let k = 0; k < calls; k++) {
    done[k] = call();
    if (perCall) {
      const t1 = performance.now();
      ms[k] = t1 - t0;
      t0 = t1;
    }
  }
  if (!perCall) ms[0] = (performance.now() - start) / calls;
  await Promise.all(done);
  await device.queue.onSubmittedWorkDone();
  return ms;
}

/** The smallest nonzero step of performance.now() (coarsened to 0.1 ms in pages that are not cross-origin isolated). */
function timerResolution(): number {
  let min = Infinity;
  let last = performance.now();
  for (let i = 0, seen = 0; i < 1e7 && seen < 50; i++) {
    const t = performance.now();
    if (t !== last) {
      min = Math.min(min, t - last);
      last = t;
      seen++;
    }
  }
  return min;
}

/**
 * A whole model against one flat tensor of the same element count: `spec.shapes` in a `ParamArena` (one
 * optimizer over `arena.entries`) and one tensor in buffers of its own (its own optimizer), both filled
 * with the same noise. Step time as in `measureGpu` (interleaved); host cost as the JS time of `step()`.
 */
export async function measureModel(spec: ModelSpec): Promise<ModelSamples> {
  const c = await ctx();
  const { device, report } = c;
  const t0 = performance.now();
  const shapes = spec.shapes.map((s) => ({ name: s.name, shape: s.shape }));
  const sizes = shapes.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const n = sizes.reduce((a, b) => a + b, 0);
  const dispatch = { workgroupSize: report.workgroupSize, maxWorkgroups: report.maxWorkgroups };
  const runners: OptimizerRunner[] = [];
  let arena: ParamArena | undefined;
  const flatBuffers: GPUBuffer[] = [];
  try {
    arena = new ParamArena(device, shapes, { label: `bench/${spec.model}` });
    {
      // The same values in both: params ~ U(-1, 1), gradients ~ U(-0.01, 0.01).
      const p = fillNoise(new Float32Array(n), 1, 1);
      const g = fillNoise(new Float32Array(n), 0.01, 2);
      let at = 0;
      sizes.forEach((size, i) => {
        arena!.writeParam(i, p.subarray(at, at + size));
        arena!.writeGrad(i, g.subarray(at, at + size));
        at += size;
      });
      for (const [name, data] of [
        ['param', p],
        ['grad', g],
      ] as const) {
        const b = device.createBuffer({
          label: `bench/flat-${name}`,
          size: n * 4,
          usage: STORAGE | COPY_SRC | COPY_DST,
          mappedAtCreation: true,
        });
        new Float32Array(b.getMappedRange()).set(data);
        b.unmap();
        flatBuffers.push(b);
      }
    }
    const model = new AdaBelief(device, arena.entries, { dispatch, label: `bench/${spec.model}` });
    runners.push(optimizerRunner(model));
    const flat = new AdaBelief(device, [{ param: flatBuffers[0]!, grad: flatBuffers[1]!, size: n }], {
      dispatch,
      label: 'bench/flat',
    });
    runners.push(optimizerRunner(flat));
    await Promise.all([model.ready, flat.ready]);
    await device.queue.onSubmittedWorkDone();
    checkErrors(c, `${spec.model} setup`);
    const setupMs = performance.now() - t0;

    // All `spec.reps` repetitions even when a step takes over a second: the ratio needs them.
    const { K } = await calibrate(device, runners, [spec, spec]);
    const reps = spec.reps;

    // Host cost: batches of back-to-back step() calls, model and flat interleaved, the queue drained after each
    // batch — on twins of the two optimizers whose tensors hold 64 elements each (the same 161 tensors in one
    // ParamArena, one dispatch; one flat tensor): the same JavaScript per call (nothing of it depends on a
    // tensor's size), with real but tiny GPU work, so the calls neither queue up seconds of work on a slow
    // adapter nor compete with it for the CPU.
    const batchSize = spec.hostBatchSize;
    const batches = spec.hostBatches;
    const hostArena = new ParamArena(
      device,
      shapes.map((sh) => ({ name: sh.name, shape: [64] })),
      { label: `bench/${spec.model}-host` },
    );
    const hostFlatBuffers = ['param', 'grad'].map((name) =>
      device.createBuffer({ label: `bench/host-flat-${name}`, size: 64 * 4 * shapes.length, usage: STORAGE }),
    );
    const hostTwins = [
      new AdaBelief(device, hostArena.entries, { dispatch, label: `bench/${spec.model}-host` }),
      new AdaBelief(
        device,
        [{ param: hostFlatBuffers[0]!, grad: hostFlatBuffers[1]!, size: 64 * shapes.length }],
        {
          dispatch,
          label: 'bench/flat-host',
        },
      ),
    ];
    await Promise.all(hostTwins.map((o) => o.ready));
    // Each call timed alone where performance.now() is fine-grained (5 us in a cross-origin isolated page);
    // with the 100 us timer of other pages, per batch.
    const resolution = timerResolution();
    const perCall = resolution <= 0.01 || batchSize === 1;
    // The floor of any WebGPU step, timed alike: an encoder, an empty compute pass, a submit.
    const emptyStep = () => {
      const encoder = device.createCommandEncoder({ label: 'bench/empty-step' });
      encoder.beginComputePass({ label: 'bench/empty-pass' }).end();
      device.queue.submit([encoder.finish()]);
    };
    const calls = [...hostTwins.map((o) => () => o.step()), emptyStep];
    const host: number[][] = calls.map(() => []);
    try {
      for (const call of calls) await hostBatch(device, call, batchSize, perCall); // untimed: the JIT's first pass
      for (let b = 0; b < batches; b++)
        for (const [i, call] of calls.entries())
          host[i]!.push(...(await hostBatch(device, call, batchSize, perCall)));
    } finally {
      hostTwins.forEach((o) => o.destroy());
      hostArena.destroy();
      hostFlatBuffers.forEach((b) => b.destroy());
    }
    checkErrors(c, `${spec.model} host-cost run`);

    const timed: number[][] = [[], []];
    const [modelSamples, flatSamples] = await timeInterleaved(
      c,
      runners,
      K,
      reps,
      () => runners.forEach((r, i) => (r.record = timed[i]!)),
      () => runners.forEach((r) => (r.record = null)),
    );
    for (const r of runners) await r.check();
    checkErrors(c, `${spec.model} vs flat`);
    return {
      model: spec.model,
      tensors: shapes.length,
      elements: n,
      arenaBuffers: { param: arena.paramBuffers.length, grad: arena.gradBuffers.length },
      dispatches: { model: model.dispatchCount, flat: flat.dispatchCount },
      modelSamples: modelSamples!,
      flatSamples: flatSamples!,
      host: {
        method:
          `${batches} batches of ${batchSize} back-to-back calls each, model and flat interleaved, queue drained between batches, on twins whose tensors hold 64 elements each (same tensors, dispatches and JavaScript; real, tiny GPU work)` +
          (perCall
            ? `; each call timed alone (timer ${(resolution * 1e3).toFixed(0)} us)`
            : `; per call = batch time / ${batchSize} (timer ${(resolution * 1e3).toFixed(0)} us)`),
        perCall,
        batchSize,
        model: host[0]!,
        flat: host[1]!,
        emptyStep: host[2]!,
        timedModel: timed[0]!,
        timedFlat: timed[1]!,
      },
      timerResolutionMs: resolution,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      setupMs,
    };
  } finally {
    runners.forEach((r) => r.destroy());
    arena?.destroy();
    flatBuffers.forEach((b) => b.destroy());
    await device.queue.onSubmittedWorkDone();
  }
}

// ---------------------------------------------------------------------------------------------- TF.js

let tfReady: Promise<string> | undefined;

/** TF.js's webgpu backend, constructed on the bench's own device (same adapter, same queue). */
function tfBackend(c: Context): Promise<string> {
  tfReady ??= (async () => {
    // The package registered a 'webgpu' factory that would request its own adapter and device; replace it
    // (before it was ever instantiated, so its kernels stay registered) with one on our device.
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(c.device, c.info));
    if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its webgpu backend');
    await tf.ready();
    const backend = tf.backend() as unknown as { device?: GPUDevice };
    return backend.device === c.device ? 'shared GPUDevice (same adapter)' : 'a different GPUDevice';
  })();
  return tfReady;
}

export async function tfjsInfo(): Promise<{ version: string; device: string }> {
  return { version: tf.version_core, device: await tfBackend(await ctx()) };
}

/**
 * AdaBelief written with TF.js ops, as a user would: state in tf.variables, scalars that never change kept
 * as tensors, per-step scalars from the same f64 host math as the library (src/core/step-scalars.ts), one tf.tidy per step.
 */
class TfAdaBelief {
  private readonly m: tf.Variable;
  private readonly s: tf.Variable;
  private readonly smax: tf.Variable | undefined;
  private readonly consts: Record<'beta1' | 'oneMinusBeta1' | 'beta2' | 'oneMinusBeta2' | 'eps', tf.Scalar>;
  private t = 0;

  constructor(
    private readonly p: tf.Variable,
    private readonly options: ReturnType<typeof resolveOptions>,
  ) {
    this.m = tf.variable(tf.zerosLike(p));
    this.s = tf.variable(tf.zerosLike(p));
    if (options.amsgrad) this.smax = tf.variable(tf.zerosLike(p));
    const h = stepScalars(options, 1);
    this.consts = {
      beta1: tf.scalar(h.beta1),
      oneMinusBeta1: tf.scalar(h.oneMinusBeta1),
      beta2: tf.scalar(h.beta2),
      oneMinusBeta2: tf.scalar(h.oneMinusBeta2),
      eps: tf.scalar(h.eps),
    };
  }

  step(grad: tf.Tensor): void {
    const h = stepScalars(this.options, ++this.t);
    const k = this.consts;
    tf.tidy(() => {
      let p: tf.Tensor = this.p;
      let g = grad;
      if (h.decayMul !== 1) p = tf.mul(p, h.decayMul);
      if (h.l2 !== 0) g = tf.add(g, tf.mul(p, h.l2));
      const m = tf.add(tf.mul(this.m, k.beta1), tf.mul(g, k.oneMinusBeta1));
      const r = tf.sub(g, m);
      let s = tf.add(tf.mul(this.s, k.beta2), tf.mul(tf.mul(r, k.oneMinusBeta2), r));
      if (h.amsgrad !== Amsgrad.epsAfterMax) s = tf.add(s, k.eps);
      this.m.assign(m);
      this.s.assign(s);
      let v = s;
      if (this.smax) {
        let x = tf.maximum(this.smax, s);
        if (h.amsgrad === Amsgrad.epsAfterMax) x = tf.add(x, k.eps);
        this.smax.assign(x);
        if (h.denomFromMax) v = x;
      }
      if (h.update === Update.adaptive) {
        let d = tf.sqrt(v);
        if (h.divideBc2) d = tf.div(d, h.sqrtBc2);
        p = tf.add(p, tf.mul(tf.div(m, tf.add(d, k.eps)), h.stepSize));
      } else if (h.update === Update.sgd) {
        p = tf.add(p, tf.mul(m, h.stepSize));
      }
      if (p !== this.p) this.p.assign(p);
    });
  }

  dispose(): void {
    [this.m, this.s, this.smax, ...Object.values(this.consts)].forEach((x) => x?.dispose());
  }
}

/** TF.js Adam (`tf.train.adam`) or AdaBelief with TF.js ops on one variable of `size` elements. */
export async function measureTf(spec: MeasureSpec): Promise<Samples> {
  const c = await ctx();
  await tfBackend(c);
  const size = spec.size;
  const p = tf.variable(
    tf.tensor1d(fillNoise(new Float32Array(size), 1, 1)),
    true,
    `bench-p-${size}-${spec.variant}`,
  );
  const g = tf.tensor1d(fillNoise(new Float32Array(size), 0.01, 2));
  let step: () => void;
  let dispose: () => void;
  if (spec.impl === 'tfjs-adam') {
    const adam = tf.train.adam(1e-3);
    step = () => adam.applyGradients([{ name: p.name, tensor: g }]);
    dispose = () => adam.dispose();
  } else {
    const opt = new TfAdaBelief(p, resolveOptions(VARIANTS[spec.variant]));
    step = () => opt.step(g);
    dispose = () => opt.dispose();
  }
  const run = async (count: number) => {
    const t0 = performance.now();
    for (let k = 0; k < count; k++) step();
    const probe = tf.slice(p, 0, 1);
    await probe.data(); // flushes TF.js's command queue and waits for the GPU
    probe.dispose();
    return performance.now() - t0;
  };
  try {
    await run(1);
    const stepMs = await run(1);
    const K = stepsFor(spec, stepMs);
    const reps = repsFor(spec, stepMs);
    await run(Math.max(spec.warmupSteps - 2, K));
    const before = tf.memory().numTensors;
    const wallMs: number[] = [];
    for (let r = 0; r < reps; r++) wallMs.push((await run(K)) / K);
    const leaked = tf.memory().numTensors - before;
    checkErrors(c, `${spec.impl} ${spec.variant} n=${size}`);
    return { stepsPerRep: K, reps, wallMs, ...(leaked ? { note: `${leaked} tensors leaked` } : {}) };
  } finally {
    dispose();
    p.dispose();
    g.dispose();
  }
}
