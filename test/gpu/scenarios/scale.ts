/**
 * In-page scenarios for whole models and huge tensors: an arena of hundreds of tensors (every element
 * compared), one tensor past the workgroup and binding limits (compared on sampled ranges: every boundary
 * and a random sample), and a count of GPU objects created per step. The data are integer hashes of the
 * element index (hashValue), cheap to make and to recompute for any element.
 */
import { AdaBelief, AdaBeliefCPU, ParamArena, type AdaBeliefOptions } from '../../../src/index.js';
import { compareArrays } from '../../helpers/compare.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { freshDevice, rng, withGpu, type Gpu } from './harness.js';
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

/**
 * A value in [-1, 1) that depends only on `seed` and element `i` (a 32-bit integer hash): the test data here.
 * The CPU reference can take any element's inputs without keeping the whole tensor, and filling hundreds of
 * millions of elements takes a fraction of a second (normal samples through the page's rng take seconds).
 */
function hashValue(seed: number, i: number): number {
  let h = Math.imul(i, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) / 2 ** 31;
}

/** Tensors of `sizes` elements holding `scale · hashValue(seed, i)`, i counted across all of them. */
function hashArrays(seed: number, sizes: number[], scale: number): Float32Array<ArrayBuffer>[] {
  let i = 0;
  return sizes.map((n) => {
    const a = new Float32Array(n);
    for (let j = 0; j < n; j++) a[j] = scale * hashValue(seed, i++);
    return a;
  });
}

/** One run compared with the CPU reference: its report, the elements stepped, the dispatches per step. */
export interface Run {
  report: Report;
  elements: number;
  dispatches: number;
}

/** `bigTensor`'s result. */
export interface BigRun extends Run {
  maxBinding: number;
  pieces: number;
  tails: number;
  compared: number;
  ranges: number;
  lastIndex: number;
  /** Elements (of all, sampled or not) whose exp_avg_var is not positive, i.e. never updated; the first. */
  unwritten: number;
  firstUnwritten: number;
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
  options: Partial<AdaBeliefOptions>,
  /** Gradients of step t: hashArrays(seed + 1 + t). */
  seed: number,
): Promise<Run> {
  const opt = gpu.track(await AdaBelief.create(device, entries, options));
  const cpu = new AdaBeliefCPU(p0, options);
  const travel = p0.map((p) => new Float64Array(p.length));
  for (let t = 0; t < steps; t++) {
    const grads = hashArrays(
      seed + 1 + t,
      entries.map((e) => e.size),
      0.01,
    );
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
    const arena = gpu.track(new ParamArena(gpu.device, cfg.sizes));
    const p0 = hashArrays(cfg.seed, cfg.sizes, 1);
    p0.forEach((p, i) => arena.writeParam(i, p));
    const entries = arena.entries.map((e, i) => ({
      param: arena.param(i),
      grad: arena.grad(i),
      size: e.size,
    }));
    return stepBoth(gpu, gpu.device, entries, p0, cfg.steps, { weightDecay: 1e-3 }, cfg.seed + 1);
  });
}

/** Writes `scale · hashValue(seed, i)` for i in [0, size) into `buffer`, a few MB at a time. */
function fillBuffer(device: GPUDevice, buffer: GPUBuffer, size: number, seed: number, scale: number): void {
  const chunk = new Float32Array(Math.min(size, 2 ** 22));
  for (let start = 0; start < size; start += chunk.length) {
    const n = Math.min(chunk.length, size - start);
    for (let j = 0; j < n; j++) chunk[j] = scale * hashValue(seed, start + j);
    device.queue.writeBuffer(buffer, start * 4, chunk, 0, n);
  }
}

/** Element ranges [start, end) of a tensor, sorted and merged. */
type Ranges = [number, number][];

