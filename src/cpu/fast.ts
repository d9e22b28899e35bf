/**
 * AdaBeliefFastCPU — the fastest CPU AdaBelief this library offers: one tight single-threaded loop per
 * parameter over Float32Arrays (a branch-free one for the common case: adaptive step, no weight decay, no
 * AMSGrad), same update rule and host scalars (step-scalars.ts) as the kernel and as AdaBeliefCPU, same state
 * shape. Its speed is bound by the f64 square root and division per element more than by memory: about
 * 2x the time of a plain Float32Array loop moving the same 28 bytes per element (npm start measures both).
 *
 * Where it differs from the f32 reference (reference.ts): the reference rounds every operation to f32
 * (Math.fround per op, bit-exact f32 math); this loop keeps the intermediates of one element in float64
 * and rounds to f32 where a value is stored (m, s, smax, p) — the first moment also before the residual
 * `g - m` uses it, as the stored m is what the next step sees. Weight decay is rounded op by op as in the
 * reference: `p * decayMul` (else two roundings of p-sized values per step differ by up to 1.5 ulp) and
 * L2's `g + l2 * p` (it may cancel, and then one rounding of l2 * p changes m and s relatively by far more
 * than an ulp). The divide by sqrt(bc2) becomes a multiply by its f64 reciprocal. Each of these changes a result by at most a few ulp (test/study/fast.test.ts measures
 * and bounds it); float64 intermediates are, if anything, closer to the exact result.
 *
 *   const opt = new AdaBeliefFastCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });
 *   opt.step([g0, g1]);            // p0, p1 updated in place
 */
import { CPUOptimizer, type CPUParamEntry, type SlotState } from './cpu-optimizer.js';
import { Amsgrad, Update, type StepScalars } from '../core/step-scalars.js';
import type { AdaBeliefOptions } from '../core/options.js';
import { adabeliefRule } from '../core/rules.js';
import type { AdaBeliefState, FloatArray, OptimizerState } from '../core/state.js';
import { defineOptionAccessors, type AdaBeliefAccessors } from '../core/option-accessors.js';

const f32 = Math.fround;

/**
 * One AdaBelief step over `p` (in place) and its state: the rule of reference.ts `adabeliefStep`, with
 * float64 intermediates and f32 rounding at the stores. `h` holds the unrounded host scalars; each is
 * rounded to f32 here once, as packHyper does for the kernel.
 */
export function adabeliefStepFast(
  h: StepScalars,
  p: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgVar: Float32Array,
  maxExpAvgVar: Float32Array | undefined,
): void {
  const n = p.length;
  if (
    grad.length !== n ||
    expAvg.length !== n ||
    expAvgVar.length !== n ||
    (maxExpAvgVar && maxExpAvgVar.length !== n)
  ) {
    throw new RangeError('adabeliefStepFast: every array must have the length of p');
  }
  const decayMul = f32(h.decayMul);
  const decay = decayMul !== 1;
  const l2 = f32(h.l2);
  const useL2 = l2 !== 0;
  const beta1 = f32(h.beta1);
  const oneMinusBeta1 = f32(h.oneMinusBeta1);
  const beta2 = f32(h.beta2);
  const oneMinusBeta2 = f32(h.oneMinusBeta2);
  const eps = f32(h.eps);
  const amsgrad = h.amsgrad !== Amsgrad.off;
  const epsAfterMax = h.amsgrad === Amsgrad.epsAfterMax;
  const epsOnS = epsAfterMax ? 0 : eps;
  const fromMax = amsgrad && h.denomFromMax;
  const invSqrtBc2 = h.divideBc2 ? 1 / f32(h.sqrtBc2) : 1;
  const stepSize = f32(h.stepSize);
  const adaptive = h.update === Update.adaptive;
  const moves = h.update !== Update.none;
  if (amsgrad && !maxExpAvgVar) throw new RangeError('adabeliefStepFast: AMSGrad needs max_exp_avg_var');
  const smax = maxExpAvgVar ?? expAvgVar; // only read under `amsgrad`

  if (adaptive && !decay && !useL2 && !amsgrad) {
    // The common case (defaults, after the first steps), without the branches of the general loop below.
    for (let i = 0; i < n; i++) {
      const g = grad[i]!;
      const m = f32(expAvg[i]! * beta1 + oneMinusBeta1 * g);
      const r = g - m;
      const s = f32(expAvgVar[i]! * beta2 + oneMinusBeta2 * r * r + epsOnS);
      expAvg[i] = m;
      expAvgVar[i] = s;
      p[i] = p[i]! + stepSize * (m / (Math.sqrt(s) * invSqrtBc2 + eps));
    }
    return;
  }
  // The general loop: its branches test loop invariants only.
  for (let i = 0; i < n; i++) {
    const p0 = decay ? f32(p[i]! * decayMul) : p[i]!;
    const g = useL2 ? f32(grad[i]! + f32(l2 * p0)) : grad[i]!;
    const m = f32(expAvg[i]! * beta1 + oneMinusBeta1 * g);
    const r = g - m;
    const s = f32(expAvgVar[i]! * beta2 + oneMinusBeta2 * r * r + epsOnS);
    expAvg[i] = m;
    expAvgVar[i] = s;
    let v = s;
    if (amsgrad) {
      let x = Math.max(smax[i]!, s);
      if (epsAfterMax) x = f32(x + eps);
      smax[i] = x;
      if (fromMax) v = x;
    }
    if (adaptive) {
      p[i] = p0 + stepSize * (m / (Math.sqrt(v) * invSqrtBc2 + eps));
    } else if (moves) {
      p[i] = p0 + stepSize * m;
    } else if (decay) {
      p[i] = p0;
    }
  }
}

// Declaration merging: the option accessors (`opt.lr = …`) defined by each class's static #accessors.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AdaBeliefFastCPU extends AdaBeliefAccessors {}

/** The fast CPU optimizer: constructor, `step`, `set`, accessors, `exportState`, `importState` as AdaBeliefCPU's. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AdaBeliefFastCPU extends CPUOptimizer<Float32Array, AdaBeliefOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdaBeliefFastCPU, adabeliefRule);

  constructor(params: CPUParamEntry<Float32Array>[], options: Partial<AdaBeliefOptions> = {}) {
    super('AdaBeliefFastCPU', adabeliefRule, params, options);
  }

  override exportState(): AdaBeliefState {
    return super.exportState() as AdaBeliefState;
  }

  override importState(
    state: AdaBeliefState<FloatArray> | OptimizerState<AdaBeliefOptions, FloatArray>,
  ): void {
    super.importState(state as OptimizerState<AdaBeliefOptions, FloatArray>);
  }

  protected checkArrays(arrays: Float32Array[], what: string): void {
    arrays.forEach((a, i) => {
      if (!(a instanceof Float32Array))
        throw new TypeError(`AdaBeliefFastCPU: ${what}[${i}] must be a Float32Array`);
    });
  }

  protected stepTensor(
    h: StepScalars,
    p: Float32Array,
    grad: Float32Array,
    st: SlotState<Float32Array>,
  ): void {
    adabeliefStepFast(h, p, grad, st.exp_avg!, st.exp_avg_var!, st.max_exp_avg_var);
  }
}
