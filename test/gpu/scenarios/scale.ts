/**
 * In-page scenarios for whole models and huge tensors: an arena of hundreds of tensors, one tensor past
 * the workgroup and binding limits, and a count of GPU objects created per step.
 */
import { AdaBelief, AdaBeliefCPU, ParamArena, type AdaBeliefOptions } from '../../../src/index.js';
import { compareArrays } from '../../helpers/compare.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { freshDevice, randomArray, rng, withGpu, type Gpu } from './harness.js';
import type { Report } from './parity.js';

/** Sizes log-uniform in [1, max], plus the edge sizes given. */
export function modelSizes(seed: number, count: number, max: number, edges: number[]): number[] {
  const r = rng(seed);
  const sizes = Array.from({ length: count - edges.length }, () =>
    Math.max(1, Math.round(Math.exp(r.next() * Math.log(max)))),
  );
  edges.forEach((e, i) => sizes.splice(Math.floor((i * sizes.length) / edges.length), 0, e));
  return sizes;
}

interface Run {
  report: Report;
  elements: number;
  dispatches: number;
}

/**
 * Steps a GPU optimizer over `entries` (params already holding `p0`) and the CPU reference side by side,
 * then compares params and every state buffer, tensor by tensor.
 */
async function stepBoth(
  gpu: Gpu,
  device: GPUDevice,
  entries: {
    param: { buffer: GPUBuffer; offset: number };
    grad: { buffer: GPUBuffer; offset: number };
    size: number;
  }[],
  p0: Float32Array[],
  steps: number,
  options: Partial<AdaBeliefOptions> & { dispatch?: { maxWorkgroups?: number } },
  seed: number,
): Promise<Run> {
  const r = rng(seed);
  const opt = gpu.track(await AdaBelief.create(device, entries, options));
  const cpuOptions: Partial<AdaBeliefOptions> = { ...options };
  delete (cpuOptions as { dispatch?: unknown }).dispatch;
  const cpu = new AdaBeliefCPU(p0, cpuOptions);
  const travel = p0.map((p) => new Float64Array(p.length));
  for (let t = 0; t < steps; t++) {
    const grads = entries.map((e) => randomArray(r, e.size, 0.01));
    grads.forEach((g, k) => device.queue.writeBuffer(entries[k]!.grad.buffer, entries[k]!.grad.offset, g));
    await opt.step();
    const before = cpu.params.map((p) => p.slice());
    cpu.step(grads);
    cpu.params.forEach((p, k) => p.forEach((v, i) => (travel[k]![i]! += Math.abs(v - before[k]![i]!))));
  }
  const report: Report = {};
  const keep = (q: keyof Report, s: ReturnType<typeof compareArrays>) => {
    const cur = report[q];
    if (!cur || s.worst > cur.worst || s.maxUlp > cur.maxUlp)
      report[q] = { ...s, nanMismatch: s.nanMismatch + (cur?.nanMismatch ?? 0) };
  };
  const state = await opt.exportState();
  const want = cpu.exportState();
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    const p = await gpu.read(e.param.buffer, e.size, e.param.offset);
    keep('param', compareArrays(p, cpu.params[k]!, paramTolerance(cpu.params[k]!, travel[k]!, steps)));
    for (const q of ['exp_avg', 'exp_avg_var'] as const) {
      keep(
        q,
        compareArrays(state.tensors[k]![q], want.tensors[k]![q], stateTolerance(want.tensors[k]![q], steps)),
      );
    }
  }
  const dispatches = (opt as unknown as { dispatches: unknown[] }).dispatches.length;
  return { report, elements: entries.reduce((n, e) => n + e.size, 0), dispatches };
}