function mergeRanges(ranges: Ranges, size: number): Ranges {
  const clipped = ranges
    .map(([a, b]): [number, number] => [Math.max(0, a), Math.min(size, b)])
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0]);
  const out: Ranges = [];
  for (const [a, b] of clipped) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Elements on each side of every boundary the huge-tensor tests compare (4 runs of the block map's 256 vec4s). */
const MARGIN = 4096;

/**
 * The elements of a huge tensor compared with the CPU reference: the first and last MARGIN elements of every
 * piece (binding / window boundaries, the tail), MARGIN on each side of every power of two from 2^10 up
 * (element and vec4 indices past 2^24, where an f32 index would lose integers, and past 2^25), on each side of
 * the first and last three grid-stride pass boundaries of every piece (multiples of workgroups · 64 vec4s,
 * which include the passes of workgroups of 128 and 256), and 512 runs of 256 elements at seeded random places.
 */
function sampleRanges(
  size: number,
  pieces: { start: number; count: number }[],
  workgroups: number[],
  seed: number,
): Ranges {
  const ranges: Ranges = [];
  const around = (x: number) => ranges.push([x - MARGIN, x + MARGIN]);
  for (const p of pieces) {
    ranges.push([p.start, p.start + MARGIN], [p.start + p.count - MARGIN, p.start + p.count]);
    for (const w of new Set(workgroups)) {
      const pass = w * 64 * 4;
      const passes = Math.floor((p.count - 1) / pass);
      for (let k = 1; k <= passes; k++) if (k <= 3 || k > passes - 3) around(p.start + k * pass);
    }
  }
  for (let x = 2 ** 10; x < size + MARGIN; x *= 2) around(x);
  const r = rng(seed);
  for (let k = 0; k < 512; k++) {
    const at = Math.floor(r.next() * size);
    ranges.push([at, at + 256]);
  }
  return mergeRanges(ranges, size);
}

/** Reads the f32 elements of `ranges` of `buffer`, one after another, in one copy pass and one mapping. */
async function readRanges(device: GPUDevice, buffer: GPUBuffer, ranges: Ranges): Promise<Float32Array> {
  const total = ranges.reduce((n, [a, b]) => n + b - a, 0);
  const staging = device.createBuffer({ label: 'big-readback', size: total * 4, usage: 0x1 | 0x8 });
  try {
    const enc = device.createCommandEncoder({ label: 'big-readback' });
    let at = 0;
    for (const [a, b] of ranges) {
      enc.copyBufferToBuffer(buffer, a * 4, staging, at * 4, (b - a) * 4);
      at += b - a;
    }
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x1);
    return new Float32Array(staging.getMappedRange().slice(0));
  } finally {
    staging.destroy();
  }
}

/** The elements of `ranges` of `a`, one after another. */
function gather(a: ArrayLike<number>, ranges: Ranges, total: number): Float32Array {
  const out = new Float32Array(total);
  let at = 0;
  for (const [s, e] of ranges) for (let i = s; i < e; i++) out[at++] = a[i]!;
  return out;
}

/**
 * One tensor of `size` elements in its own buffers on a device with `limits` ('adapter': the adapter's
 * largest buffers; 'default': WebGPU's defaults), against the CPU reference on the sampled elements
 * (sampleRanges). The update is element-wise (no option used here mixes elements), so the CPU reference run
 * on just those elements, as one tensor, computes exactly what it computes for them in the whole tensor; the
 * tolerances are the usual ones (their mean terms taken over the compared elements). The GPU updates every
 * element; params are read back in the sampled ranges, the state through exportState() (all of it).
 */
