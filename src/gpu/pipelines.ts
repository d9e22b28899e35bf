/**
 * The compute pipelines of the two shaders, built once per device and configuration (WeakMap caches keyed
 * by device) with explicit bind group layouts:
 *   shaders/adabelief.wgsl   `main` + `tail` (f32 windows), `main_packed` + `init_master` (lower precision)
 *   shaders/grad-stats.wgsl  `stats`, `stats_tail`, `stats_packed`, `finalize` (the guard passes)
 * Variants are pipeline-overridable constants, never WGSL assembled from strings.
 */
import kernelSource from '../../shaders/adabelief.wgsl?raw';
import statsSource from '../../shaders/grad-stats.wgsl?raw';

const COMPUTE_STAGE = 0x4; // GPUShaderStage.COMPUTE, spelled out so the module loads without the globals
const RW: GPUBufferBindingType = 'storage';
const RO: GPUBufferBindingType = 'read-only-storage';

/** A binding number and its buffer binding type. */
type Binding = [number, GPUBufferBindingType];

export interface KernelPipeline {
  layout: GPUBindGroupLayout;
  pipeline: GPUComputePipeline;
}

/** The two entry points of shaders/adabelief.wgsl: `main` over a window's vec4s, `tail` for a piece's last elements. */
export interface KernelPipelines {
  body: KernelPipeline;
  tail: KernelPipeline;
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

/** The entry points of shaders/grad-stats.wgsl (the guard passes). */
export interface StatsPipelines {
  stats: KernelPipeline;
  statsTail: KernelPipeline;
  finalize: KernelPipeline;
  /** `stats_packed` for gradients as f32 words (f16 = false) or f16 pairs (f16 = true); built on first use. */
  statsPacked(f16: boolean): KernelPipeline;
}

/** `build()`'s value for `device` and `key`, built on the first request and kept while the device lives. */
function perDevice<T>(
  cache: WeakMap<GPUDevice, Map<string, T>>,
  device: GPUDevice,
  key: string,
  build: () => T,
): T {
  let byKey = cache.get(device);
  if (!byKey) cache.set(device, (byKey = new Map()));
  let value = byKey.get(key);
  if (value === undefined) byKey.set(key, (value = build()));
  return value;
}

const modules = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

function shaderModule(device: GPUDevice, name: 'adabelief' | 'grad-stats'): GPUShaderModule {
  return perDevice(modules, device, name, () =>
    device.createShaderModule({
      label: `adabelief/${name}-shader`,
      code: name === 'adabelief' ? kernelSource : statsSource,
    }),
  );
}

function storageLayout(device: GPUDevice, label: string, bindings: Binding[]): GPUBindGroupLayout {
  return device.createBindGroupLayout({
    label: `${label}-layout`,
    entries: bindings.map(([binding, type]) => ({ binding, visibility: COMPUTE_STAGE, buffer: { type } })),
  });
}

/** A pipeline running `entryPoint` of `module` with one bind group of `layout`. */
function computePipeline(
  device: GPUDevice,
  label: string,
  layout: GPUBindGroupLayout,
  module: GPUShaderModule,
  entryPoint: string,
  constants: Record<string, number>,
): GPUComputePipeline {
  return device.createComputePipeline({
    label,
    layout: device.createPipelineLayout({ label: `${label}-pipeline-layout`, bindGroupLayouts: [layout] }),
    compute: { module, entryPoint, constants },
  });
}

/** A layout of `bindings` and a pipeline of `entryPoint` using it. */
function kernel(
  device: GPUDevice,
  label: string,
  shader: 'adabelief' | 'grad-stats',
  entryPoint: string,
  bindings: Binding[],
  constants: Record<string, number> = {},
): KernelPipeline {
  const layout = storageLayout(device, label, bindings);
  return {
    layout,
    pipeline: computePipeline(device, label, layout, shaderModule(device, shader), entryPoint, constants),
  };
}

const fusedCache = new WeakMap<GPUDevice, Map<string, KernelPipelines>>();

/**
 * The fused-step pipelines for `device`, `workgroupSize` and the state kept (`amsgrad`: the running max;
 * `variance`: the second moment, off for SGD). Bindings: 0 hyper, 4 exp_avg, 5 exp_avg_var,
 * 6 max_exp_avg_var, 10 control for both entry points; 1 table, 2 param, 3 grad for `main`; 7 tail_piece,
 * 8 param_tail, 9 grad_tail for `tail`.
 */
export function kernelPipelines(
  device: GPUDevice,
  workgroupSize: number,
  amsgrad: boolean,
  variance = true,
): KernelPipelines {
  return perDevice(fusedCache, device, `${workgroupSize}/${amsgrad}/${variance}`, () => {
    const shared: Binding[] = [
      [0, RO],
      [4, RW],
      [5, RW],
      [6, RW],
      [10, RO],
    ];
    const name = `adabelief/wg${workgroupSize}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`;
    const constants = { AMSGRAD: +amsgrad, VARIANCE: +variance };
    return {
      body: kernel(device, `${name}/main`, 'adabelief', 'main', [...shared, [1, RO], [2, RW], [3, RO]], {
        ...constants,
        WORKGROUP_SIZE: workgroupSize,
      }),
      tail: kernel(
        device,
        `${name}/tail`,
        'adabelief',
        'tail',
        [...shared, [7, RO], [8, RW], [9, RO]],
        constants,
      ),
    };
  });
}

const packedCache = new WeakMap<GPUDevice, Map<string, PackedPipelines>>();

/**
 * The packed-window pipelines of shaders/adabelief.wgsl for `device` and `config`. Bindings: 0 hyper,
 * 1 table, 10 control, 12 grad words (read-only), 11 param words, 13 state region (read-write): six storage
 * buffers.
 */
export function packedPipelines(device: GPUDevice, config: PackedKernelConfig): PackedPipelines {
  const { workgroupSize, amsgrad, variance, paramF16, stateBf16, master } = config;
  const key = JSON.stringify([workgroupSize, amsgrad, variance, paramF16, stateBf16, master]);
  return perDevice(packedCache, device, key, () => {
    const name = `adabelief/packed-wg${workgroupSize}${paramF16 ? '-f16' : '-f32'}${stateBf16 ? '-bf16state' : ''}${master ? '-master' : ''}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`;
    const layout = storageLayout(device, name, [
      [0, RO],
      [1, RO],
      [10, RO],
      [11, RW],
      [12, RO],
      [13, RW],
    ]);
    const constants = {
      WORKGROUP_SIZE: workgroupSize,
      AMSGRAD: +amsgrad,
      VARIANCE: +variance,
      PARAM_F16: +paramF16,
      STATE_BF16: +stateBf16,
      MASTER: +master,
    };
    const module = shaderModule(device, 'adabelief');
    const build = (entryPoint: string) =>
      computePipeline(device, `${name}/${entryPoint}`, layout, module, entryPoint, constants);
    return { layout, body: build('main_packed'), init: master ? build('init_master') : undefined };
  });
}

const statsCache = new WeakMap<GPUDevice, Map<string, StatsPipelines>>();

/**
 * The guard-pass pipelines for `device`. Bindings: 0 control, 3 partials (read-write); 1 table and 2 grad
 * (`stats`), 6 grad words (`stats_packed`), 4 tail_piece and 5 grad_tail (`stats_tail`).
 */
export function statsPipelines(device: GPUDevice): StatsPipelines {
  return perDevice(statsCache, device, '', () => {
    const packed: (KernelPipeline | undefined)[] = [];
    const stats = (entryPoint: string, bindings: Binding[], constants: Record<string, number> = {}) =>
      kernel(
        device,
        `adabelief/${entryPoint}${constants.GRAD_F16 ? '-f16' : ''}`,
        'grad-stats',
        entryPoint,
        bindings,
        constants,
      );
    return {
      stats: stats('stats', [
        [0, RW],
        [1, RO],
        [2, RO],
        [3, RW],
      ]),
      statsTail: stats('stats_tail', [
        [0, RW],
        [3, RW],
        [4, RO],
        [5, RO],
      ]),
      finalize: stats('finalize', [
        [0, RW],
        [3, RW],
      ]),
      statsPacked: (f16: boolean) =>
        (packed[+f16] ??= stats(
          'stats_packed',
          [
            [0, RW],
            [1, RO],
            [3, RW],
            [6, RO],
          ],
          { GRAD_F16: +f16 },
        )),
    };
  });
}
