/**
 * AdaBeliefOptimizer: AdaBelief as a TF.js optimizer (`tf.Optimizer`), registered for serialization.
 *
 *   model.compile({ optimizer: new AdaBeliefOptimizer({ lr: 1e-3 }), loss: 'meanSquaredError' });
 *
 * On the webgpu backend the fused kernel (`AdaBelief`) updates the variables in place on TF.js' own device;
 * on any other backend the CPU reference (`AdaBeliefCPU`) does, through dataSync() and assign(). See
 * fused-optimizer.ts for the step and docs/drafts/tfjs.md for the semantics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdaBelief, AdaBeliefCPU, DEFAULTS, resolveOptions } from '../index.js';
import type { AdaBeliefOptions, DispatchOptions } from '../index.js';
import type { FusedFamily } from './family.js';
import { FusedTfjsOptimizer } from './fused-optimizer.js';

export interface AdaBeliefOptimizerOptions extends Partial<AdaBeliefOptions> {
  /** Grid shape of the GPU kernel (see `AdaBelief`); not part of getConfig(). */
  dispatch?: DispatchOptions;
  /** Prefix of the GPU objects' labels. Default 'adabelief-tfjs'. Not part of getConfig(). */
  label?: string;
}

/** AdaBelief's GPU optimizer, CPU reference and state names, for FusedTfjsOptimizer. */
function adabeliefFamily(dispatch: DispatchOptions | undefined): FusedFamily<AdaBeliefOptions> {
  return {
    name: 'AdaBeliefOptimizer',
    resolve: resolveOptions,
    fixed: ['amsgrad'],
    gpu: (device, entry, options, label) =>
      new AdaBelief(device, [entry], { ...options, label, ...(dispatch ? { dispatch } : {}) }),
    cpu: (param, options) => new AdaBeliefCPU([param], options),
    stateTensors: (options) => [
      { key: 'exp_avg', suffix: 'm' },
      { key: 'exp_avg_var', suffix: 's' },
      ...(options.amsgrad ? [{ key: 'max_exp_avg_var', suffix: 'smax' }] : []),
    ],
  };
}

export class AdaBeliefOptimizer extends FusedTfjsOptimizer<AdaBeliefOptions> {
  /** The name TF.js serialization stores (and `tf.loadLayersModel` looks up). */
  static className = 'AdaBeliefOptimizer';

  /** Options as `AdaBelief`'s (adabelief-pytorch 0.2.1 defaults), validated with the official messages. */
  constructor(options: AdaBeliefOptimizerOptions = {}) {
    const { dispatch, label = 'adabelief-tfjs', ...hyper } = options;
    super(adabeliefFamily(dispatch), hyper, label);
  }

  /** The learning rate; may change between steps (schedules). */
  get lr(): number {
    return this.options.lr;
  }

  set lr(value: number) {
    this.set({ lr: value });
  }

  /** Builds the optimizer from getConfig()'s output (TF.js adds keys of its own, e.g. customObjects: ignored). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const options: Record<string, unknown> = {};
    for (const key of Object.keys(DEFAULTS)) if (key in config) options[key] = config[key];
    return new cls(options);
  }
}

tf.serialization.registerClass(AdaBeliefOptimizer);
