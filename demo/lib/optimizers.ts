/**
 * The three optimizers the trajectories page races, by name: AdaBelief, Adam (torch.optim.Adam) and SGD
 * with momentum (torch.optim.SGD) — the library's GPU optimizers, all on the same fused kernel, created
 * over the same kind of param / grad regions and recorded with `encode()`.
 */
import { AdaBelief, Adam, SGD, type ParamEntry } from 'adabelief-webgpu';
import type { ToySettings } from './toy-functions.js';

export type OptimizerName = 'adabelief' | 'adam' | 'sgd';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['adabelief', 'adam', 'sgd'];

/** What the page needs of an optimizer: record a step, wait for its GPU checks, free it. */
export interface DemoOptimizer {
  encode(encoder: GPUCommandEncoder): void;
  readonly ready: Promise<void>;
  destroy(): void;
}

export interface CreatedOptimizer {
  name: OptimizerName;
  /** Legend text, with the options that matter. */
  label: string;
  optimizer: DemoOptimizer;
}

export function labelFor(name: OptimizerName, s: ToySettings): string {
  switch (name) {
    case 'adabelief':
      return `AdaBelief (lr ${s.lr}, rectify ${s.rectify ? 'on' : 'off'})`;
    case 'adam':
      return `Adam (lr ${s.lr})`;
    case 'sgd':
      return `SGD, momentum ${s.momentum} (lr ${s.sgdLr})`;
  }
}

/**
 * Creates optimizer `name` over `entries` with the page's settings (AdaBelief and Adam share lr, betas, eps
 * and weight decay; SGD has its own lr and momentum); its GPU objects are labelled `demo/<name>`.
 */
export function createOptimizer(
  name: OptimizerName,
  device: GPUDevice,
  entries: ParamEntry[],
  s: ToySettings,
): CreatedOptimizer {
  const label = `demo/${name}`;
  const shared = {
    lr: s.lr,
    betas: [s.beta1, s.beta2] as const,
    eps: s.eps,
    weightDecay: s.weightDecay,
    label,
  };
  const optimizer =
    name === 'adabelief'
      ? new AdaBelief(device, entries, {
          ...shared,
          rectify: s.rectify,
          degeneratedToSgd: s.degeneratedToSgd,
        })
      : name === 'adam'
        ? new Adam(device, entries, shared)
        : new SGD(device, entries, { lr: s.sgdLr, momentum: s.momentum, weightDecay: s.weightDecay, label });
  return { name, label: labelFor(name, s), optimizer };
}
