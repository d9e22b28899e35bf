/**
 * AdaBeliefOptimizer: AdaBelief as a TF.js optimizer (`tf.Optimizer`), registered for serialization.
 *
 *   model.compile({ optimizer: new AdaBeliefOptimizer({ lr: 1e-3 }), loss: 'meanSquaredError' });
 *
 * On the webgpu backend the fused kernel (`AdaBelief`) updates the variables in place on TF.js' own device;
 * on any other backend the CPU reference (`AdaBeliefCPU`) does, through dataSync() and assign(). See
 * tfjs-optimizer.ts for the step and docs/tfjs.md for the semantics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdaBelief, AdaBeliefCPU, DEFAULTS, adabeliefRule, resolveOptions } from '../internal.js';
import type { AdaBeliefOptions } from '../internal.js';
import { FusedLrOptimizer, type AdapterOptions, type FamilyParts } from './base.js';

/**
 * `AdaBelief`'s options, the guard options (`gradScale`, `skipNonFinite`, `maxGradNorm`), `groups` (overriding
 * lr, betas, eps, weightDecay), and `dispatch` / `label` (default 'adabelief-tfjs') for the GPU kernel.
 */
export interface AdaBeliefOptimizerOptions extends Partial<AdaBeliefOptions>, AdapterOptions {}

/** AdaBelief's GPU optimizer, CPU reference and state names, for FusedTfjsOptimizer. */
function adabeliefParts(): FamilyParts<AdaBeliefOptions> {
  return {
    name: 'AdaBeliefOptimizer',
    resolve: resolveOptions,
    fixed: ['amsgrad'],
    validateOverrides: (o, where) => adabeliefRule.validateOverrides(o, where),
    Gpu: AdaBelief,
    Cpu: AdaBeliefCPU,
    stateTensors: (options) => [
      { key: 'exp_avg', suffix: 'm' },
      { key: 'exp_avg_var', suffix: 's' },
      ...(options.amsgrad ? [{ key: 'max_exp_avg_var', suffix: 'smax' }] : []),
    ],
  };
}

export class AdaBeliefOptimizer extends FusedLrOptimizer<AdaBeliefOptions> {
  /** The name TF.js serialization stores (and `tf.loadLayersModel` looks up). */
  static className = 'AdaBeliefOptimizer';

  protected static override readonly configDefaults: object = DEFAULTS;
  protected static override readonly displayName: string = 'AdaBeliefOptimizer';

  /** Options as `AdaBelief`'s (adabelief-pytorch 0.2.1 defaults), validated with the official messages. */
  constructor(options: AdaBeliefOptimizerOptions = {}) {
    super(adabeliefParts(), options, 'adabelief-tfjs');
  }
}

tf.serialization.registerClass(AdaBeliefOptimizer);
