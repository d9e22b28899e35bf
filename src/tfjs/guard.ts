/**
 * The guard options of the TF.js optimizers — `gradScale`, `skipNonFinite`, `maxGradNorm` — with the names,
 * defaults and meaning of the GPU optimizers' (docs/guards.md): gradients arrive multiplied by `gradScale`
 * and are divided by it first; with `skipNonFinite` a step with any inf/NaN unscaled gradient is skipped for
 * every variable (and the step count); `maxGradNorm` clips by the global L2 norm over every variable of the
 * step. Checked here, before anything is allocated, with messages naming the option and the value.
 */
import { show } from './config.js';
import type { ResolvedGuard } from './family.js';

/** The guard options a TF.js optimizer's constructor takes. */
export interface TfjsGuardOptions {
  /** Loss scale: the gradients arrive multiplied by it. A number > 0; settable between steps (`opt.gradScale = s`). */
  gradScale?: number;
  /** Skip the whole step on any inf/NaN unscaled gradient. Default: true with `gradScale`, else false. */
  skipNonFinite?: boolean;
  /** Clip to this global L2 norm over every variable of the step (`clip_grad_norm_`); Infinity: off. Settable. */
  maxGradNorm?: number;
}

export const GUARD_KEYS = ['gradScale', 'skipNonFinite', 'maxGradNorm'] as const;

/** Throws unless `scale` is a finite number > 0 (TF.js optimizers take a number, never a GPUBuffer). */
export function checkScale(who: string, scale: unknown): asserts scale is number {
  if (!(typeof scale === 'number' && scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(`${who}: gradScale must be a finite number > 0, got ${show(scale)}`);
  }
}

/** Throws unless `max` is > 0 in f32 (Infinity: no clipping), as the GPU optimizers require. */
export function checkMaxNorm(who: string, max: unknown): asserts max is number {
  if (!(typeof max === 'number' && max > 0)) {
    throw new RangeError(
      `${who}: maxGradNorm must be a number > 0 (Infinity: no clipping), got ${show(max)}`,
    );
  }
  if (Math.fround(max) === 0) {
    throw new RangeError(
      `${who}: maxGradNorm must be a number > 0 in f32 (the GPU clips in f32), got ${show(max)}, which rounds to 0`,
    );
  }
}

/** The guard options checked and resolved; undefined when none was given (then no guard pass runs). */
export function checkGuardOptions(who: string, o: TfjsGuardOptions): ResolvedGuard | undefined {
  const { gradScale, skipNonFinite, maxGradNorm } = o;
  if (gradScale === undefined && skipNonFinite === undefined && maxGradNorm === undefined) return undefined;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') {
    throw new TypeError(`${who}: skipNonFinite must be a boolean, got ${show(skipNonFinite)}`);
  }
  if (gradScale !== undefined) checkScale(who, gradScale);
  if (maxGradNorm !== undefined) checkMaxNorm(who, maxGradNorm);
  return {
    gradScale: gradScale ?? 1,
    skipNonFinite: skipNonFinite ?? gradScale !== undefined,
    maxGradNorm: maxGradNorm ?? Infinity,
  };
}
