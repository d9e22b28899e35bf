/**
 * GPU plumbing shared by the optimizer: per-device pipeline cache, buffer-entry checks, error scopes and
 * readback. Nothing here knows the optimizer's math.
 */
import kernelSource from '../shaders/adabelief.wgsl?raw';
import statsSource from '../shaders/grad-stats.wgsl?raw';

/** A buffer, or a region of one starting `offset` bytes in. */
export interface BufferRef {
  buffer: GPUBuffer;
  /** Byte offset of element 0; a multiple of 256. Default 0. */
  offset?: number;
}

export type BufferLike = GPUBuffer | BufferRef;

export function toRef(b: BufferLike): Required<BufferRef> {
  return 'buffer' in b ? { buffer: b.buffer, offset: b.offset ?? 0 } : { buffer: b, offset: 0 };
}

// GPUBufferUsage / GPUShaderStage values, spelled out so the module also loads where the globals are absent.
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80 } as const;
const COMPUTE_STAGE = 0x4;

export interface KernelPipeline {
  layout: GPUBindGroupLayout;
  pipeline: GPUComputePipeline;
}

/** The two entry points of shaders/adabelief.wgsl: `main` over a window's vec4s, `tail` for a piece's last elements. */
export interface KernelPipelines {
  body: KernelPipeline;
  tail: KernelPipeline;
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, KernelPipelines>>();

/**
 * The fused-step pipelines for `device`, `workgroupSize` and the state kept (`amsgrad`: the running max;
 * `variance`: the second moment, off for SGD), built once per device and reused.
 */
export function kernelPipelines(
  device: GPUDevice,
  workgroupSize: number,
  amsgrad: boolean,
  variance = true,
): KernelPipelines {
  let perDevice = pipelineCache.get(device);
  if (!perDevice) {
    perDevice = new Map();
    pipelineCache.set(device, perDevice);
  }
  const key = `${workgroupSize}/${amsgrad}/${variance}`;
  const cached = perDevice.get(key);
  if (cached) return cached;

  const entry = (binding: number, type: GPUBufferBindingType = 'storage'): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: COMPUTE_STAGE,
    buffer: { type },
  });
  const readOnly = (binding: number) => entry(binding, 'read-only-storage');
  // 0 hyper, 4 exp_avg, 5 exp_avg_var, 6 max_exp_avg_var, 10 control: both entry points. 1 table, 2 param,
  // 3 grad: main. 7 tail_piece, 8 param_tail, 9 grad_tail: tail.
  const shared = [readOnly(0), entry(4), entry(5), entry(6), readOnly(10)];
  const module = device.createShaderModule({ label: 'adabelief/shader', code: kernelSource });
  const build = (entryPoint: 'main' | 'tail', entries: GPUBindGroupLayoutEntry[]): KernelPipeline => {
    const layout = device.createBindGroupLayout({ label: `adabelief/${entryPoint}-layout`, entries });
    const pipeline = device.createComputePipeline({
      label: `adabelief/${entryPoint}-wg${workgroupSize}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`,
      layout: device.createPipelineLayout({
        label: `adabelief/${entryPoint}-pipeline-layout`,
        bindGroupLayouts: [layout],
      }),
      compute: {
        module,
        entryPoint,
        constants: {
          AMSGRAD: amsgrad ? 1 : 0,
          VARIANCE: variance ? 1 : 0,
          ...(entryPoint === 'main' ? { WORKGROUP_SIZE: workgroupSize } : {}),
        },
      },
    });
    return { layout, pipeline };
  };
  const built = {
    body: build('main', [...shared, readOnly(1), entry(2), readOnly(3)]),
    tail: build('tail', [...shared, readOnly(7), entry(8), readOnly(9)]),
  };
  perDevice.set(key, built);
  return built;
}

/** The configuration of the packed entry points (lower precision) of shaders/adabelief.wgsl. */
export interface PackedKernelConfig {
  workgroupSize: number;
  amsgrad: boolean;
  variance: boolean;
  /** param / grad are f16 (two per u32 word); else f32. */
  paramF16: boolean;
  /** m, s, smax are stored as bf16. */
  stateBf16: boolean;
  /** The update runs on an f32 master copy kept in the state region (f16 params only). */
  master: boolean;
}

