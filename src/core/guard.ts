/**
 * The guard of a step — loss-scale division, skipping on non-finite gradients, clipping by global norm —
 * as pure host code: the options' checks, what the GPU reports of a step, and the CPU reference's version of the
 * decision (shaders/step-decision.wgsl makes it on the GPU; a skipped step leaves the step count, which lives on
 * the GPU, unchanged: src/core/step-count.ts).
 *
 * The rule, the same on both (torch.amp's GradScaler): each gradient element is unscaled first, u = g * f32(1 /
 * scale), and the step is skipped (with skipNonFinite) when any u is inf or NaN — so a gradient that overflows
 * only once unscaled (a scale below 1) is caught too. The norm is the L2 norm of the u; clipping multiplies by
 * min(1, maxGradNorm / (norm + 1e-6)).
 */
import { pyRepr } from './options.js';

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

/** What the GPU decided for the latest step that ran (read back from the step record). */
export interface GuardReport {
  /** The step was skipped (non-finite gradient with skipping on). */
  skipped: boolean;
  /** Some gradient element was inf or NaN. */
  foundNonFinite: boolean;
  /** Global L2 norm of the unscaled gradients (before clipping), as computed in f32 on the GPU. */
  gradNorm: number;
  /** The clipping coefficient applied (1: none). */
  clipCoef: number;
  /** Steps applied so far: the GPU's step count after the work queued before the readback. */
  applied: number;
}

/** Throws unless `scale` is a usable loss scale. */
export function checkGradScale(scale: unknown): asserts scale is number {
  if (!(typeof scale === 'number' && scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(`gradScale must be a finite number > 0, got ${pyRepr(scale)}`);
  }
}

/**
 * Throws unless `max` is a usable clipping norm (Infinity allowed: no clipping). The GPU applies it in f32: a
 * norm that rounds to 0 there (below about 7e-46) is refused rather than read as "no clipping".
 */
export function checkMaxGradNorm(max: unknown): asserts max is number {
  if (!(typeof max === 'number' && max > 0)) {
    throw new RangeError(`maxGradNorm must be a number > 0 (Infinity: no clipping), got ${pyRepr(max)}`);
  }
  if (Math.fround(max) === 0) {
    throw new RangeError(
      `maxGradNorm must be a number > 0 in f32 (the GPU clips in f32), got ${pyRepr(max)}, which rounds to 0`,
    );
  }
}

/**
 * The CPU reference's guard decision, mirroring step-decision.wgsl: invScale = f32(1 / scale), each gradient
 * unscaled u = f32(g * invScale), the norm of the u (f64 sum of their f32 squares, or `gradNorm` when given,
 * e.g. the GPU's own), the clip coefficient f32(maxNorm / f32(norm + 1e-6)) clamped to 1, and
 * skip = skipNonFinite && any u is inf or NaN.
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
      const u = f(g[i]! * invScale);
      if (!Number.isFinite(u)) found = true;
      sum += u * u;
    }
  }
  const gradNorm = o.gradNorm ?? f(Math.sqrt(sum));
  const clipCoef =
    o.maxNorm > 0 && Number.isFinite(o.maxNorm) ? Math.min(1, f(o.maxNorm / f(gradNorm + f(1e-6)))) : 1;
  return { invScale, clipCoef, skipped: o.skipNonFinite && found, foundNonFinite: found, gradNorm };
}
