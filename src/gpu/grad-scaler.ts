/**
 * GradScaler — dynamic loss scaling with torch.amp.GradScaler's semantics, driven by the GPU optimizer's
 * skip flag:
 *
 *   const opt = new AdaBelief(device, entries, { gradScale: 1 });   // any gradScale turns the guard on
 *   const scaler = new GradScaler();
 *   // each step: backward with the loss multiplied by scaler.scale, then
 *   await scaler.step(opt);     // opt.gradScale = scale; opt.step(): skipped on the GPU if a grad is inf/NaN
 *   await scaler.update(opt);   // skipped: scale *= backoffFactor; else every growthInterval steps *= growthFactor
 *
 * Defaults are torch's: initScale 2^16, growthFactor 2, backoffFactor 0.5, growthInterval 2000.
 */
/** What GradScaler needs of an optimizer: any of AdaBelief, Adam, AdamW, SGD constructed with the guard on. */
export interface LossScaledOptimizer {
  /** Set to a number by GradScaler before each step (the optimizer may also report a GPUBuffer). */
  gradScale: number | GPUBuffer;
  step(): Promise<void>;
  lastStepSkipped(): Promise<boolean>;
}

import { definedOptions, describeValue, rejectUnknownKeys } from '../core/options.js';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

export class GradScaler {
  /** The current loss scale: multiply the loss (or the seed gradient of the backward pass) by it. */
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** Consecutive applied steps since the last change of scale. */
  private growthTracker = 0;

  /** Undefined options (or values) mean torch's defaults; unknown keys and bad values are refused. */
  constructor(options?: GradScalerOptions) {
    const given = definedOptions<GradScalerOptions>(options, 'GradScaler options');
    rejectUnknownKeys(given, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval'], 'GradScaler');
    const { initScale = 2 ** 16, growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000 } = given;
    const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
    if (!(num(initScale) && initScale > 0))
      throw new RangeError(
        `GradScaler: initScale must be a finite number > 0, got ${describeValue(initScale)}`,
      );
    if (!(num(growthFactor) && growthFactor > 1))
      throw new RangeError(`GradScaler: The growth factor must be > 1.0. Got ${describeValue(growthFactor)}`);
    if (!(num(backoffFactor) && backoffFactor > 0 && backoffFactor < 1))
      throw new RangeError(
        `GradScaler: The backoff factor must be < 1.0. Got ${describeValue(backoffFactor)}`,
      );
    if (!(Number.isSafeInteger(growthInterval) && growthInterval > 0))
      throw new RangeError(
        `GradScaler: growthInterval must be a positive integer, got ${describeValue(growthInterval)}`,
      );
    this.scale = initScale;
    this.growthFactor = growthFactor;
    this.backoffFactor = backoffFactor;
    this.growthInterval = growthInterval;
  }

  /** Steps `opt` with its gradients divided by the current scale (skipped on the GPU on inf/NaN). */
  step(opt: LossScaledOptimizer): Promise<void> {
    opt.gradScale = this.scale;
    return opt.step();
  }

  /** Updates the scale from whether `opt`'s latest step was skipped (one small readback). Returns it. */
  async update(opt: LossScaledOptimizer): Promise<boolean> {
    const skipped = await opt.lastStepSkipped();
    this.record(skipped);
    return skipped;
  }

  /**
   * The scale update itself (torch's _amp_update_scale_), for a skip flag obtained elsewhere. `skipped` must be
   * a boolean: a Promise (`record(opt.lastStepSkipped())`, the await forgotten) or any other value is refused
   * with a TypeError, changing nothing. Growth stops where the grown scale would leave the range the GPU can
   * use: its f32 rounding must be finite (torch's rule) and the f32 rounding of its inverse, which multiplies
   * the gradients, a normal number (WGSL may flush a subnormal to zero: the step would apply zero gradients).
   * So from the default 2^16 with factor 2 the scale stops at 2^126; a growth refused that way keeps the scale
   * and restarts the interval, as torch does when the grown scale is not finite.
   */
  record(skipped: boolean): void {
    if (typeof skipped !== 'boolean') {
      const hint =
        typeof (skipped as { then?: unknown } | null)?.then === 'function'
          ? ': await it first (`scaler.record(await opt.lastStepSkipped())`, or `await scaler.update(opt)`)'
          : '';
      throw new TypeError(
        `GradScaler.record: skipped must be a boolean (whether the step was skipped), got ${describeValue(skipped)}${hint}`,
      );
    }
    if (skipped) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
    } else if (++this.growthTracker === this.growthInterval) {
      const grown = this.scale * this.growthFactor;
      if (usableScale(grown)) this.scale = grown;
      this.growthTracker = 0;
    }
  }
}

/** Smallest normal f32. */
const MIN_NORMAL_F32 = 2 ** -126;

/** Whether `scale` rounds to a finite f32 whose f32 inverse is a normal number (see GradScaler.record). */
function usableScale(scale: number): boolean {
  return Number.isFinite(Math.fround(scale)) && Math.fround(1 / scale) >= MIN_NORMAL_F32;
}
