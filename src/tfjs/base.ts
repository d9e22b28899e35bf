/**
 * What the TF.js optimizers of this package (AdaBeliefOptimizer, AdamOptimizer, AdamWOptimizer,
 * SGDOptimizer) share besides `FusedTfjsOptimizer`: building a `FusedFamily` from a GPU optimizer class and
 * its CPU mirror, and a base class with the adapter-only constructor options (dispatch, label), the
 * learning rate as `lr` and as TF.js' `learningRate` (with `setLearningRate`), and `fromConfig` reading TF.js'
 * config keys.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DispatchOptions, Overrides } from '../internal.js';
import { optionsFromConfig, show, TFJS_KEY_HINTS } from './config.js';
import type {
  FusedCpuOptimizer,
  FusedFamily,
  FusedGpuOptimizer,
  GpuVariableEntry,
  ResolvedGuard,
} from './family.js';
import { groupsFromConfig, type ParamGroup } from './groups.js';
import type { TfjsGuardOptions } from './guard.js';
import { FusedTfjsOptimizer } from './tfjs-optimizer.js';

/** A family's parts: its `FusedFamily` with the GPU optimizer and CPU mirror given as their classes. */
export interface FamilyParts<O extends object> extends Omit<FusedFamily<O>, 'gpu' | 'cpu'> {
  Gpu: new (
    device: GPUDevice,
    params: GpuVariableEntry[],
    options: O & Partial<ResolvedGuard> & { label: string; dispatch?: DispatchOptions },
  ) => FusedGpuOptimizer;
  Cpu: new (params: ({ param: Float32Array } & Overrides)[], options: O) => FusedCpuOptimizer;
}

/** The `FusedFamily` of `parts`: one GPU optimizer (with `dispatch` when given) or CPU mirror over a step's variables. */
function fusedFamily<O extends object>(
  parts: FamilyParts<O>,
  dispatch: DispatchOptions | undefined,
): FusedFamily<O> {
  const { Gpu, Cpu, ...rest } = parts;
  return {
    ...rest,
    gpu: (device, entries, options, guard, label) =>
      new Gpu(device, entries, { ...options, ...guard, label, ...(dispatch ? { dispatch } : {}) }),
    cpu: (params, options) => new Cpu(params, options),
  };
}

/**
 * What every TF.js optimizer of this package takes besides its hyperparameters: the guard options
 * (guard.ts), parameter groups (groups.ts; `K`: the options a group may override), and the adapter-only
 * `dispatch` and `label` (not part of getConfig()).
 */
export interface AdapterOptions<K extends keyof Overrides = keyof Overrides> extends TfjsGuardOptions {
  /** `[{ match, ...overrides }]`: `match` a RegExp on the variable's name or `(variable) => boolean`; first match wins. */
  groups?: ParamGroup<K>[];
  /** Grid shape of the GPU kernel; not part of getConfig(). */
  dispatch?: DispatchOptions;
  /** Prefix of the GPU objects' labels. Not part of getConfig(). */
  label?: string;
}

/** Config keys fromConfig() reads besides the family's options (written by getConfig() when set). */
const EXTRA_CONFIG_DEFAULTS = { gradScale: 1, skipNonFinite: false, maxGradNorm: Infinity, groups: [] };

/** A `FusedTfjsOptimizer` with an `lr` option, built from constructor options with `dispatch` and `label`. */
export abstract class FusedLrOptimizer<O extends { lr: number }> extends FusedTfjsOptimizer<O> {
  /** The keys of getConfig() that fromConfig() reads (the family's defaults). */
  protected static readonly configDefaults: object = {};
  /** The class's name in messages (its `className` is the serialization name, e.g. 'FusedAdamOptimizer'). */
  protected static readonly displayName: string = 'FusedLrOptimizer';

  protected constructor(parts: FamilyParts<O>, options: Partial<O> & AdapterOptions, defaultLabel: string) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`${parts.name}: options must be an object, got ${show(options)}`);
    }
    for (const key of Object.keys(options)) {
      const hint = TFJS_KEY_HINTS[key];
      if (hint) {
        throw new TypeError(
          `${parts.name}: unknown option '${key}' (TF.js' config name); the constructor takes ${hint}. ` +
            `fromConfig() reads TF.js' names`,
        );
      }
    }
    const {
      dispatch,
      label = defaultLabel,
      gradScale,
      skipNonFinite,
      maxGradNorm,
      groups,
      ...hyper
    } = options;
    super(fusedFamily(parts, dispatch), hyper as Partial<O>, label, {
      gradScale,
      skipNonFinite,
      maxGradNorm,
      groups,
    });
  }

  /** The learning rate; may change between steps (schedules). The same as `learningRate`. */
  get lr(): number {
    return this.options.lr;
  }

  set lr(value: number) {
    this.setLr('lr', value);
  }

  /**
   * The learning rate under TF.js' name, as `tf.train.adam(...).learningRate`: reading gives the current one,
   * assigning changes it from the next step on (e.g. `model.optimizer.learningRate = 0` in a `model.fit`
   * callback). Validated like `lr`.
   */
  get learningRate(): number {
    return this.options.lr;
  }

  set learningRate(value: number) {
    this.setLr('learningRate', value);
  }

  /** `learningRate = value`, as tf.SGDOptimizer's method of that name. */
  setLearningRate(value: number): void {
    this.setLr('setLearningRate', value);
  }

  private setLr(via: string, value: unknown): void {
    const who = `${this.displayName}.${via}`;
    if (typeof value !== 'number') {
      throw new TypeError(`${who}: the learning rate must be a number, got ${show(value)}`);
    }
    try {
      this.set({ lr: value } as Partial<O>);
    } catch (e) {
      if (e instanceof Error && /^Invalid learning rate/.test(e.message)) {
        throw new RangeError(`${who}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Builds the optimizer from a config: getConfig()'s output (TF.js' keys `learningRate`, `beta1`, `beta2`,
   * `epsilon`, `useNesterov`, and the other options by name) or one saved by an earlier version (`lr`,
   * `betas`, `eps`, `nesterov`). Other keys are ignored, as TF.js' own optimizers do (TF.js adds
   * `customObjects`); values are validated, and an invalid one throws naming the option and the value.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { configDefaults, displayName } = cls as unknown as { configDefaults: object; displayName: string };
    const who = `${displayName}.fromConfig`;
    const options = optionsFromConfig(who, { ...configDefaults, ...EXTRA_CONFIG_DEFAULTS }, config);
    if (options.groups !== undefined) options.groups = groupsFromConfig(who, options.groups);
    try {
      return new cls(options);
    } catch (e) {
      if (e instanceof Error) {
        const Type = e instanceof RangeError ? RangeError : TypeError;
        throw new Type(`${who}: ${e.message} (options read from the config: ${show(options)})`, { cause: e });
      }
      throw e;
    }
  }
}
