/**
 * SGDOptimizer: torch.optim's SGD (momentum, dampening, Nesterov, L2 weight decay) as a TF.js optimizer
 * (`tf.Optimizer`), on the same fused kernel as AdaBeliefOptimizer:
 *
 *   const opt = new SGDOptimizer({ lr: 0.1, momentum: 0.9 });
 *
 * On the webgpu backend the GPU optimizer `SGD` updates the variables in place on TF.js' own device; on any
 * other backend its CPU mirror `SGDCPU` does. The momentum buffer is kept (and saved) also when momentum is
 * 0. Registered for serialization as 'FusedSGDOptimizer': TF.js' own SGD is registered as 'SGD' (and its
 * momentum optimizer as 'Momentum'), and this must not replace them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SGD, SGDCPU, SGD_DEFAULTS, sgdRule } from '../internal.js';
import type { SGDOptions } from '../internal.js';
import { FusedLrOptimizer, type AdapterOptions, type FamilyParts } from './base.js';

/**
 * `SGD`'s options, the guard options (`gradScale`, `skipNonFinite`, `maxGradNorm`), `groups` (overriding lr and
 * weightDecay), and `dispatch` / `label` (default 'sgd-tfjs') for the GPU kernel.
 */
export interface SGDOptimizerOptions extends Partial<SGDOptions>, AdapterOptions<'lr' | 'weightDecay'> {}

/** SGD's GPU optimizer, CPU mirror and state name, for FusedTfjsOptimizer. */
function sgdParts(): FamilyParts<SGDOptions> {
  return {
    name: 'SGDOptimizer',
    resolve: (options) => sgdRule.resolve(options),
    fixed: sgdRule.fixed,
    validateOverrides: (o, where) => sgdRule.validateOverrides(o, where),
    Gpu: SGD,
    Cpu: SGDCPU,
    // TF.js' own momentum optimizer names its buffer `${variable}/momentum`.
    stateTensors: () => [{ key: 'momentum_buffer', suffix: 'momentum' }],
  };
}

/** torch.optim.SGD (defaults lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false). */
export class SGDOptimizer extends FusedLrOptimizer<SGDOptions> {
  /** The name TF.js serialization stores (and `tf.loadLayersModel` looks up); TF.js' own SGD is 'SGD'. */
  static className = 'FusedSGDOptimizer';

  protected static override readonly configDefaults: object = SGD_DEFAULTS;
  protected static override readonly displayName: string = 'SGDOptimizer';

  /** Options as `SGD`'s, validated with torch.optim's messages (`Invalid momentum value: -1`). */
  constructor(options: SGDOptimizerOptions = {}) {
    super(sgdParts(), options, 'sgd-tfjs');
  }
}

tf.serialization.registerClass(SGDOptimizer);
