/**
 * The optimizer state as a plain value: what `exportState()` returns and `importState()` takes, for both
 * the GPU optimizers and the CPU references. Tensor names are those of PyTorch's `state_dict()`
 * (AdaBelief: exp_avg, exp_avg_var, max_exp_avg_var; Adam: exp_avg, exp_avg_sq, max_exp_avg_sq;
 * SGD: momentum_buffer).
 */
import { definedOptions, describeValue, type AdaBeliefOptions } from './options.js';
import type { Rule } from './rules.js';

export type FloatArray = Float32Array | Float64Array;

// A type alias (not an interface) so that it is assignable to OptimizerState's Record<string, T>.
export type TensorState<T extends FloatArray = Float32Array> = {
  exp_avg: T;
  exp_avg_var: T;
  /** Present exactly when `options.amsgrad` is true. */
  max_exp_avg_var?: T;
};

/** Any rule's state: per parameter, its tensors by PyTorch name. */
export interface OptimizerState<O extends object, T extends FloatArray = Float32Array> {
  /** Steps taken so far (0 before the first step). */
  step: number;
  /** Optimizer-wide options at export time (importState: left out or partial, the current ones are kept). */
  options: O;
  /** One entry per parameter, in the order the parameters were given. */
  tensors: Record<string, T>[];
}

export interface AdaBeliefState<T extends FloatArray = Float32Array> {
  /** Steps taken so far (0 before the first step). */
  step: number;
  /** Optimizer-wide options at export time. */
  options: AdaBeliefOptions;
  /** One entry per parameter, in the order the parameters were given. */
  tensors: TensorState<T>[];
  /** With f16 parameters and master weights: per parameter its f32 master copy (see precision.ts). */
  masterParams?: (Float32Array | undefined)[];
}

/**
 * Checks that `state` fits an optimizer of `rule` with options `current` and parameters of `sizes`
 * elements, and returns the options to use: `state.options` over `current` (left out, `{}` or an
 * undefined value: the current option is kept). Throws (before anything is changed) on any mismatch.
 */
export function checkImportedState<O extends object>(
  rule: Rule<O>,
  state: OptimizerState<O, FloatArray>,
  current: O,
  sizes: readonly number[],
): O {
  if (state === null || typeof state !== 'object' || Array.isArray(state))
    throw new TypeError(
      `importState: state must be an object { step, options?, tensors }, got ${describeValue(state)}`,
    );
  if (!Number.isSafeInteger(state.step) || state.step < 0) {
    throw new RangeError(
      `importState: step must be a non-negative integer (a number up to 2^53 - 1), got ${describeValue(state.step)}`,
    );
  }
  const given = definedOptions<O>(
    state.options,
    'importState: options (leave it out to keep the current options)',
  );
  for (const key of rule.fixed) {
    if (key in given && given[key] !== current[key]) {
      throw new RangeError(
        `importState: the state has ${String(key)}=${describeValue(given[key])}, this optimizer has ${String(key)}=${String(current[key])} (fixed at construction)`,
      );
    }
  }
  const options = rule.resolve({ ...current, ...given });
  if (!Array.isArray(state.tensors) || state.tensors.length !== sizes.length) {
    throw new RangeError(
      `importState: expected ${sizes.length} tensor states, got ${Array.isArray(state.tensors) ? state.tensors.length : describeValue(state.tensors)}`,
    );
  }
  const names = rule.slots(options).map((s) => s.name);
  state.tensors.forEach((st, i) => {
    for (const name of names) {
      const a: unknown = (st as Record<string, unknown> | null)?.[name];
      if (!(a instanceof Float32Array || a instanceof Float64Array)) {
        throw new TypeError(
          `importState: tensors[${i}].${name} must be a Float32Array (or Float64Array), got ${describeValue(a)}`,
        );
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