export async function bigTensor(cfg: {
  size: number;
  steps: number;
  limits: 'adapter' | 'default';
  maxWorkgroups?: number;
}): Promise<BigRun> {
  const device = await freshDevice(
    cfg.limits === 'adapter' ? ['maxBufferSize', 'maxStorageBufferBindingSize'] : [],
  );
  try {
    return await withGpu(async (gpu) => {
      const seed = 3;
      const usage = 0x80 | 0x4 | 0x8;
      const param = gpu.track(device.createBuffer({ label: 'big-param', size: cfg.size * 4, usage }));
      const grad = gpu.track(device.createBuffer({ label: 'big-grad', size: cfg.size * 4, usage }));
      fillBuffer(device, param, cfg.size, seed, 1);
      const entries = [
        { param: { buffer: param, offset: 0 }, grad: { buffer: grad, offset: 0 }, size: cfg.size },
      ];
      const dispatch = cfg.maxWorkgroups ? { maxWorkgroups: cfg.maxWorkgroups } : {};
      const options: Partial<AdaBeliefOptions> = { rectify: false };
      const opt = gpu.track(await AdaBelief.create(device, entries, { ...options, dispatch }));
      // The optimizer's own plan (private fields, read for the test): where its pieces start and end.
      const internals = opt as unknown as {
        layout?: { pieces: { start: number; count: number; tail: boolean }[] };
        dispatches: { workgroups: number }[];
      };
      if (!internals.layout?.pieces)
        throw new Error('AdaBelief has no layout.pieces to sample the boundaries of');
      const pieces = internals.layout.pieces;
      const ranges = sampleRanges(
        cfg.size,
        pieces,
        internals.dispatches.map((d) => d.workgroups),
        seed + 100,
      );
      const compared = ranges.reduce((n, [a, b]) => n + b - a, 0);
      const index = new Float64Array(compared); // tensor index of each compared element
      {
        let at = 0;
        for (const [a, b] of ranges) for (let i = a; i < b; i++) index[at++] = i;
      }
      const valuesAt = (s: number, scale: number) => index.map((i) => Math.fround(scale * hashValue(s, i)));
      const p0 = Float32Array.from(valuesAt(seed, 1));
      const cpu = new AdaBeliefCPU([p0.slice()], options);
      const travel = new Float64Array(compared);
      for (let t = 1; t <= cfg.steps; t++) {
        fillBuffer(device, grad, cfg.size, seed + t, 0.01);
        await opt.step();
        const before = cpu.params[0]!.slice();
        cpu.step([Float32Array.from(valuesAt(seed + t, 0.01))]);
        const p = cpu.params[0]!;
        for (let j = 0; j < compared; j++) travel[j]! += Math.abs(p[j]! - before[j]!);
      }
      const report: Report = {};
      const cite = (s: ReturnType<typeof compareArrays>) => ({ ...s, worstIndex: index[s.worstIndex] ?? -1 });
      const want = cpu.exportState().tensors[0]!;
      const gotParam = await readRanges(device, param, ranges);
      const wantParam = cpu.params[0]!;
      report.param = cite(compareArrays(gotParam, wantParam, paramTolerance(wantParam, travel, cfg.steps)));
      const state = (await opt.exportState()).tensors[0]!;
      for (const q of ['exp_avg', 'exp_avg_var'] as const) {
        if (state[q].length !== cfg.size) throw new Error(`${q}: ${state[q].length} elements exported`);
        const got = gather(state[q], ranges, compared);
        report[q] = cite(compareArrays(got, want[q], stateTolerance(want[q], cfg.steps)));
      }
      // Every element, not just the sampled ones: each step adds eps (1e-16) to exp_avg_var, so an element the
      // kernel updated holds a positive value and one it missed still holds the buffer's initial zero.
      const s = state.exp_avg_var;
      let unwritten = 0;
      let firstUnwritten = -1;
      for (let i = 0; i < s.length; i++) {
        if (!(s[i]! > 0)) {
          if (unwritten++ === 0) firstUnwritten = i;
        }
      }
      return {
        report,
        elements: cfg.size,
        dispatches: internals.dispatches.length,
        maxBinding: device.limits.maxStorageBufferBindingSize,
        pieces: pieces.length,
        tails: pieces.filter((p) => p.tail).length,
        compared,
        ranges: ranges.length,
        lastIndex: index[compared - 1]!,
        unwritten,
        firstUnwritten,
      };
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