/** A model of `sizes` tensors in a ParamArena, `steps` steps, GPU vs CPU on every element. */
export async function arenaModel(cfg: { seed: number; sizes: number[]; steps: number }): Promise<Run> {
  return withGpu(async (gpu) => {
    const r = rng(cfg.seed);
    const arena = gpu.track(new ParamArena(gpu.device, cfg.sizes));
    const p0 = cfg.sizes.map((n) => randomArray(r, n, 1));
    p0.forEach((p, i) => arena.writeParam(i, p));
    const entries = arena.entries.map((e, i) => ({
      param: arena.param(i),
      grad: arena.grad(i),
      size: e.size,
    }));
    return stepBoth(gpu, gpu.device, entries, p0, cfg.steps, { weightDecay: 1e-3 }, cfg.seed + 1);
  });
}

/**
 * One tensor of `size` elements in its own buffers on a device with `limits` ('adapter': the adapter's
 * largest buffers; 'default': WebGPU's defaults), against the CPU reference.
 */
export async function bigTensor(cfg: {
  size: number;
  steps: number;
  limits: 'adapter' | 'default';
  maxWorkgroups?: number;
}): Promise<Run & { maxBinding: number }> {
  const device = await freshDevice(
    cfg.limits === 'adapter' ? ['maxBufferSize', 'maxStorageBufferBindingSize'] : [],
  );
  try {
    return await withGpu(async (gpu) => {
      const r = rng(3);
      const p0 = randomArray(r, cfg.size, 1);
      const usage = 0x80 | 0x4 | 0x8;
      const param = gpu.track(device.createBuffer({ label: 'big-param', size: cfg.size * 4, usage }));
      const grad = gpu.track(device.createBuffer({ label: 'big-grad', size: cfg.size * 4, usage }));
      device.queue.writeBuffer(param, 0, p0);
      const entries = [
        { param: { buffer: param, offset: 0 }, grad: { buffer: grad, offset: 0 }, size: cfg.size },
      ];
      const dispatch = cfg.maxWorkgroups ? { maxWorkgroups: cfg.maxWorkgroups } : {};
      const run = await stepBoth(gpu, device, entries, [p0], cfg.steps, { rectify: false, dispatch }, 4);
      return { ...run, maxBinding: device.limits.maxStorageBufferBindingSize };
    }, device);
  } finally {
    device.destroy();
  }
}

/** GPU objects created by `steps` calls of step() after the first one (must be none). */
export async function createCalls(cfg: {
  sizes: number[];
  steps: number;
}): Promise<{ counts: Record<string, number>; submits: number }> {
  return withGpu(async (gpu) => {
    const arena = gpu.track(new ParamArena(gpu.device, cfg.sizes));
    const loose = gpu.buffer(new Float32Array(1001));
    const looseGrad = gpu.buffer(new Float32Array(1001));
    const opt = gpu.track(
      await AdaBelief.create(gpu.device, [...arena.entries, { param: loose, grad: looseGrad, size: 1001 }], {
        amsgrad: true,
      }),
    );
    await opt.step();
    const methods = [
      'createBuffer',
      'createBindGroup',
      'createBindGroupLayout',
      'createPipelineLayout',
      'createComputePipeline',
      'createComputePipelineAsync',
      'createShaderModule',
      'createTexture',
      'createQuerySet',
    ] as const;
    const counts: Record<string, number> = {};
    const device = gpu.device as unknown as Record<string, (...a: unknown[]) => unknown>;
    const originals = methods.map((m) => device[m]!);
    methods.forEach((m, i) => {
      counts[m] = 0;
      device[m] = (...a: unknown[]) => {
        counts[m]!++;
        return originals[i]!.apply(gpu.device, a);
      };
    });
    const queue = gpu.device.queue as unknown as { submit: (b: GPUCommandBuffer[]) => void };
    const submit = queue.submit;
    let submits = 0;
    queue.submit = (b) => {
      submits++;
      submit.call(gpu.device.queue, b);
    };
    try {
      for (let i = 0; i < cfg.steps; i++) await opt.step();
    } finally {
      methods.forEach((m, i) => (device[m] = originals[i]!));
      queue.submit = submit;
    }
    return { counts, submits };
  });
}
