/**
 * Figures of one optimizer's path on a toy function (pure, no DOM, no GPU): where it ended, how far from the
 * minimum, how far it travelled along each axis, its longest step, when it first came near the minimum.
 * Non-finite values are reported as null (JSON has no NaN) with `diverged` set.
 */
import type { ToyFunction } from './toy-functions.js';

export interface PathMetrics {
  steps: number;
  final: [number | null, number | null];
  /** f at the last point. */
  loss: number | null;
  /** Euclidean distance from the last point to the minimum. */
  distance: number | null;
  /** Σ |x_{k+1} − x_k| and Σ |y_{k+1} − y_k| over the run. */
  sumAbsDx: number | null;
  sumAbsDy: number | null;
  /** Longest single step (Euclidean). */
  maxStep: number | null;
  /** First step after which the point is within `reachRadius` of the minimum; null if never. */
  stepsToReach: number | null;
  /** First step whose point is not finite; null if the whole path is finite. */
  diverged: number | null;
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/** `path` holds x0, y0, x1, y1, ... for steps 0..N. */
export function pathMetrics(fn: ToyFunction, path: ArrayLike<number>): PathMetrics {
  const points = path.length / 2;
  if (!Number.isInteger(points) || points < 1)
    throw new RangeError(`path length ${path.length} is not 2·(steps + 1)`);
  let sumAbsDx = 0;
  let sumAbsDy = 0;
  let maxStep = 0;
  let stepsToReach: number | null = null;
  let diverged: number | null = null;
  const [mx, my] = fn.minimum;
  for (let k = 0; k < points; k++) {
    const x = path[2 * k]!;
    const y = path[2 * k + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      diverged ??= k;
      continue;
    }
    if (stepsToReach === null && Math.hypot(x - mx, y - my) < fn.reachRadius) stepsToReach = k;
    if (k > 0) {
      const dx = Math.abs(x - path[2 * k - 2]!);
      const dy = Math.abs(y - path[2 * k - 1]!);
      sumAbsDx += dx;
      sumAbsDy += dy;
      maxStep = Math.max(maxStep, Math.hypot(dx, dy));
    }
  }
  const x = path[2 * points - 2]!;
  const y = path[2 * points - 1]!;
  const ok = diverged === null;
  return {
    steps: points - 1,
    final: [finiteOrNull(x), finiteOrNull(y)],
    loss: ok ? finiteOrNull(fn.value(x, y)) : null,
    distance: ok ? finiteOrNull(Math.hypot(x - mx, y - my)) : null,
    sumAbsDx: ok ? finiteOrNull(sumAbsDx) : null,
    sumAbsDy: ok ? finiteOrNull(sumAbsDy) : null,
    maxStep: ok ? finiteOrNull(maxStep) : null,
    stepsToReach,
    diverged,
  };
}

/** A statement the page checks against its own numbers, shown with them. */
export interface Claim {
  id: string;
  text: string;
  holds: boolean;
  /** The numbers behind it, as shown. */
  detail: string;
}

const fmt = (x: number | null) =>
  x === null ? 'n/a' : x < 1e-3 || x >= 1e4 ? x.toExponential(2) : x.toPrecision(3);

/** The claims for `fn` given each optimizer's metrics (AdaBelief against Adam). */
export function claimsFor(
  fn: ToyFunction,
  m: Partial<Record<'adabelief' | 'adam' | 'sgd', PathMetrics>>,
): Claim[] {
  const a = m.adabelief;
  const b = m.adam;
  if (!a || !b) return [];
  const less = (x: number | null, y: number | null) => x !== null && y !== null && x < y;
  const nearer: Claim = {
    id: 'nearer',
    text: `after ${a.steps} steps AdaBelief is nearer the minimum than Adam`,
    holds: less(a.distance, b.distance),
    detail: `distance ${fmt(a.distance)} vs ${fmt(b.distance)}`,
  };
  switch (fn.id) {
    case 'abs':
      return [
        {
          id: 'less-oscillation',
          text: 'AdaBelief travels less in the oscillating direction (Σ|Δy|) than Adam',
          holds: less(a.sumAbsDy, b.sumAbsDy),
          detail: `Σ|Δy| ${fmt(a.sumAbsDy)} vs ${fmt(b.sumAbsDy)}`,
        },
        nearer,
      ];
    case 'slope':
      return [
        {
          id: 'larger-step',
          text: 'AdaBelief’s longest step is longer than Adam’s',
          holds: less(b.maxStep, a.maxStep),
          detail: `longest step ${fmt(a.maxStep)} vs ${fmt(b.maxStep)}`,
        },
        {
          id: 'arrives-sooner',
          text: `AdaBelief comes within ${fn.reachRadius} of the minimum in fewer steps than Adam`,
          holds: a.stepsToReach !== null && (b.stepsToReach === null || a.stepsToReach < b.stepsToReach),
          detail: `step ${a.stepsToReach ?? 'never'} vs ${b.stepsToReach ?? 'never'}`,
        },
        nearer,
      ];
    default:
      return [nearer];
  }
}
