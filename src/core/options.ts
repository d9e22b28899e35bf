/**
 * Options, defaults, presets and validation for AdaBelief.
 *
 * Defaults follow adabelief-pytorch 0.2.1 (the package the paper's authors maintain). Where they differ
 * from the paper (eps 1e-16 instead of 1e-8, decoupled weight decay, rectification on) the preset
 * `presets.torchOptimizer` gives torch-optimizer's choices instead.
 */

/** Which reference implementation's quirks to reproduce (see README "Semantics"). */
export type Semantics = 'adabelief-pytorch' | 'torch-optimizer';

export interface AdaBeliefOptions {
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Coefficients of the running averages of the gradient and of the belief. Default [0.9, 0.999]. */
  betas: readonly [number, number];
  /** Added to the belief variance (inside the sqrt, persistently) and to the denominator. Default 1e-16. */
  eps: number;
  /** Weight decay. Default 0. */
  weightDecay: number;
  /** Keep the running max of the belief variance (AMSGrad). Fixed at construction. Default false. */
  amsgrad: boolean;
  /** Decoupled (AdamW-style) weight decay instead of L2 added to the gradient. Default true. */
  weightDecouple: boolean;
  /** With decoupled decay: multiply by (1 - weightDecay) instead of (1 - lr * weightDecay). Default false. */
  fixedDecay: boolean;
  /** RAdam-style rectification of the adaptive step. Default true. */
  rectify: boolean;
  /** Under rectify, take SGD-with-momentum steps while the variance is intractable. Default true. */
  degeneratedToSgd: boolean;
  /** Reference semantics. Default 'adabelief-pytorch'. */
  semantics: Semantics;
}

/** The hyperparameters a single parameter entry may override (PyTorch's param groups). */
export type GroupOverrides = Partial<Pick<AdaBeliefOptions, 'lr' | 'betas' | 'eps' | 'weightDecay'>>;

/** adabelief-pytorch 0.2.1's defaults. */
export const DEFAULTS: Readonly<AdaBeliefOptions> = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.999] as const,
  eps: 1e-16,
  weightDecay: 0,
  amsgrad: false,
  weightDecouple: true,
  fixedDecay: false,
  rectify: true,
  degeneratedToSgd: true,
  semantics: 'adabelief-pytorch',
});

/** Ready-made option sets matching the two reference packages. */
export const presets = Object.freeze({
  /** adabelief-pytorch 0.2.1 (the defaults). */
  adabeliefPytorch: Object.freeze({ ...DEFAULTS }) as Readonly<AdaBeliefOptions>,
  /** torch_optimizer.AdaBelief: eps 1e-8, L2 weight decay, no rectification, its own quirks. */
  torchOptimizer: Object.freeze({
    ...DEFAULTS,
    eps: 1e-8,
    weightDecouple: false,
    rectify: false,
    semantics: 'torch-optimizer',
  }) as Readonly<AdaBeliefOptions>,
});

/**
 * Python's repr of the value, so messages read like the official package's: floats as CPython prints them
 * (`1e-16`, `-1e-05`, `-1e-08`, `-0.001`, `nan`, `-inf`), whole numbers as Python ints (`-1`: what
 * Python prints for the int a user would type).
 */
export function pyRepr(x: unknown): string {
  if (typeof x !== 'number') return String(x);
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return Object.is(x, -0) ? '-0.0' : String(x);
  const [digits, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  // CPython switches to exponent notation below 1e-4 and from 1e16, with at least two exponent digits.
  if (exponent < -4 || exponent >= 16) {
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(x); // positional, with the same shortest round-trip digits
}

/** Throws the official package's message for an invalid hyperparameter. */
export function validateHyper(
  h: Partial<Pick<AdaBeliefOptions, 'lr' | 'betas' | 'eps' | 'weightDecay'>>,
): void {
  const { lr, eps, betas, weightDecay } = h;
  if (lr !== undefined && !(typeof lr === 'number' && lr >= 0)) {
    throw new RangeError(`Invalid learning rate: ${pyRepr(lr)}`);
  }
  if (eps !== undefined && !(typeof eps === 'number' && eps >= 0)) {
    throw new RangeError(`Invalid epsilon value: ${pyRepr(eps)}`);
  }
  if (betas !== undefined) {
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new RangeError(`Invalid betas: expected two numbers, got ${JSON.stringify(betas)}`);
    }
    betas.forEach((b, i) => {
      if (!(typeof b === 'number' && b >= 0 && b < 1)) {
        throw new RangeError(`Invalid beta parameter at index ${i}: ${pyRepr(b)}`);
      }
    });
  }
  if (weightDecay !== undefined && !(typeof weightDecay === 'number' && weightDecay >= 0)) {
    throw new RangeError(`Invalid weight_decay value: ${pyRepr(weightDecay)}`);
  }
}

const FLAG_KEYS = ['amsgrad', 'weightDecouple', 'fixedDecay', 'rectify', 'degeneratedToSgd'] as const;

/** Merges user options over the defaults and validates every field. Unknown keys are rejected. */
export function resolveOptions(user: Partial<AdaBeliefOptions> = {}): AdaBeliefOptions {
  for (const key of Object.keys(user)) {
    if (!(key in DEFAULTS)) throw new TypeError(`Unknown AdaBelief option: '${key}'`);
  }
  const o: AdaBeliefOptions = { ...DEFAULTS, ...user };
  validateHyper(o);
  for (const key of FLAG_KEYS) {
    if (typeof o[key] !== 'boolean') throw new TypeError(`Option '${key}' must be a boolean, got ${o[key]}`);
  }
  if (o.semantics !== 'adabelief-pytorch' && o.semantics !== 'torch-optimizer') {
    throw new TypeError(
      `Option 'semantics' must be 'adabelief-pytorch' or 'torch-optimizer', got '${o.semantics}'`,
    );
  }
  o.betas = [o.betas[0], o.betas[1]];
  return o;
}

/** Validates per-entry overrides (only lr, betas, eps, weightDecay may be overridden). */
export function validateOverrides(overrides: GroupOverrides, where: string): void {
  for (const key of Object.keys(overrides)) {
    if (!['lr', 'betas', 'eps', 'weightDecay'].includes(key)) {
      throw new TypeError(
        `${where}: '${key}' cannot be set per parameter (only lr, betas, eps, weightDecay)`,
      );
    }
  }
  validateHyper(overrides);
}