/** `main_packed` and, with master weights, `init_master`: one bind group layout for both. */
export interface PackedPipelines {
  layout: GPUBindGroupLayout;
  body: GPUComputePipeline;
  init: GPUComputePipeline | undefined;
}

const packedCache = new WeakMap<GPUDevice, Map<string, PackedPipelines>>();

/**
 * The packed-window pipelines of shaders/adabelief.wgsl for `device` and `config` (built once per device and
 * configuration). Bindings: 0 hyper, 1 table, 10 control (read-only), 11 param words, 13 state region
 * (read-write), 12 grad words (read-only): six storage buffers.
 */
export function packedPipelines(device: GPUDevice, config: PackedKernelConfig): PackedPipelines {
  let perDevice = packedCache.get(device);
  if (!perDevice) {
    perDevice = new Map();
    packedCache.set(device, perDevice);
  }
  const { workgroupSize, amsgrad, variance, paramF16, stateBf16, master } = config;
  const key = JSON.stringify([workgroupSize, amsgrad, variance, paramF16, stateBf16, master]);
  const cached = perDevice.get(key);
  if (cached) return cached;
  const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: COMPUTE_STAGE,
    buffer: { type },
  });
  const ro = 'read-only-storage' as const;
  const name = `adabelief/packed-wg${workgroupSize}${paramF16 ? '-f16' : '-f32'}${stateBf16 ? '-bf16state' : ''}${master ? '-master' : ''}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`;
  const layout = device.createBindGroupLayout({
    label: `${name}-layout`,
    entries: [
      entry(0, ro),
      entry(1, ro),
      entry(10, ro),
      entry(11, 'storage'),
      entry(12, ro),
      entry(13, 'storage'),
    ],
  });
  const pipelineLayout = device.createPipelineLayout({
    label: `${name}-pipeline-layout`,
    bindGroupLayouts: [layout],
  });
  const module = device.createShaderModule({ label: 'adabelief/shader', code: kernelSource });
  const build = (entryPoint: 'main_packed' | 'init_master') =>
    device.createComputePipeline({
      label: `${name}/${entryPoint}`,
      layout: pipelineLayout,
      compute: {
        module,
        entryPoint,
        constants: {
          WORKGROUP_SIZE: workgroupSize,
          AMSGRAD: amsgrad ? 1 : 0,
          VARIANCE: variance ? 1 : 0,
          PARAM_F16: paramF16 ? 1 : 0,
          STATE_BF16: stateBf16 ? 1 : 0,
          MASTER: master ? 1 : 0,
        },
      },
    });
  const built = { layout, body: build('main_packed'), init: master ? build('init_master') : undefined };
  perDevice.set(key, built);
  return built;
}

/** The three entry points of shaders/grad-stats.wgsl (the guard passes). */
export interface StatsPipelines {
  stats: KernelPipeline;
  statsTail: KernelPipeline;
  finalize: KernelPipeline;
  /** `stats_packed` for gradients as f32 words (f16 = false) or f16 pairs (f16 = true); built on first use. */
  statsPacked(f16: boolean): KernelPipeline;
}

const statsCache = new WeakMap<GPUDevice, StatsPipelines>();

