/**
 * What a fused optimizer must provide to be driven by `FusedTfjsOptimizer` (the TF.js adapter): a GPU
 * optimizer over caller buffers (like `AdaBelief`), a CPU reference over Float32Arrays (like
 * `AdaBeliefCPU`), option validation, and the names of its per-variable state tensors. AdaBelief's is in
 * adabelief.ts; Adam or SGD variants plug in the same way.
 */
import type { CPUGuard, CPUGuardResult, GuardReport, Overrides } from '../internal.js';

/** The optimizer's state, in the shape of `AdaBelief.exportState()`. */
export interface FusedState {
  step: number;
  options: object;
  /** One record per parameter, keyed by the family's `stateTensors` keys. */
  tensors: object[];
}

/** The guard options a TF.js optimizer hands its GPU optimizer (resolved: every key given). */
export interface ResolvedGuard {
  gradScale: number;
  skipNonFinite: boolean;
  maxGradNorm: number;
}

/** The GPU optimizer's members the adapter uses (`AdaBelief`, `Adam`, `AdamW`, `SGD` have them). */
export interface FusedGpuOptimizer {
  readonly ready: Promise<void>;
  readonly stepCount: number;
  rebind(buffers: readonly { param: GPUBuffer; grad: GPUBuffer }[]): Promise<void>;
  encode(encoder: GPUCommandEncoder): void;
  exportState(): Promise<FusedState>;
  importState(state: FusedState): void;
  set(changes: object): void;
  destroy(): void;
  gradScale: number | GPUBuffer;
  maxGradNorm: number;
  lastStepReport(): Promise<GuardReport>;
  readStepCount(): Promise<number>;
  /** Copies `source`'s step count and the state of its tensors `map[k][0]` into tensors `map[k][1]`, on the GPU. */
  copyStateFrom(
    encoder: GPUCommandEncoder,
    source: FusedGpuOptimizer,
    map: readonly (readonly [number, number])[],
  ): void;
}

/** The CPU reference's members the adapter uses (`AdaBeliefCPU` has them). */
export interface FusedCpuOptimizer {
  readonly stepCount: number;
  step(grads: Float32Array[], guard?: CPUGuard): CPUGuardResult | undefined;
  exportState(): FusedState;
  importState(state: FusedState): void;
  set(changes: object): void;
}

/** One state tensor of a variable: its key in `FusedState.tensors[i]` and its TF.js weight-name suffix. */
export interface StateTensorName {
  key: string;
  /** `getWeights()` names the tensor `${variableName}/${suffix}`. */
  suffix: string;
}

/** One variable as the GPU optimizer gets it: its buffers, size, name, and its group's overrides. */
export interface GpuVariableEntry extends Overrides {
  param: GPUBuffer;
  grad: GPUBuffer;
  size: number;
  name: string;
}

export interface FusedFamily<O extends object> {
  /** Used in messages, e.g. 'AdaBeliefOptimizer'. */
  name: string;
  /** Merges over the defaults and validates (throws the family's messages). */
  resolve(options: Partial<O>): O;
  /** Options that are fixed at construction (changing them throws). */
  fixed: readonly (keyof O)[];
  /** Throws unless `overrides` holds only options a variable may override (lr, betas, …) with valid values. */
  validateOverrides(overrides: Overrides, where: string): void;
  /** One GPU optimizer over every variable of a step (each entry with its group's overrides). */
  gpu(
    device: GPUDevice,
    entries: GpuVariableEntry[],
    options: O,
    guard: ResolvedGuard | undefined,
    label: string,
  ): FusedGpuOptimizer;
  /** The CPU reference over every variable of a step, updated in place by `step`. */
  cpu(params: ({ param: Float32Array } & Overrides)[], options: O): FusedCpuOptimizer;
  /** The state tensors each variable has under `options`, in `getWeights()` order. */
  stateTensors(options: O): readonly StateTensorName[];
}
