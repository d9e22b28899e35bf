/**
 * torch.optim's Adam, AdamW and SGD (momentum, dampening, Nesterov) on the same fused kernel and
 * machinery as AdaBelief (see torch-options.ts for the update rules and defaults):
 *
 *   const adam = new Adam(device, [{ param, grad, size }], { lr: 1e-3 });
 *   const sgd = new SGD(device, entries, { lr: 0.01, momentum: 0.9, nesterov: true });
 *   adam.step(); sgd.step();
 *
 * State names follow PyTorch's state_dict: Adam/AdamW `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`;
 * SGD `momentum_buffer` (kept also when momentum is 0).
 */
import { FusedOptimizer, type GPUExtras } from './fused-optimizer.js';
import { defineOptionAccessors, type AdamAccessors, type SGDAccessors } from '../core/option-accessors.js';
import { adamRuleTorch, adamwRuleTorch, sgdRule } from '../core/rules.js';
import type { AdamOptions, SGDOptions } from '../core/torch-options.js';
import type { ParamEntry } from './entries.js';

export interface AdamGPUOptions extends Partial<AdamOptions>, GPUExtras {}
export interface SGDGPUOptions extends Partial<SGDOptions>, GPUExtras {}

/* eslint-disable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging */
export interface Adam extends AdamAccessors {}
export interface AdamW extends AdamAccessors {}
export interface SGD extends SGDAccessors {}

/** torch.optim.Adam: L2 weight decay added to the gradient. */
export class Adam extends FusedOptimizer<AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(Adam, adamRuleTorch);

  constructor(device: GPUDevice, params: ParamEntry[], options: AdamGPUOptions = {}) {
    super(adamRuleTorch, device, params, options);
  }

  /** Creates the optimizer and waits until the GPU has accepted its buffers and bind groups. */
  static async create(device: GPUDevice, params: ParamEntry[], options: AdamGPUOptions = {}): Promise<Adam> {
    const opt = new Adam(device, params, options);
    await opt.ready;
    return opt;
  }
}

/** torch.optim.AdamW: decoupled weight decay `p *= 1 - lr * weightDecay` (default weightDecay 1e-2). */
export class AdamW extends FusedOptimizer<AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdamW, adamwRuleTorch);

  constructor(device: GPUDevice, params: ParamEntry[], options: AdamGPUOptions = {}) {
    super(adamwRuleTorch, device, params, options);
  }

  /** Creates the optimizer and waits until the GPU has accepted its buffers and bind groups. */
  static async create(device: GPUDevice, params: ParamEntry[], options: AdamGPUOptions = {}): Promise<AdamW> {
    const opt = new AdamW(device, params, options);
    await opt.ready;
    return opt;
  }
}

/** torch.optim.SGD with momentum, dampening, Nesterov and L2 weight decay. */
export class SGD extends FusedOptimizer<SGDOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(SGD, sgdRule);

  constructor(device: GPUDevice, params: ParamEntry[], options: SGDGPUOptions = {}) {
    super(sgdRule, device, params, options);
  }

  /** Creates the optimizer and waits until the GPU has accepted its buffers and bind groups. */
  static async create(device: GPUDevice, params: ParamEntry[], options: SGDGPUOptions = {}): Promise<SGD> {
    const opt = new SGD(device, params, options);
    await opt.ready;
    return opt;
  }
}
/* eslint-enable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging */
