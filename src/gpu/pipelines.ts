/**
 * The compute pipelines of the two shader modules, built once per device and configuration (WeakMap caches
 * keyed by device), with explicit bind group layouts made from abi.ts's declarations:
 *   adabelief   `main` + `tail` (f32 windows), `main_packed` + `tail_packed` + `init_master` +
 *               `init_master_tail` (lower precision)
 *   step-decision  `advance` (decides an unguarded step), `stats`, `stats_f16`, `stats_tail`, `finalize` (the
 *               guard passes, which decide a guarded step)
 * Each module is shaders/common.wgsl followed by its own file (abi.ts SHADER_FILES). Variants are
 * pipeline-overridable constants (abi.ts OVERRIDES), never WGSL assembled from strings.
 */
import commonSource from '../../shaders/common.wgsl?raw';
import kernelSource from '../../shaders/adabelief.wgsl?raw';
import decisionSource from '../../shaders/step-decision.wgsl?raw';
import { OVERRIDES, SHADER_FILES, layoutEntries, type EntryPoint, type ShaderName } from './abi.js';

const FILES: Record<string, string> = {
  'common.wgsl': commonSource,
  'adabelief.wgsl': kernelSource,
  'step-decision.wgsl': decisionSource,
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

/** The f32 entry points of shaders/adabelief.wgsl: `main` over a window's vec4s, `tail` for a piece's last elements. */
export interface KernelPipelines {
  body: KernelPipeline;
  tail: KernelPipeline;
}

/** The configuration of the packed entry points (lower precision) of shaders/adabelief.wgsl. */
export interface PackedKernelConfig {
  workgroupSize: number;
  amsgrad: boolean;
  variance: boolean;
  /** param / grad are f16 (eight per 16 bytes); else f32. */
  paramF16: boolean;
  /** m, s, smax are stored as bf16. */
  stateBf16: boolean;
  /** The update runs on an f32 master copy kept in the state region (f16 params only). */
  master: boolean;
  /** The optimizer has guard options: the update multiplies the gradients by the guard's factors. */
  guarded: boolean;
}

/**
 * The packed pipelines: `main_packed` (`body`) and, with master weights, `init_master` (`init`) share one bind
 * group layout; `tail_packed` (`tail`) and `init_master_tail` (`initTail`) another.
 */
export interface PackedPipelines {
  layout: GPUBindGroupLayout;
  body: GPUComputePipeline;
  init: GPUComputePipeline | undefined;
  tailLayout: GPUBindGroupLayout;
  tail: GPUComputePipeline;
  initTail: GPUComputePipeline | undefined;
}

/** The entry points of shaders/step-decision.wgsl (`advance`; the guard passes). */
export interface DecisionPipelines {
  /** `advance`: decides a step of an optimizer without guard options. */
  advance: KernelPipeline;
  /** `stats` over f32 gradients. */
  stats: KernelPipeline;
  /** `stats_f16` over f16 gradients. */
  statsF16: KernelPipeline;
  /** `stats_tail` for a tail of f32 (f16 = false) or f16 gradients; built on first use. */
  statsTail(f16: boolean): KernelPipeline;
  finalize: KernelPipeline;
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

/**
 * The update kernel's workgroup size when the caller gives none (`dispatch.workgroupSize`), by mode, from
 * measurements on an NVIDIA H200 (Dawn, Vulkan; 2^24 and 2^26 elements): 64 for f16 parameters without master
 * weights (the packed kernel with the most conversion work per byte: 0.71× the f32 step at 2^26 with 64,
 * 0.78× with 256), 256 for every other mode (f32, bf16 state and f16 with master weights: equal or faster
 * than 64 and 128).
 */
export function defaultWorkgroupSize(mode: { f16: boolean; master: boolean }): number {
  return mode.f16 && !mode.master ? 64 : 256;
}

const fusedCache = new WeakMap<GPUDevice, Map<string, KernelPipelines>>();

/**
 * The f32 pipelines for `device`, `workgroupSize`, the state kept (`amsgrad`: the running max; `variance`:
 * the second moment, off for SGD) and whether the optimizer is guarded (GUARDED: the gradients take the
 * guard's factors; without it they are the constant 1, folded away).
 */
export function kernelPipelines(
  device: GPUDevice,
  workgroupSize: number,
  amsgrad: boolean,
  variance = true,
  guarded = false,
): KernelPipelines {
  return perDevice(fusedCache, device, `${workgroupSize}/${amsgrad}/${variance}/${guarded}`, () => {
    const name = `adabelief/wg${workgroupSize}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}${guarded ? '-guarded' : ''}`;
    const constants = { AMSGRAD: amsgrad, VARIANCE: variance, GUARDED: guarded };
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

/** The packed pipelines of shaders/adabelief.wgsl for `device` and `config`: one per mode. */
export function packedPipelines(device: GPUDevice, config: PackedKernelConfig): PackedPipelines {
  const { workgroupSize, amsgrad, variance, paramF16, stateBf16, master, guarded } = config;
  const key = JSON.stringify([workgroupSize, amsgrad, variance, paramF16, stateBf16, master, guarded]);
  return perDevice(packedCache, device, key, () => {
    const name = `adabelief/packed-wg${workgroupSize}${paramF16 ? '-f16' : '-f32'}${stateBf16 ? '-bf16state' : ''}${master ? '-master' : ''}${amsgrad ? '-amsgrad' : ''}${variance ? '' : '-novariance'}${guarded ? '-guarded' : ''}`;
    const constants = {
      WORKGROUP_SIZE: workgroupSize,
      AMSGRAD: amsgrad,
      VARIANCE: variance,
      GUARDED: guarded,
      PARAM_F16: paramF16,
      STATE_BF16: stateBf16,
      MASTER: master,
    };
    const [body, tail] = ['main_packed', 'tail_packed'] as const;
    // init_master / init_master_tail use a subset of their update entry point's variables: same layouts.
    const layout = bindGroupLayout(device, name, [body]);
    const tailLayout = bindGroupLayout(device, `${name}/tail`, [tail]);
    const build = (l: GPUBindGroupLayout, entryPoint: EntryPoint) =>
      computePipeline(device, `${name}/${entryPoint}`, l, 'adabelief', entryPoint, constants);
    return {
      layout,
      body: build(layout, body),
      init: master ? build(layout, 'init_master') : undefined,
      tailLayout,
      tail: build(tailLayout, tail),
      initTail: master ? build(tailLayout, 'init_master_tail') : undefined,
    };
  });
}

const decisionCache = new WeakMap<GPUDevice, Map<string, DecisionPipelines>>();

/**
 * The step-decision pipelines for `device` (`advance` and the guard passes), each built on first use: an
 * optimizer without guard options builds `advance` alone.
 */
export function decisionPipelines(device: GPUDevice): DecisionPipelines {
  return perDevice(decisionCache, device, '', () => {
    const built = new Map<string, KernelPipeline>();
    const get = (entry: EntryPoint, f16 = false) => {
      const name = `adabelief/${entry}${f16 ? '-f16' : ''}`;
      let p = built.get(name);
      if (!p) {
        p = kernel(device, name, 'step-decision', entry, entry === 'stats_tail' ? { GRAD_F16: f16 } : {});
        built.set(name, p);
      }
      return p;
    };
    return {
      get advance() {
        return get('advance');
      },
      get stats() {
        return get('stats');
      },
      get statsF16() {
        return get('stats_f16');
      },
      statsTail: (f16: boolean) => get('stats_tail', f16),
      get finalize() {
        return get('finalize');
      },
    };
  });
}