/** The guard-pass pipelines for `device`, built once per device and reused. */
export function statsPipelines(device: GPUDevice): StatsPipelines {
  const cached = statsCache.get(device);
  if (cached) return cached;
  const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: COMPUTE_STAGE,
    buffer: { type },
  });
  const module = device.createShaderModule({ label: 'adabelief/grad-stats-shader', code: statsSource });
  // 0 control, 3 partials (read-write); 1 table, 2 grad: stats; 4 tail_piece, 5 grad_tail: stats_tail.
  const build = (
    entryPoint: string,
    bindings: [number, GPUBufferBindingType][],
    constants: Record<string, number> = {},
  ): KernelPipeline => {
    const name = `adabelief/${entryPoint}${constants.GRAD_F16 ? '-f16' : ''}`;
    const layout = device.createBindGroupLayout({
      label: `${name}-layout`,
      entries: bindings.map(([b, t]) => entry(b, t)),
    });
    const pipeline = device.createComputePipeline({
      label: name,
      layout: device.createPipelineLayout({
        label: `${name}-pipeline-layout`,
        bindGroupLayouts: [layout],
      }),
      compute: { module, entryPoint, constants },
    });
    return { layout, pipeline };
  };
  const rw = 'storage' as const;
  const ro = 'read-only-storage' as const;
  const packed: (KernelPipeline | undefined)[] = [];
  const built = {
    statsPacked: (f16: boolean) =>
      (packed[+f16] ??= build(
        'stats_packed',
        [
          [0, rw],
          [1, ro],
          [3, rw],
          [6, ro],
        ],
        { GRAD_F16: f16 ? 1 : 0 },
      )),
    stats: build('stats', [
      [0, rw],
      [1, ro],
      [2, ro],
      [3, rw],
    ]),
    statsTail: build('stats_tail', [
      [0, rw],
      [3, rw],
      [4, ro],
      [5, ro],
    ]),
    finalize: build('finalize', [
      [0, rw],
      [3, rw],
    ]),
  };
  statsCache.set(device, built);
  return built;
}

/** True when the device runs on a CPU fallback adapter (SwiftShader and the like). */
export function isFallbackDevice(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } })
    .adapterInfo;
  if (!info) return false;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter === true || text.includes('swiftshader') || text.includes('llvmpipe');
}

/**
 * Runs `body` inside validation and out-of-memory error scopes and returns a promise that rejects with
 * an Error carrying `what` and WebGPU's own message when either scope caught something.
 */
export function inErrorScopes<T>(
  device: GPUDevice,
  what: string,
  body: () => T,
): { value: T; errors: Promise<void> } {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T;
  try {
    value = body();
  } catch (err) {
    // Pop both scopes (in reverse order of pushing) before rethrowing, so the device's stack stays balanced.
    void device.popErrorScope();
    void device.popErrorScope();
    throw err;
  }
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  const errors = Promise.all([validation, oom]).then(([v, o]) => {
    const e = v ?? o;
    if (e) throw new Error(`${what}: WebGPU ${v ? 'validation' : 'out-of-memory'} error: ${e.message}`);
  });
  return { value, errors };
}

/**
 * Copies `[offset, offset + bytes)` of each source into mappable staging buffers (as few as fit under
 * the device's maxBufferSize) and returns the bytes of each region.
 */
export async function readBuffers(
  device: GPUDevice,
  regions: { buffer: GPUBuffer; offset: number; bytes: number }[],
  label: string,
): Promise<ArrayBuffer[]> {
  const padded = (r: { bytes: number }) => Math.ceil(r.bytes / 4) * 4;
  const batches: { size: number; at: number[] }[] = [];
  for (const r of regions) {
    let batch = batches.at(-1);
    if (!batch || batch.size + padded(r) > device.limits.maxBufferSize)
      batches.push((batch = { size: 0, at: [] }));
    batch.at.push(batch.size);
    batch.size += padded(r);
  }
  const out: ArrayBuffer[] = [];
  let next = 0;
  for (const [k, batch] of batches.entries()) {
    const mine = regions.slice(next, next + batch.at.length);
    next += batch.at.length;
    const { value: staging, errors } = inErrorScopes(device, label, () => {
      const staging = device.createBuffer({
        label: `${label}/staging#${k}`,
        size: Math.max(batch.size, 4),
        usage: Usage.MAP_READ | Usage.COPY_DST,
      });
      const enc = device.createCommandEncoder({ label: `${label}/encoder` });
      mine.forEach((r, i) => enc.copyBufferToBuffer(r.buffer, r.offset, staging, batch.at[i]!, padded(r)));
      device.queue.submit([enc.finish()]);
      return staging;
    });
    try {
      await errors;
      await staging.mapAsync(0x1 /* GPUMapMode.READ */);
      const mapped = staging.getMappedRange();
      mine.forEach((r, i) => out.push(mapped.slice(batch.at[i]!, batch.at[i]! + r.bytes)));
    } finally {
      staging.destroy();
    }
  }
  return out;
}
