/**
 * The optimizer state as a plain value: what `exportState()` returns and `importState()` takes, for both
 * the GPU optimizer and the CPU reference. Tensor names are those of PyTorch's `state_dict()`.
 */
import { resolveOptions, type AdaBeliefOptions } from './options.js';

export interface TensorState<T extends Float32Array | Float64Array = Float32Array> {
  exp_avg: T;
  exp_avg_var: T;
  /** Present exactly when `options.amsgrad` is true. */
  max_exp_avg_var?: T;
}

export interface AdaBeliefState<T extends Float32Array | Float64Array = Float32Array> {
  /** Steps taken so far (0 before the first step). */
  step: number;
  /** Optimizer-wide options at export time. */
  options: AdaBeliefOptions;
  /** One entry per parameter, in the order the parameters were given. */
  tensors: TensorState<T>[];
}

/**
 * Checks that `state` fits an optimizer with `amsgrad` and parameters of `sizes` elements, and returns
 * its validated options. Throws (before anything is changed) on any mismatch.
 */
export function checkImportedState(
  state: AdaBeliefState<Float32Array | Float64Array>,
  amsgrad: boolean,
  sizes: readonly number[],
): AdaBeliefOptions {
  if (state === null || typeof state !== 'object')
    throw new TypeError('importState: state must be an object');
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new RangeError(`importState: step must be a non-negative integer, got ${state.step}`);
  }
  const options = resolveOptions(state.options);
  if (options.amsgrad !== amsgrad) {
    throw new RangeError(
      `importState: state has amsgrad=${options.amsgrad}, this optimizer amsgrad=${amsgrad}`,
    );
  }
  if (!Array.isArray(state.tensors) || state.tensors.length !== sizes.length) {
    throw new RangeError(`importState: expected ${sizes.length} tensor states, got ${state.tensors?.length}`);
  }
  state.tensors.forEach((st, i) => {
    const names: (keyof TensorState)[] = [
      'exp_avg',
      'exp_avg_var',
      ...(amsgrad ? (['max_exp_avg_var'] as const) : []),
    ];
    for (const name of names) {
      const a = st[name];
      if (!(a instanceof Float32Array || a instanceof Float64Array)) {
        throw new TypeError(`importState: tensors[${i}].${name} must be a Float32Array`);
      }
      if (a.length !== sizes[i]) {
        throw new RangeError(
          `importState: tensors[${i}].${name} has ${a.length} elements, parameter ${i} has ${sizes[i]}`,
        );
      }
    }
  });
  return options;
}
