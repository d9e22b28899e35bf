/**
 * The guard of a step — loss-scale division, skipping on non-finite gradients, clipping by global norm —
 * as pure host code: the options' checks, what the host puts into the GPU's `Control` record and what it
 * reads back (the record's layout: src/gpu/abi.ts) and the CPU reference's version of the decision. The
 * bookkeeping that keeps the host's step count exact while the GPU alone decides whether a step is applied is
 * src/core/step-count.ts.
 *
 * Why rows: a skipped step does not advance the step count, and the host only learns of it later (an
 * asynchronous readback; `step()` never waits). So each guarded step uploads one record row per step count
 * it may turn out to be — from `applied + 1` (every unconfirmed guarded step was skipped) to `count + 1`
 * (none was) — and the GPU picks its row from its own counter. Confirmed readbacks shrink the range again.
 */
import { pyRepr } from './options.js';

/** Rows of step records a guarded optimizer can hold: at most this many guarded steps in flight unconfirmed. */
export const MAX_ROWS = 32;

/** The guard options of a GPU optimizer (fixed at construction: they decide whether the guard passes run). */
export interface GuardOptions {
  /**
   * Skip the whole step (every parameter, state and the step count untouched) when any gradient element is
   * inf or NaN. Default: true with `gradScale`, else false (non-finite values then propagate as in PyTorch).
   */
  skipNonFinite?: boolean;
  /**
   * Loss scale: gradients are divided by it (multiplied by f32(1 / scale)) before anything else. A number
   * (settable between steps: `opt.gradScale = s`), or a GPUBuffer / { buffer, offset } whose first f32 the
   * caller writes (read by the GPU at each step).
   */
  gradScale?: number | GPUBuffer | { buffer: GPUBuffer; offset?: number };
  /** Clip gradients to this global L2 norm (torch.nn.utils.clip_grad_norm_). Infinity: no clipping. */
  maxGradNorm?: number;
}

/** What the host writes into `Control` before each guarded step (src/gpu/records.ts writeControlInputs). */
export interface ControlInputs {
  scale: number;
  /** 0: no clipping. */
  maxNorm: number;
  skipNonFinite: boolean;
  /** Step count of row 0, minus 1. */
  lo: number;
  tensorCount: number;
}

/** What the GPU decided for a step (the rest of `Control`, read back). */
export interface GuardReport {
  /** The step was skipped (non-finite gradient with skipping on). */
  skipped: boolean;
  /** Some gradient element was inf or NaN. */
  foundNonFinite: boolean;
  /** Global L2 norm of the unscaled gradients (before clipping), as computed in f32 on the GPU. */
  gradNorm: number;
  /** The clipping coefficient applied (1: none). */
  clipCoef: number;
  /** Steps applied so far (the GPU's step count). */
  applied: number;
}

/** Throws unless `scale` is a usable loss scale. */
export function checkGradScale(scale: unknown): asserts scale is number {
  if (!(typeof scale === 'number' && scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(`gradScale must be a finite number > 0, got ${pyRepr(scale)}`);
  }
}

/** Throws unless `max` is a usable clipping norm (Infinity allowed: no clipping). */
export function checkMaxGradNorm(max: unknown): asserts max is number {
  if (!(typeof max === 'number' && max > 0)) {
    throw new RangeError(`maxGradNorm must be a number > 0 (Infinity: no clipping), got ${pyRepr(max)}`);
  }
}

/**
 * The CPU reference's guard decision, mirroring grad-stats.wgsl: invScale = f32(1 / scale), the norm of the
 * unscaled gradients (f64 sum of the f32 products, or `gradNorm` when given, e.g. the GPU's own), the clip
 * coefficient f32(maxNorm / f32(norm + 1e-6)) clamped to 1, and skip = skipNonFinite && any non-finite.
 */
export function guardDecision(
  grads: ArrayLike<number>[],
  o: { scale: number; maxNorm: number; skipNonFinite: boolean; gradNorm?: number },
): { invScale: number; clipCoef: number; skipped: boolean; foundNonFinite: boolean; gradNorm: number } {
  const f = Math.fround;
  const invScale = f(1 / o.scale);
  let sum = 0;
  let found = false;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) {
      const x = g[i]!;
      if (!Number.isFinite(x)) found = true;
      const v = f(x * invScale);
      sum += v * v;
    }
  }
  const gradNorm = o.gradNorm ?? f(Math.sqrt(sum));
  const clipCoef =
    o.maxNorm > 0 && Number.isFinite(o.maxNorm) ? Math.min(1, f(o.maxNorm / f(gradNorm + f(1e-6)))) : 1;
  return { invScale, clipCoef, skipped: o.skipNonFinite && found, foundNonFinite: found, gradNorm };
}
