/**
 * The training page's data, generated in the page from a seed: interleaved spirals in the plane, one arm per
 * class, with Gaussian noise on the angle. Pure math (no DOM, no GPU), so Node tests see the same points.
 */

/** A seeded generator: `next()` uniform in [0, 1) (mulberry32), `normal()` standard normal (Box–Muller). */
export function seededRandom(seed: number): { next(): number; normal(): number } {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = 1 - next(); // (0, 1]: log(u) is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return { next, normal };
}

export interface SpiralOptions {
  /** Number of arms, one per class (2 to 8). */
  classes: number;
  pointsPerClass: number;
  /** How far each arm winds, in turns, from its centre end to its outer end. */
  turns: number;
  /** Standard deviation of the noise added to each point's angle, in radians. */
  noise: number;
  seed: number;
}

export interface Dataset {
  /** Point k is (xy[2k], xy[2k + 1]), inside the unit disc. */
  xy: Float32Array;
  /** The class of point k, 0 … classes − 1. */
  labels: Int32Array;
  classes: number;
  count: number;
}

/**
 * `classes` spiral arms of `pointsPerClass` points. Point i of arm c sits at radius r = (i + 1) / n and angle
 * 2π·c / classes + 2π·turns·r + noise·N(0, 1), so the arms start apart at the centre and wind around each
 * other; the points are interleaved by class (arm 0's first point, arm 1's first point, …).
 */
export function spirals(o: SpiralOptions): Dataset {
  if (!Number.isInteger(o.classes) || o.classes < 2 || o.classes > 8)
    throw new RangeError(`classes must be an integer from 2 to 8, got ${o.classes}`);
  if (!Number.isInteger(o.pointsPerClass) || o.pointsPerClass < 1 || o.pointsPerClass > 10000)
    throw new RangeError(`pointsPerClass must be an integer from 1 to 10000, got ${o.pointsPerClass}`);
  if (!(Number.isFinite(o.turns) && o.turns >= 0)) throw new RangeError(`turns must be ≥ 0, got ${o.turns}`);
  if (!(Number.isFinite(o.noise) && o.noise >= 0)) throw new RangeError(`noise must be ≥ 0, got ${o.noise}`);
  const random = seededRandom(o.seed);
  const count = o.classes * o.pointsPerClass;
  const xy = new Float32Array(2 * count);
  const labels = new Int32Array(count);
  for (let i = 0; i < o.pointsPerClass; i++) {
    const r = (i + 1) / o.pointsPerClass;
    for (let c = 0; c < o.classes; c++) {
      const k = i * o.classes + c;
      const angle = (2 * Math.PI * c) / o.classes + 2 * Math.PI * o.turns * r + o.noise * random.normal();
      xy[2 * k] = r * Math.cos(angle);
      xy[2 * k + 1] = r * Math.sin(angle);
      labels[k] = c;
    }
  }
  return { xy, labels, classes: o.classes, count };
}
