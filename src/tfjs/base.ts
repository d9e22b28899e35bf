/**
 * What the TF.js optimizers of this package (AdaBeliefOptimizer, AdamOptimizer, AdamWOptimizer,
 * SGDOptimizer) share besides `FusedTfjsOptimizer`: building a `FusedFamily` from a GPU optimizer class and
 * its CPU mirror, and a base class with the adapter-only constructor options (dispatch, label), the `lr`
 * accessor and `fromConfig`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DispatchOptions } from '../index.js';
import { optionsFromConfig } from './config.js';
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

  protected constructor(parts: FamilyParts<O>, options: Partial<O> & AdapterOptions, defaultLabel: string) {
    const { dispatch, label = defaultLabel, ...hyper } = options;
    super(fusedFamily(parts, dispatch), hyper as Partial<O>, label);
  }

  /** The learning rate; may change between steps (schedules). */
  get lr(): number {
    return this.options.lr;
  }

  set lr(value: number) {
    this.set({ lr: value } as Partial<O>);
  }

  /** Builds the optimizer from getConfig()'s output (TF.js adds keys of its own, e.g. customObjects: ignored). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { configDefaults } = cls as unknown as { configDefaults: object };
    return new cls(optionsFromConfig(configDefaults, config));
  }
}
