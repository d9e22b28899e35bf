/**
 * AdamOptimizer and AdamWOptimizer: torch.optim's Adam (L2 weight decay) and AdamW (decoupled weight decay)
 * as TF.js optimizers (`tf.Optimizer`), on the same fused kernel as AdaBeliefOptimizer:
 *
 *   model.compile({ optimizer: new AdamOptimizer({ lr: 1e-3 }), loss: 'meanSquaredError' });
 *
 * On the webgpu backend the GPU optimizers `Adam` / `AdamW` update the variables in place on TF.js' own
 * device; on any other backend their CPU mirrors `AdamCPU` / `AdamWCPU` do. Options are torch.optim's, in
 * camelCase (lr, betas, eps, weightDecay, amsgrad). Registered for serialization as 'FusedAdamOptimizer' and
 * 'FusedAdamWOptimizer': TF.js' own Adam is registered as 'Adam', and these must not replace it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ADAMW_DEFAULTS,
  ADAM_DEFAULTS,
  Adam,
  AdamCPU,
  AdamW,
  AdamWCPU,
  adamRuleTorch,
  adamwRuleTorch,
} from '../internal.js';
import type { AdamOptions } from '../internal.js';
import { FusedLrOptimizer, type AdapterOptions, type FamilyParts } from './base.js';

/**
 * `Adam`'s / `AdamW`'s options, the guard options (`gradScale`, `skipNonFinite`, `maxGradNorm`), `groups`
 * (overriding lr, betas, eps, weightDecay), and `dispatch` / `label` (default 'adam-tfjs' / 'adamw-tfjs').
 */
export interface AdamOptimizerOptions extends Partial<AdamOptions>, AdapterOptions {}

/** Adam's or AdamW's GPU optimizer, CPU mirror and state names, for FusedTfjsOptimizer. */
function adamParts(decoupled: boolean): FamilyParts<AdamOptions> {
  const rule = decoupled ? adamwRuleTorch : adamRuleTorch;
  return {
    name: decoupled ? 'AdamWOptimizer' : 'AdamOptimizer',
    resolve: (options) => rule.resolve(options),
    fixed: rule.fixed,
    validateOverrides: (o, where) => rule.validateOverrides(o, where),
    Gpu: decoupled ? AdamW : Adam,
    Cpu: decoupled ? AdamWCPU : AdamCPU,
    // TF.js' own Adam names its moments `${variable}/m` and `${variable}/v`.
    stateTensors: (options) => [
      { key: 'exp_avg', suffix: 'm' },
      { key: 'exp_avg_sq', suffix: 'v' },
      ...(options.amsgrad ? [{ key: 'max_exp_avg_sq', suffix: 'vmax' }] : []),
    ],
  };
}

/** torch.optim.Adam (defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 as L2, amsgrad false). */
export class AdamOptimizer extends FusedLrOptimizer<AdamOptions> {
  /** The name TF.js serialization stores (and `tf.loadLayersModel` looks up); TF.js' own Adam is 'Adam'. */
  static className = 'FusedAdamOptimizer';

  protected static override readonly configDefaults: object = ADAM_DEFAULTS;
  protected static override readonly displayName: string = 'AdamOptimizer';

  /** Options as `Adam`'s, validated with torch.optim's messages (`Invalid learning rate: -1`). */
  constructor(options: AdamOptimizerOptions = {}) {
    super(adamParts(false), options, 'adam-tfjs');
  }
}

/** torch.optim.AdamW: decoupled decay `p *= 1 - lr * weightDecay` (default weightDecay 1e-2), then Adam. */
export class AdamWOptimizer extends FusedLrOptimizer<AdamOptions> {
  /** The name TF.js serialization stores (and `tf.loadLayersModel` looks up). */
  static className = 'FusedAdamWOptimizer';

  protected static override readonly configDefaults: object = ADAMW_DEFAULTS;
  protected static override readonly displayName: string = 'AdamWOptimizer';

  /** Options as `AdamW`'s, validated with torch.optim's messages. */
  constructor(options: AdamOptimizerOptions = {}) {
    super(adamParts(true), options, 'adamw-tfjs');
  }
}

tf.serialization.registerClass(AdamOptimizer);
tf.serialization.registerClass(AdamWOptimizer);
