/**
 * One run of the trajectories page, all on the GPU: every step is a gradient pass
 * (demo/shaders/toy-gradient.wgsl, one invocation per optimizer) followed by each optimizer's own step
 * (`encode()`), then a copy of each optimizer's (x, y) into a path buffer. Steps are recorded 8 to an
 * encoder (the optimizers' `encode()` ring holds 8 steps) and the path is read back once, at the end.
 */
import gradientSource from '../shaders/toy-gradient.wgsl?raw';
import { createOptimizer, type CreatedOptimizer, type OptimizerName } from './optimizers.js';
import type { ToyFunction, ToySettings } from './toy-functions.js';

const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
/** Bytes between two optimizers' (x, y) in the param and grad buffers: the optimizers' offset alignment. */
const SLOT_BYTES = 256;
/** Steps recorded into one encoder before its submit (the optimizers' encode() ring has 8 slots). */
const STEPS_PER_SUBMIT = 8;

export interface TrajectoryRun {
  /** Per optimizer: its legend label and its path (x0, y0, x1, y1, ... for steps 0..steps). */
  paths: { name: OptimizerName; label: string; path: Float32Array }[];
  /** Wall time from the first submit to the path's readback (ms). */
  gpuMs: number;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** The gradient pipeline of `fn` for `count` points, built once per device. */
function gradientPipeline(device: GPUDevice, fn: ToyFunction, count: number): GPUComputePipeline {
  let perDevice = pipelines.get(device);
  if (!perDevice) pipelines.set(device, (perDevice = new Map()));
  const key = `${fn.shaderIndex}/${count}`;
  let pipeline = perDevice.get(key);
  if (!pipeline) {
    const module = device.createShaderModule({ label: 'demo/toy-gradient', code: gradientSource });
    pipeline = device.createComputePipeline({
      label: `demo/toy-gradient-${fn.id}`,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { FUNCTION: fn.shaderIndex, COUNT: count } },
    });
    perDevice.set(key, pipeline);
  }
  return pipeline;
}

/**
 * Runs `settings.steps` steps of every optimizer in `names` on `fn` from the same start. Rejects with
 * WebGPU's message if any GPU call failed; frees everything it created either way.
 */
export async function runTrajectories(
  device: GPUDevice,
  fn: ToyFunction,
  settings: ToySettings,
  names: readonly OptimizerName[],
): Promise<TrajectoryRun> {
  const { steps } = settings;
  if (!Number.isSafeInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const count = names.length;
  const pathBytes = (steps + 1) * 8;
  const owned: { destroy(): void }[] = [];
  const buffer = (label: string, size: number, usage: number) => {
    const b = device.createBuffer({ label, size, usage });
    owned.push(b);
    return b;
  };
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let outcome: { ok: true; value: TrajectoryRun } | { ok: false; error: unknown };
  try {
    const params = buffer('demo/toy-params', count * SLOT_BYTES, STORAGE | COPY_SRC | COPY_DST);
    const grads = buffer('demo/toy-grads', count * SLOT_BYTES, STORAGE | COPY_SRC | COPY_DST);
    const path = buffer('demo/toy-path', count * pathBytes, COPY_SRC | COPY_DST);
    const staging = buffer('demo/toy-path-readback', count * pathBytes, MAP_READ | COPY_DST);
    const start = new Float32Array([settings.startX, settings.startY]);
    for (let i = 0; i < count; i++) {
      device.queue.writeBuffer(params, i * SLOT_BYTES, start);
      device.queue.writeBuffer(path, i * pathBytes, start);
    }
    const created: CreatedOptimizer[] = names.map((name, i) => {
      const region = (b: GPUBuffer) => ({ buffer: b, offset: i * SLOT_BYTES });
      const c = createOptimizer(
        name,
        device,
        [{ param: region(params), grad: region(grads), size: 2 }],
        settings,
      );
      owned.push(c.optimizer);
      return c;
    });
    await Promise.all(created.map((c) => c.optimizer.ready));

    const pipeline = gradientPipeline(device, fn, count);
    const bindGroup = device.createBindGroup({
      label: `demo/toy-gradient-${fn.id}`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: { buffer: grads } },
      ],
    });
    const t0 = performance.now();
    let encoder = device.createCommandEncoder({ label: 'demo/toy-steps' });
    for (let k = 1; k <= steps; k++) {
      const pass = encoder.beginComputePass({ label: 'demo/toy-gradient' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(count / 64));
      pass.end();
      for (const c of created) c.optimizer.encode(encoder);
      for (let i = 0; i < count; i++)
        encoder.copyBufferToBuffer(params, i * SLOT_BYTES, path, i * pathBytes + k * 8, 8);
      if (k % STEPS_PER_SUBMIT === 0 || k === steps) {
        if (k === steps) encoder.copyBufferToBuffer(path, 0, staging, 0, count * pathBytes);
        device.queue.submit([encoder.finish()]);
        if (k < steps) encoder = device.createCommandEncoder({ label: 'demo/toy-steps' });
      }
    }
    await staging.mapAsync(MAP_READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    const gpuMs = performance.now() - t0;
    outcome = {
      ok: true,
      value: {
        gpuMs,
        paths: created.map((c, i) => ({
          name: c.name,
          label: c.label,
          path: all.slice((i * pathBytes) / 4, ((i + 1) * pathBytes) / 4),
        })),
      },
    };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const validation = await device.popErrorScope();
  const memory = await device.popErrorScope();
  owned.forEach((x) => x.destroy());
  // WebGPU's own message first: a failed mapAsync or optimizer check is usually its consequence.
  const gpuError = validation ?? memory;
  if (gpuError) throw new Error(`WebGPU error during the run: ${gpuError.message}`);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
