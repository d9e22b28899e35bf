/**
 * The compute pipelines of the two shader modules, built once per device and configuration (WeakMap caches
 * keyed by device), with explicit bind group layouts made from abi.ts's declarations:
 *   adabelief   `main` + `tail` (f32 windows), `main_packed` + `init_master` (lower precision)
 *   grad-stats  `stats`, `stats_tail`, `stats_packed`, `finalize` (the guard passes)
 * Each module is shaders/common.wgsl followed by its own file (abi.ts SHADER_FILES). Variants are
 * pipeline-overridable constants (abi.ts OVERRIDES), never WGSL assembled from strings.
 */
import commonSource from '../../shaders/common.wgsl?raw';
import kernelSource from '../../shaders/adabelief.wgsl?raw';
import statsSource from '../../shaders/grad-stats.wgsl?raw';
import { OVERRIDES, SHADER_FILES, layoutEntries, type EntryPoint, type ShaderName } from './abi.js';

const FILES: Record<string, string> = {
  'common.wgsl': commonSource,
  'adabelief.wgsl': kernelSource,
  'grad-stats.wgsl': statsSource,
};

/** The WGSL code of shader module `name`: its files (abi.ts SHADER_FILES) joined in order. */
export function shaderCode(name: ShaderName): string {
  return SHADER_FILES[name].map((f) => FILES[f]!).join('\n');
}

/** Override constants of `shader` (bools as 0 / 1, as WebGPU takes them). */
type Constants<S extends ShaderName> = Partial<Record<keyof (typeof OVERRIDES)[S], number | boolean>>;

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

function shaderModule(device: GPUDevice, name: ShaderName): GPUShaderModule {
  return perDevice(modules, device, name, () =>
    device.createShaderModule({ label: `adabelief/${name}-shader`, code: shaderCode(name) }),
  );
}

/** The bind group layout for entry points `entries` sharing one bind group (abi.ts layoutEntries). */
function bindGroupLayout(
  device: GPUDevice,
  label: string,
  entries: readonly EntryPoint[],
): GPUBindGroupLayout {
  return device.createBindGroupLayout({ label: `${label}-layout`, entries: layoutEntries(entries) });
}

/** A pipeline running `entryPoint` with one bind group of `layout`. */
function computePipeline<S extends ShaderName>(
  device: GPUDevice,
  label: string,
  layout: GPUBindGroupLayout,
  shader: S,
  entryPoint: EntryPoint,
  constants: Constants<S>,
): GPUComputePipeline {
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(constants)) values[k] = +(v as number | boolean);
  return device.createComputePipeline({
    label,
    layout: device.createPipelineLayout({ label: `${label}-pipeline-layout`, bindGroupLayouts: [layout] }),
    compute: { module: shaderModule(device, shader), entryPoint, constants: values },
  });
}

/** A layout of the variables `entryPoint` uses and a pipeline of it. */
function kernel<S extends ShaderName>(
  device: GPUDevice,
  label: string,
  shader: S,
  entryPoint: EntryPoint,
  constants: Constants<S> = {},
): KernelPipeline {
  const layout = bindGroupLayout(device, label, [entryPoint]);
  return { layout, pipeline: computePipeline(device, label, layout, shader, entryPoint, constants) };
}

const fusedCache = new WeakMap<GPUDevice, Map<string, KernelPipelines>>();

/**
 * The fused-step pipelines for `device`, `workgroupSize` and the state kept (`amsgrad`: the running max;
 * `variance`: the second moment, off for SGD).
 */
export function kernelPipelines(
  device: GPUDevice,
  workgroupSize: number,
  amsgrad: boolean,
  variance = true,
): KernelPipelines {
  return perDevice(fusedCache, device, `${workgroupSize}/${amsgrad}/${variance}`, () => {
    const name = `adabelief/wg${workgroupSize}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`;
    const constants = { AMSGRAD: amsgrad, VARIANCE: variance };
    return {
      body: kernel(device, `${name}/main`, 'adabelief', 'main', {
        ...constants,
        WORKGROUP_SIZE: workgroupSize,
      }),
      tail: kernel(device, `${name}/tail`, 'adabelief', 'tail', constants),
    };
  });
}

const packedCache = new WeakMap<GPUDevice, Map<string, PackedPipelines>>();

/** The packed-window pipelines of shaders/adabelief.wgsl for `device` and `config`. */
export function packedPipelines(device: GPUDevice, config: PackedKernelConfig): PackedPipelines {
  const { workgroupSize, amsgrad, variance, paramF16, stateBf16, master } = config;
  const key = JSON.stringify([workgroupSize, amsgrad, variance, paramF16, stateBf16, master]);
  return perDevice(packedCache, device, key, () => {
    const name = `adabelief/packed-wg${workgroupSize}${paramF16 ? '-f16' : '-f32'}${stateBf16 ? '-bf16state' : ''}${master ? '-master' : ''}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}`;
    const layout = bindGroupLayout(device, name, ['main_packed', 'init_master']);
    const constants = {
      WORKGROUP_SIZE: workgroupSize,
      AMSGRAD: amsgrad,
      VARIANCE: variance,
      PARAM_F16: paramF16,
      STATE_BF16: stateBf16,
      MASTER: master,
    };
    const build = (entryPoint: 'main_packed' | 'init_master') =>
      computePipeline(device, `${name}/${entryPoint}`, layout, 'adabelief', entryPoint, constants);
    return { layout, body: build('main_packed'), init: master ? build('init_master') : undefined };
  });
}

const statsCache = new WeakMap<GPUDevice, Map<string, StatsPipelines>>();

/** The guard-pass pipelines for `device`. */
export function statsPipelines(device: GPUDevice): StatsPipelines {
  return perDevice(statsCache, device, '', () => {
    const packed: (KernelPipeline | undefined)[] = [];
    const stats = (entryPoint: EntryPoint, constants: Constants<'grad-stats'> = {}) =>
      kernel(
        device,
        `adabelief/${entryPoint}${constants.GRAD_F16 ? '-f16' : ''}`,
        'grad-stats',
        entryPoint,
        constants,
      );
    return {
      stats: stats('stats'),
      statsTail: stats('stats_tail'),
      finalize: stats('finalize'),
      statsPacked: (f16: boolean) => (packed[+f16] ??= stats('stats_packed', { GRAD_F16: f16 })),
    };
  });
}
