/**
 * Host-side scalars of one AdaBelief step, computed in float64 from the options and the step count.
 *
 * The kernel (shaders/adabelief.wgsl, through the `Hyper` record src/gpu/records.ts packs) and the CPU
 * reference (src/cpu/reference.ts) both consume a `StepScalars`:
 * every decision that depends only on hyperparameters and `t` (the decay mode, the rectification phase,
 * bias corrections, step sizes) is made here, once per step, in f64 — never in f32 on the GPU, where
 * the rectification threshold at step 5 would land on the wrong side.
 */
import type { AdaBeliefOptions } from './options.js';

/** How the parameter moves this step. */
export const Update = { none: 0, sgd: 1, adaptive: 2 } as const;
export type UpdateKind = (typeof Update)[keyof typeof Update];

/** How AMSGrad treats eps: official adds it to `s` before the max; torch-optimizer to `smax` after it. */
export const Amsgrad = { off: 0, epsBeforeMax: 1, epsAfterMax: 2 } as const;
export type AmsgradKind = (typeof Amsgrad)[keyof typeof Amsgrad];

export interface StepScalars {
  /** `p *= decayMul` before anything else (decoupled / fixed decay); exactly 1 otherwise. */
  decayMul: number;
  /** `g += l2 * p` (L2 decay); 0 means the line is skipped. */
  l2: number;
  beta1: number;
  /** 1 - beta1, computed in f64. */
  oneMinusBeta1: number;
  beta2: number;
  /** 1 - beta2, computed in f64. */
  oneMinusBeta2: number;
  eps: number;
  amsgrad: AmsgradKind;
  /** Added to `s` after its update: eps, or 0 under torch-optimizer's AMSGrad. */
  epsS: number;
  /** Added to `smax` after the max: eps under torch-optimizer's AMSGrad, else 0. */
  epsMax: number;
  update: UpdateKind;
  /** Adaptive update: take the denominator from `smax` (true) or from `s`. */
  denomFromMax: boolean;
  /** Adaptive update: divide sqrt(v) by `sqrtBc2` (bias-corrected denominator). */
  divideBc2: boolean;
  /** sqrt(1 - beta2^t). */
  sqrtBc2: number;
  /** Signed step: `p += stepSize * (m / D)` (adaptive) or `p += stepSize * m` (sgd). */
  stepSize: number;
  /** RAdam's length of the approximated SMA (NaN without rectify), for inspection and tests. */
  rho: number;
  /** The second moment tracks the belief `g - m` (AdaBelief) rather than `g` (Adam). */
  belief: boolean;
  /** SGD update with Nesterov momentum: `p += stepSize * (g + beta1 * m)` instead of `p += stepSize * m`. */
  nesterov: boolean;
}

export type HyperInputs = Pick<
  AdaBeliefOptions,
  | 'lr'
  | 'betas'
  | 'eps'
  | 'weightDecay'
  | 'amsgrad'
  | 'weightDecouple'
  | 'fixedDecay'
  | 'rectify'
  | 'degeneratedToSgd'
  | 'semantics'
>;

/** RAdam's rho_inf and rho_t for step `t` (1-based, after the increment). */
export function rectifyRho(beta2: number, t: number): { rhoInf: number; rho: number } {
  const beta2t = beta2 ** t;
  const rhoInf = 2 / (1 - beta2) - 1;
  return { rhoInf, rho: rhoInf - (2 * t * beta2t) / (1 - beta2t) };
}

/**
 * Scalars for step `t` (the step count after its increment: 1 on the first step).
 *
 * adabelief-pytorch: adaptive while rho >= 5 with `k = sqrt((1-b2^t)(rho-4)/(rhoInf-4)(rho-2)/rho
 * rhoInf/(rhoInf-2)) / bc1`, denominator sqrt(s) + eps (never smax, no bias correction); else SGD with
 * `lr / bc1` (degeneratedToSgd) or no move. torch-optimizer: adaptive while rho > 4 with
 * `k = sqrt((rho-4)(rho-2)rhoInf/(rhoInf-4)/(rhoInf-2)/rho) / bc1` and the bias-corrected denominator;
 * else SGD with plain `lr`.
 */
export function stepScalars(o: HyperInputs, t: number): StepScalars {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`step count must be an integer >= 1, got ${t}`);
  const [beta1, beta2] = o.betas;
  const { lr, eps, weightDecay: wd } = o;
  const official = o.semantics === 'adabelief-pytorch';
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;

  let decayMul = 1;
  let l2 = 0;
  if (o.weightDecouple) decayMul = o.fixedDecay ? 1 - wd : 1 - lr * wd;
  else if (wd !== 0) l2 = wd;

  const amsgrad = !o.amsgrad ? Amsgrad.off : official ? Amsgrad.epsBeforeMax : Amsgrad.epsAfterMax;
  const base = {
    decayMul,
    l2,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    eps,
    amsgrad,
    epsS: amsgrad === Amsgrad.epsAfterMax ? 0 : eps,
    epsMax: amsgrad === Amsgrad.epsAfterMax ? eps : 0,
    sqrtBc2: Math.sqrt(bc2),
    belief: true,
    nesterov: false,
  };
  // The bias-corrected adaptive step of the non-rectified rule (and of torch-optimizer's rectified one).
  const corrected = { denomFromMax: o.amsgrad, divideBc2: true };

  if (!o.rectify) {
    return { ...base, ...corrected, update: Update.adaptive, stepSize: -(lr / bc1), rho: NaN };
  }
  const { rhoInf, rho } = rectifyRho(beta2, t);
  if (official) {
    if (rho >= 5) {
      const k =
        Math.sqrt((((((bc2 * (rho - 4)) / (rhoInf - 4)) * (rho - 2)) / rho) * rhoInf) / (rhoInf - 2)) / bc1;
      return {
        ...base,
        update: Update.adaptive,
        denomFromMax: false,
        divideBc2: false,
        stepSize: -k * lr,
        rho,
      };
    }
    const sgd = o.degeneratedToSgd;
    return {
      ...base,
      ...corrected,
      update: sgd ? Update.sgd : Update.none,
      stepSize: sgd ? -(1 / bc1) * lr : 0,
      rho,
    };
  }
  if (rho > 4) {
    const rt = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / (rhoInf - 4) / (rhoInf - 2) / rho);
    return { ...base, ...corrected, update: Update.adaptive, stepSize: -((rt * lr) / bc1), rho };
  }
  const sgd = o.degeneratedToSgd;
  return { ...base, ...corrected, update: sgd ? Update.sgd : Update.none, stepSize: sgd ? -lr : 0, rho };
}
