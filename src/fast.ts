/**
 * AdaBeliefFastCPU — the fastest CPU AdaBelief this library offers: one tight single-threaded loop per
 * parameter over Float32Arrays (a branch-free one for the common case: adaptive step, no weight decay, no
 * AMSGrad), same update rule and host scalars (hyper.ts) as the kernel and as AdaBeliefCPU, same state
 * shape. Its speed is bound by the f64 square root and division per element more than by memory: about
 * 2x the time of a plain Float32Array loop moving the same 28 bytes per element (npm start measures both).
 *
 * Where it differs from the f32 reference (reference.ts): the reference rounds every operation to f32
 * (Math.fround per op, bit-exact f32 math); this loop keeps the intermediates of one element in float64
 * and rounds to f32 where a value is stored (m, s, smax, p) — the first moment also before the residual
 * `g - m` uses it, as the stored m is what the next step sees. Weight decay is rounded op by op as in the
 * reference: `p * decayMul` (else two roundings of p-sized values per step differ by up to 1.5 ulp) and
 * L2's `g + l2 * p` (it may cancel, and then one rounding of l2 * p changes m and s relatively by far more
 * than an ulp). The divide by sqrt(bc2) becomes a multiply by its f64 reciprocal. Each of these changes a result by at most a few ulp (test/fast.test.ts measures
 * and bounds it); float64 intermediates are, if anything, closer to the exact result.
 *
 *   const opt = new AdaBeliefFastCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });
 *   opt.step([g0, g1]);            // p0, p1 updated in place
 */
import { Amsgrad, Update, stepScalars, type StepScalars } from './hyper.js';
import {
  resolveOptions,
  validateHyper,
  validateOverrides,
  type AdaBeliefOptions,
  type GroupOverrides,
} from './options.js';
import type { CPUParamEntry } from './reference.js';
import { checkImportedState, type AdaBeliefState, type TensorState } from './state.js';

const f32 = Math.fround;

/**
 * One AdaBelief step over `p` (in place) and its state: the rule of reference.ts `adabeliefStep`, with
 * float64 intermediates and f32 rounding at the stores. `h` holds the unrounded host scalars; each is
 * rounded to f32 here once, as the kernel's uniform does.
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

/** The fast CPU optimizer: constructor, `step`, `set`, `exportState`, `importState` as AdaBeliefCPU's. */
export class AdaBeliefFastCPU {
  /** The parameters, updated in place by `step()`. */
  readonly params: Float32Array[];
  /** Optimizer-wide options (every field may be changed between steps, except `amsgrad`). */
  readonly options: AdaBeliefOptions;
  private readonly overrides: GroupOverrides[];
  private tensors: TensorState[];
  private t = 0;

  constructor(params: CPUParamEntry<Float32Array>[], options: Partial<AdaBeliefOptions> = {}) {
    this.options = resolveOptions(options);
    if (params.length === 0) throw new RangeError('AdaBeliefFastCPU: the parameter list is empty');
    this.params = [];
    this.overrides = [];
    params.forEach((entry, i) => {
      const { param, ...overrides } = ArrayBuffer.isView(entry) ? { param: entry } : entry;
      if (!(param instanceof Float32Array))
        throw new TypeError(`AdaBeliefFastCPU: params[${i}] must be a Float32Array`);
      validateOverrides(overrides, `params[${i}]`);
      this.params.push(param);
      this.overrides.push(overrides);
    });
    this.tensors = this.params.map((p) => {
      const st: TensorState = {
        exp_avg: new Float32Array(p.length),
        exp_avg_var: new Float32Array(p.length),
      };
      if (this.options.amsgrad) st.max_exp_avg_var = new Float32Array(p.length);
      return st;
    });
  }

  /** Number of steps taken. */
  get stepCount(): number {
    return this.t;
  }

  /** Changes optimizer-wide options between steps (validated; `amsgrad` is fixed at construction). */
  set(changes: Partial<Omit<AdaBeliefOptions, 'amsgrad'>>): void {
    if ('amsgrad' in changes && (changes as AdaBeliefOptions).amsgrad !== this.options.amsgrad) {
      throw new Error('amsgrad is fixed at construction: it decides which state buffers exist');
    }
    Object.assign(this.options, resolveOptions({ ...this.options, ...changes }));
  }

  /** One step: `grads[i]` has the length of `params[i]`. Parameters and state are updated in place. */
  step(grads: Float32Array[]): void {
    if (grads.length !== this.params.length) {
      throw new RangeError(
        `AdaBeliefFastCPU.step: expected ${this.params.length} gradients, got ${grads.length}`,
      );
    }
    grads.forEach((g, i) => {
      if (!(g instanceof Float32Array) || g.length !== this.params[i]!.length) {
        throw new RangeError(
          `AdaBeliefFastCPU.step: grads[${i}] must be a Float32Array of ${this.params[i]!.length} elements`,
        );
      }
    });
    validateHyper(this.options);
    const t = this.t + 1;
    this.params.forEach((p, i) => {
      const st = this.tensors[i]!;
      const h = stepScalars({ ...this.options, ...this.overrides[i] }, t);
      adabeliefStepFast(h, p, grads[i]!, st.exp_avg, st.exp_avg_var, st.max_exp_avg_var);
    });
    this.t = t;
  }

  /** A copy of the optimizer state, in the shape of `AdaBelief.exportState()`. */
  exportState(): AdaBeliefState {
    return {
      step: this.t,
      options: { ...this.options, betas: [...this.options.betas] },
      tensors: this.tensors.map((st) => {
        const out: TensorState = { exp_avg: st.exp_avg.slice(), exp_avg_var: st.exp_avg_var.slice() };
        if (st.max_exp_avg_var) out.max_exp_avg_var = st.max_exp_avg_var.slice();
        return out;
      }),
    };
  }

  /** Replaces step count, options and state with `state` (validated first; nothing changes on error). */
  importState(state: AdaBeliefState<Float32Array | Float64Array>): void {
    const options = checkImportedState(
      state,
      this.options.amsgrad,
      this.params.map((p) => p.length),
    );
    this.tensors = state.tensors.map((st) => {
      const out: TensorState = {
        exp_avg: Float32Array.from(st.exp_avg),
        exp_avg_var: Float32Array.from(st.exp_avg_var),
      };
      if (this.options.amsgrad) out.max_exp_avg_var = Float32Array.from(st.max_exp_avg_var!);
      return out;
    });
    Object.assign(this.options, options);
    this.t = state.step;
  }
}
