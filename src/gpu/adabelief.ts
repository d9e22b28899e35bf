/**
 * AdaBelief on WebGPU: one fused compute pass updates every parameter (and its m, s, smax) in place.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // one writeBuffer of scalars, one compute pass, one submit; never reads back
 *
 * Update rule and defaults: see options.ts and step-scalars.ts (adabelief-pytorch 0.2.1 unless
 * `semantics: 'torch-optimizer'`). The machinery (layout, dispatch, errors, export/import) is
 * fused-optimizer.ts.
 */
import { FusedOptimizer, type GPUExtras } from './fused-optimizer.js';
import { defineOptionAccessors, type AdaBeliefAccessors } from '../core/option-accessors.js';
import type { AdaBeliefOptions } from '../core/options.js';
import { adabeliefRule } from '../core/rules.js';
import type { AdaBeliefState, FloatArray, OptimizerState } from '../core/state.js';
import type { ParamEntry } from './entries.js';

export type { DispatchOptions } from './fused-optimizer.js';

export interface AdaBeliefGPUOptions extends Partial<AdaBeliefOptions>, GPUExtras {}

// Declaration merging: the accessors defined by the class's static #accessors.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AdaBelief extends AdaBeliefAccessors {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AdaBelief extends FusedOptimizer<AdaBeliefOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdaBelief, adabeliefRule);

  constructor(device: GPUDevice, params: ParamEntry[], options: AdaBeliefGPUOptions = {}) {
    super(adabeliefRule, device, params, options);
  }

  /** Creates the optimizer and waits until the GPU has accepted its buffers and bind groups. */
  static async create(
    device: GPUDevice,
    params: ParamEntry[],
    options: AdaBeliefGPUOptions = {},
  ): Promise<AdaBelief> {
    const opt = new AdaBelief(device, params, options);
    await opt.ready;
    return opt;
  }

  /** Reads the state back: `{ step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }`. */
  override exportState(): Promise<AdaBeliefState> {
    return super.exportState() as Promise<AdaBeliefState>;
  }

  /**
   * Replaces the step count, options and state (validated first: nothing changes when it throws).
   * The writes are queued, so the next `step()` sees them.
   */
  override importState(
    state: AdaBeliefState<FloatArray> | OptimizerState<AdaBeliefOptions, FloatArray>,
  ): void {
    super.importState(state as OptimizerState<AdaBeliefOptions, FloatArray>);
  }
}
