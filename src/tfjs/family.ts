/**
 * What a fused optimizer must provide to be driven by `FusedTfjsOptimizer` (the TF.js adapter): a GPU
 * optimizer over caller buffers (like `AdaBelief`), a CPU reference over Float32Arrays (like
 * `AdaBeliefCPU`), option validation, and the names of its per-variable state tensors. AdaBelief's is in
 * adabelief.ts; Adam or SGD variants plug in the same way.
 */

/** One variable's optimizer state, in the shape of `AdaBelief.exportState()` for one parameter. */
export interface FusedState {
  step: number;
  options: object;
  /** One record per parameter (here always one), keyed by the family's `stateTensors` keys. */
  tensors: object[];
}

/** The GPU optimizer's members the adapter uses (`AdaBelief` has them). */
export interface FusedGpuOptimizer {
  readonly ready: Promise<void>;
  readonly stepCount: number;
  rebind(buffers: readonly { param: GPUBuffer; grad: GPUBuffer }[]): Promise<void>;
  encode(encoder: GPUCommandEncoder): void;
  exportState(): Promise<FusedState>;
  importState(state: FusedState): void;
  set(changes: object): void;
  destroy(): void;
}

/** The CPU reference's members the adapter uses (`AdaBeliefCPU` has them). */
export interface FusedCpuOptimizer {
  readonly stepCount: number;
  step(grads: Float32Array[]): void;
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

export interface FusedFamily<O extends object> {
  /** Used in messages, e.g. 'AdaBeliefOptimizer'. */
  name: string;
  /** Merges over the defaults and validates (throws the family's messages). */
  resolve(options: Partial<O>): O;
  /** Options that are fixed at construction (changing them throws). */
  fixed: readonly (keyof O)[];
  /** A GPU optimizer over one parameter. */
  gpu(
    device: GPUDevice,
    entry: { param: GPUBuffer; grad: GPUBuffer; size: number; name: string },
    options: O,
    label: string,
  ): FusedGpuOptimizer;
  /** The CPU reference over one parameter, updated in place by `step`. */
  cpu(param: Float32Array, options: O): FusedCpuOptimizer;
  /** The state tensors each variable has under `options`, in `getWeights()` order. */
  stateTensors(options: O): readonly StateTensorName[];
}
