/**
 * The 2D problems of the trajectories page: each function's value and gradient in JavaScript (the value
 * draws the contour plot; the gradient is the reference for demo/shaders/toy-gradient.wgsl, which computes
 * it on the GPU during a run), its minimum, the plot's window, and the settings the page starts with.
 * Pure data and math: no DOM, no GPU.
 */

export type ToyId = 'abs' | 'slope' | 'rosenbrock' | 'beale';

/** Page settings: the hyperparameters shared by AdaBelief and Adam, SGD's own, and the run. */
export interface ToySettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdaBelief only. */
  rectify: boolean;
  degeneratedToSgd: boolean;
  sgdLr: number;
  momentum: number;
  steps: number;
  startX: number;
  startY: number;
}

export interface ToyFunction {
  id: ToyId;
  /** Index of the function in toy-gradient.wgsl (its `FUNCTION` override constant). */
  shaderIndex: number;
  title: string;
  formula: string;
  value(x: number, y: number): number;
  gradient(x: number, y: number): [number, number];
  minimum: [number, number];
  /** The plot's window: [xMin, xMax] and [yMin, yMax]. */
  view: { x: [number, number]; y: [number, number] };
  /** A path counts as arrived once it is this close to the minimum (for "steps to reach"). */
  reachRadius: number;
  preset: ToySettings;
  /** What the page says about this problem and its preset (HTML). */
  about: string;
}

/** WGSL's sign(): 0 at 0, so |x| has gradient 0 at its kink. */
const sign = (v: number) => (v > 0 ? 1 : v < 0 ? -1 : 0);

const COMMON = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, momentum: 0.9 } as const;

/** A function's preset: COMMON, the warm-up's SGD steps on, rectify off unless `rectify` says otherwise. */
function preset(p: {
  lr: number;
  sgdLr: number;
  steps: number;
  start: [number, number];
  rectify?: boolean;
}): ToySettings {
  return {
    ...COMMON,
    lr: p.lr,
    rectify: p.rectify ?? false,
    degeneratedToSgd: true,
    sgdLr: p.sgdLr,
    steps: p.steps,
    startX: p.start[0],
    startY: p.start[1],
  };
}

export const TOY_FUNCTIONS: Record<ToyId, ToyFunction> = {
  abs: {
    id: 'abs',
    shaderIndex: 0,
    title: '|x| + |y|',
    formula: 'f(x, y) = |x| + |y|',
    value: (x, y) => Math.abs(x) + Math.abs(y),
    gradient: (x, y) => [sign(x), sign(y)],
    minimum: [0, 0],
    view: { x: [-0.25, 1.1], y: [-0.012, 0.012] },
    reachRadius: 0.05,
    preset: preset({ lr: 0.01, sgdLr: 0.001, steps: 300, start: [1, 0.005], rectify: true }),
    about:
      'The gradient is (±1, ±1) everywhere. Starting just off the x axis, y crosses 0 at once and its ' +
      'gradient flips sign every few steps (the oscillating direction), while x sees the same gradient ' +
      'for about 100 steps. Adam divides by √v = |g| = 1 in both directions. AdaBelief divides by the ' +
      'spread of g around its mean: tiny in x (large steps), about 1 in y. The y axis is stretched 50×.',
  },
  slope: {
    id: 'slope',
    shaderIndex: 1,
    title: 'steep slope',
    formula: 'f(x, y) = 10·(√(1 + x²) − 1) + y²/2',
    value: (x, y) => 10 * (Math.sqrt(1 + x * x) - 1) + 0.5 * y * y,
    gradient: (x, y) => [(10 * x) / Math.sqrt(1 + x * x), y],
    minimum: [0, 0],
    view: { x: [-1.5, 9], y: [-1, 2.5] },
    reachRadius: 1,
    preset: preset({ lr: 0.05, sgdLr: 0.005, steps: 200, start: [8, 2] }),
    about:
      'Large gradient, small curvature: for |x| ≫ 1 the slope in x is almost exactly 10 and barely ' +
      'changes. Adam normalises it away (m/√v ≈ 1, so its step stays near lr). AdaBelief sees a gradient ' +
      'that matches its running mean, its s stays small, and its step grows past 3× lr with this preset: it ' +
      'keeps a large step where the ground is predictable.',
  },
  rosenbrock: {
    id: 'rosenbrock',
    shaderIndex: 2,
    title: 'Rosenbrock',
    formula: 'f(x, y) = (1 − x)² + 100·(y − x²)²',
    value: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    gradient: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    minimum: [1, 1],
    view: { x: [-2, 2], y: [-1, 3] },
    reachRadius: 0.1,
    preset: preset({ lr: 0.05, sgdLr: 0.0005, steps: 1000, start: [-1.5, 2] }),
    about:
      'A curved narrow valley. Rectify is off here: with rectify on, steps 1–5 are SGD-with-momentum ' +
      'steps of size lr·m (adabelief-pytorch’s warm-up), and the gradient at the start is about 150, which ' +
      'throws the point far off the map (try it).',
  },
  beale: {
    id: 'beale',
    shaderIndex: 3,
    title: 'Beale',
    formula: 'f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²',
    value: (x, y) => (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    gradient: (x, y) => {
      const a = 1.5 - x + x * y;
      const b = 2.25 - x + x * y * y;
      const c = 2.625 - x + x * y ** 3;
      return [
        2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1),
        2 * a * x + 4 * b * x * y + 6 * c * x * y * y,
      ];
    },
    minimum: [3, 0.5],
    view: { x: [-0.5, 4], y: [-1, 2] },
    reachRadius: 0.1,
    preset: preset({ lr: 0.05, sgdLr: 0.001, steps: 500, start: [1, 1.5] }),
    about:
      'Flat plateaus and steep walls, minimum at (3, 0.5). Rectify is off for the same reason as on ' +
      'Rosenbrock: the warm-up’s SGD steps of size lr·m overshoot where the gradient is large.',
  },
};

export const TOY_IDS = Object.keys(TOY_FUNCTIONS) as ToyId[];

export function isToyId(s: string): s is ToyId {
  return (TOY_IDS as string[]).includes(s);
}
