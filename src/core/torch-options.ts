/**
 * Options, defaults, validation and host scalars of the torch.optim variants that run on the same fused
 * kernel as AdaBelief: Adam, AdamW and SGD (with momentum, dampening, Nesterov).
 *
 * Update rules (torch.optim, PyTorch 2.x, `maximize=False`), per element, with `t` the step after its
 * increment:
 *   Adam:   g += wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  [vmax = max(vmax, v)]
 *           p -= lr / (1-b1^t) * m / (sqrt(v or vmax) / sqrt(1-b2^t) + eps)
 *   AdamW:  p *= 1 - lr * wd first (decoupled decay), then Adam without the L2 term.
 *   SGD:    g += wd * p;  buf = g on the first step, else momentum * buf + (1 - dampening) * g;
 *           p -= lr * (nesterov ? g + momentum * buf : buf)      (momentum 0: p -= lr * g)
 * Defaults are torch.optim's: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0; AdamW the same
 * with weight_decay 1e-2; SGD lr 1e-3, momentum 0, dampening 0, weight_decay 0, nesterov false.
 */
import { Amsgrad, Update, type StepScalars } from './step-scalars.js';
import { checkFlag, definedOptions, finiteAtLeast, pyRepr, refusalNote, validateHyper } from './options.js';

export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Coefficients of the running averages of the gradient and of its square. Default [0.9, 0.999]. */
  betas: readonly [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  weightDecay: number;
  /** Keep the running max of the second moment (AMSGrad). Fixed at construction. Default false. */
  amsgrad: boolean;
}

export interface SGDOptions {
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Momentum factor. Default 0 (plain SGD). */
  momentum: number;
  /** Dampening of the momentum. Default 0. */
  dampening: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov: boolean;
}

export const ADAM_DEFAULTS: Readonly<AdamOptions> = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
});

export const ADAMW_DEFAULTS: Readonly<AdamOptions> = Object.freeze({ ...ADAM_DEFAULTS, weightDecay: 1e-2 });

export const SGD_DEFAULTS: Readonly<SGDOptions> = Object.freeze({
  lr: 1e-3,
  momentum: 0,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
});

/** `user` without undefined values (= absent, the default), keys `defaults` lacks rejected, naming `name`. */
function given<O extends object>(name: string, user: unknown, defaults: O): Partial<O> {
  const o = definedOptions<O>(user, `${name} options`);
  for (const key of Object.keys(o)) {
    if (!(key in defaults)) throw new TypeError(`Unknown ${name} option: '${key}'`);
  }
  return o;
}

/** Adam / AdamW options over `defaults`, validated with torch.optim's messages. */
export function resolveAdamOptions(
  name: string,
  defaults: Readonly<AdamOptions>,
  user?: Partial<AdamOptions>,
): AdamOptions {
  const o: AdamOptions = { ...defaults, ...given(name, user, defaults) };
  validateHyper(o);
  checkFlag('amsgrad', o.amsgrad);
  o.betas = [o.betas[0], o.betas[1]];
  return o;
}

/** SGD options over the defaults, validated with torch.optim.SGD's messages. */
export function resolveSGDOptions(user?: Partial<SGDOptions>): SGDOptions {
  const o: SGDOptions = { ...SGD_DEFAULTS, ...given('SGD', user, SGD_DEFAULTS) };
  validateHyper({ lr: o.lr, weightDecay: o.weightDecay });
  if (!finiteAtLeast(o.momentum, 0)) {
    throw new RangeError(`Invalid momentum value: ${pyRepr(o.momentum)}${refusalNote(o.momentum)}`);
  }
  // torch.optim.SGD does not check dampening; any finite number is applied as given (1 - dampening).
  if (!finiteAtLeast(o.dampening, -Infinity)) {
    throw new RangeError(`Invalid dampening value: ${pyRepr(o.dampening)}${refusalNote(o.dampening)}`);
  }
  checkFlag('nesterov', o.nesterov);
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
    throw new RangeError(
      `Nesterov momentum requires a momentum and zero dampening (nesterov=true, momentum ${pyRepr(o.momentum)}, dampening ${pyRepr(o.dampening)})`,
    );
  }
  return o;
}

/** What every non-AdaBelief step shares: no belief, no rectification, eps only in the denominator. */
const plain = { belief: false, nesterov: false, rho: NaN, epsMax: 0, epsS: 0 } as const;

/** Scalars of Adam (`decoupled` false: L2 decay) or AdamW (`decoupled` true) for step `t`. */
export function adamScalars(o: AdamOptions, t: number, decoupled: boolean): StepScalars {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`step count must be an integer >= 1, got ${t}`);
  const [beta1, beta2] = o.betas;
  const { lr, eps, weightDecay: wd } = o;
  return {
    ...plain,
    decayMul: decoupled ? 1 - lr * wd : 1,
    l2: decoupled ? 0 : wd,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    eps,
    amsgrad: o.amsgrad ? Amsgrad.epsBeforeMax : Amsgrad.off,
    update: Update.adaptive,
    denomFromMax: o.amsgrad,
    divideBc2: true,
    sqrtBc2: Math.sqrt(1 - beta2 ** t),
    stepSize: -(lr / (1 - beta1 ** t)),
  };
}

/** Scalars of SGD for step `t`: the momentum buffer is `m` (exp_avg), started as `g` on the first step. */
export function sgdScalars(o: SGDOptions, t: number): StepScalars {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`step count must be an integer >= 1, got ${t}`);
  return {
    ...plain,
    decayMul: 1,
    l2: o.weightDecay,
    beta1: o.momentum,
    // m = momentum * m + (1 - dampening) * g, except buf = g on the first step (m is 0 then) and without momentum.
    oneMinusBeta1: t === 1 || o.momentum === 0 ? 1 : 1 - o.dampening,
    beta2: 0,
    oneMinusBeta2: 0,
    eps: 0,
    amsgrad: Amsgrad.off,
    update: Update.sgd,
    denomFromMax: false,
    divideBc2: false,
    sqrtBc2: 1,
    stepSize: -o.lr,
    nesterov: o.nesterov,
  };
}
