/**
 * What the TF.js optimizers of this package (AdaBeliefOptimizer, AdamOptimizer, AdamWOptimizer,
 * SGDOptimizer) share besides `FusedTfjsOptimizer`: building a `FusedFamily` from a GPU optimizer class and
 * its CPU mirror, and a base class with the adapter-only constructor options (dispatch, label), the
 * learning rate as `lr` and as TF.js' `learningRate` (with `setLearningRate`), and `fromConfig` reading TF.js'
 * config keys.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DispatchOptions } from '../index.js';
import { optionsFromConfig, show, TFJS_KEY_HINTS } from './config.js';
import type { FusedCpuOptimizer, FusedFamily, FusedGpuOptimizer } from './family.js';
import { FusedTfjsOptimizer } from './tfjs-optimizer.js';

type GpuEntry = Parameters<FusedFamily<object>['gpu']>[1];

/** A family's parts: its `FusedFamily` with the GPU optimizer and CPU mirror given as their classes. */
export interface FamilyParts<O extends object> extends Omit<FusedFamily<O>, 'gpu' | 'cpu'> {
  Gpu: new (
    device: GPUDevice,
    params: GpuEntry[],
    options: O & { label: string; dispatch?: DispatchOptions },
  ) => FusedGpuOptimizer;
  Cpu: new (params: Float32Array[], options: O) => FusedCpuOptimizer;
}

/** The `FusedFamily` of `parts`: one GPU optimizer (with `dispatch` when given) or CPU mirror per variable. */
function fusedFamily<O extends object>(
  parts: FamilyParts<O>,
  dispatch: DispatchOptions | undefined,
): FusedFamily<O> {
  const { Gpu, Cpu, ...rest } = parts;
  return {
    ...rest,
    gpu: (device, entry, options, label) =>
      new Gpu(device, [entry], { ...options, label, ...(dispatch ? { dispatch } : {}) }),
    cpu: (param, options) => new Cpu([param], options),
  };
}

/** The adapter-only constructor options: not part of getConfig(). */
interface AdapterOptions {
  dispatch?: DispatchOptions;
  label?: string;
}

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
    const { dispatch, label = defaultLabel, ...hyper } = options;
    super(fusedFamily(parts, dispatch), hyper as Partial<O>, label);
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
    const options = optionsFromConfig(who, configDefaults, config);
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
