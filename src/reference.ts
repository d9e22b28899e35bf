/**
 * AdaBeliefCPU — the CPU reference. It mirrors shaders/adabelief.wgsl line by line: the same host
 * scalars (hyper.ts), the same order of operations, every f32 operation rounded with Math.fround when the
 * parameters are Float32Array; plain float64 math when they are Float64Array.
 *
 *   const cpu = new AdaBeliefCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });
 *   cpu.step([g0, g1]);            // p0, p1 updated in place
 *   cpu.exportState();             // { step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }
 */
import { Amsgrad, Update, stepScalars, type StepScalars } from './hyper.js';
import {
  resolveOptions,
  validateHyper,
  validateOverrides,
  type AdaBeliefOptions,
  type GroupOverrides,
} from './options.js';
import { checkImportedState, type AdaBeliefState, type TensorState } from './state.js';

type FloatArray = Float32Array | Float64Array;
type Round = (x: number) => number;

const identity: Round = (x) => x;

/** The scalars as the kernel sees them: every field rounded to the working precision once. */
function roundScalars(s: StepScalars, round: Round): StepScalars {
  return {
    ...s,
    decayMul: round(s.decayMul),
    l2: round(s.l2),
    beta1: round(s.beta1),
    oneMinusBeta1: round(s.oneMinusBeta1),
    beta2: round(s.beta2),
    oneMinusBeta2: round(s.oneMinusBeta2),
    eps: round(s.eps),
    epsS: round(s.epsS),
    epsMax: round(s.epsMax),
    sqrtBc2: round(s.sqrtBc2),
    stepSize: round(s.stepSize),
  };
}

/**
 * One AdaBelief step over `p` (in place) and its state, element by element, as the kernel's
 * `adabelief()` does it. `R` rounds each operation to the working precision.
 */
export function adabeliefStep(
  h: StepScalars,
  p: FloatArray,
  grad: FloatArray,
  expAvg: FloatArray,
  expAvgVar: FloatArray,
  maxExpAvgVar: FloatArray | undefined,
  R: Round,
): void {
  const amsgrad = h.amsgrad !== Amsgrad.off;
  const l2 = h.l2 !== 0;
  const adaptive = h.update === Update.adaptive;
  const moves = h.update !== Update.none;
  for (let i = 0; i < p.length; i++) {
    const pi = R(p[i]! * h.decayMul);
    const g = l2 ? R(grad[i]! + R(h.l2 * pi)) : grad[i]!;
    const m = R(R(expAvg[i]! * h.beta1) + R(h.oneMinusBeta1 * g));
    const r = R(g - m);
    const s = R(R(R(expAvgVar[i]! * h.beta2) + R(R(h.oneMinusBeta2 * r) * r)) + h.epsS);
    expAvg[i] = m;
    expAvgVar[i] = s;

    let v = s;
    if (amsgrad) {
      const smax = R(Math.max(maxExpAvgVar![i]!, s) + h.epsMax);
      maxExpAvgVar![i] = smax;
      v = h.denomFromMax ? smax : s;
    }

    const root = R(Math.sqrt(v));
    const d = R((h.divideBc2 ? R(root / h.sqrtBc2) : root) + h.eps);
    const direction = adaptive ? R(m / d) : m;
    p[i] = moves ? R(pi + R(h.stepSize * direction)) : pi;
  }
}

/** A CPU parameter: the array itself, or the array with per-parameter overrides. */
export type CPUParamEntry<T extends FloatArray> = T | ({ param: T } & GroupOverrides);

export class AdaBeliefCPU<T extends FloatArray = Float32Array> {
  /** The parameters, updated in place by `step()`. */
  readonly params: T[];
  /** Optimizer-wide options (every field may be changed between steps, except `amsgrad`). */
  readonly options: AdaBeliefOptions;
  private readonly overrides: GroupOverrides[];
  private tensors: TensorState<T>[];
  private t = 0;
  private readonly round: Round;

  constructor(params: CPUParamEntry<T>[], options: Partial<AdaBeliefOptions> = {}) {
    this.options = resolveOptions(options);
    if (params.length === 0) throw new RangeError('AdaBeliefCPU: the parameter list is empty');
    this.params = [];
    this.overrides = [];
    params.forEach((entry, i) => {
      const { param, ...overrides } = (ArrayBuffer.isView(entry) ? { param: entry } : entry) as {
        param: T;
      } & GroupOverrides;
      validateOverrides(overrides, `params[${i}]`);
      this.params.push(param);
      this.overrides.push(overrides);
    });
    const kinds = new Set(this.params.map((p) => p.constructor));
    if (
      kinds.size !== 1 ||
      !(this.params[0] instanceof Float32Array || this.params[0] instanceof Float64Array)
    ) {
      throw new TypeError(
        'AdaBeliefCPU: parameters must all be Float32Array (f32 math) or all Float64Array (f64 math)',
      );
    }
    this.round = this.params[0] instanceof Float32Array ? Math.fround : identity;
    this.tensors = this.params.map((p) => this.zeroState(p.length));
  }

  /** Number of steps taken. */
  get stepCount(): number {
    return this.t;
  }

  private zeroState(n: number): TensorState<T> {
    const make = () => new (this.params[0]!.constructor as new (n: number) => T)(n);
    const st: TensorState<T> = { exp_avg: make(), exp_avg_var: make() };
    if (this.options.amsgrad) st.max_exp_avg_var = make();
    return st;
  }

  /** Changes optimizer-wide options between steps (validated; `amsgrad` is fixed at construction). */
  set(changes: Partial<Omit<AdaBeliefOptions, 'amsgrad'>>): void {
    if ('amsgrad' in changes && (changes as AdaBeliefOptions).amsgrad !== this.options.amsgrad) {
      throw new Error('amsgrad is fixed at construction: it decides which state buffers exist');
    }
    Object.assign(this.options, resolveOptions({ ...this.options, ...changes }));
  }

  /** The scalars of the next step for parameter `i` (its overrides applied). */
  scalarsFor(i: number, t: number): StepScalars {
    return stepScalars({ ...this.options, ...this.overrides[i] }, t);
  }

  /** One step: `grads[i]` has the length of `params[i]`. Parameters and state are updated in place. */
  step(grads: T[]): void {
    if (grads.length !== this.params.length) {
      throw new RangeError(
        `AdaBeliefCPU.step: expected ${this.params.length} gradients, got ${grads.length}`,
      );
    }
    grads.forEach((g, i) => {
      if (g.length !== this.params[i]!.length) {
        throw new RangeError(
          `AdaBeliefCPU.step: grads[${i}] has ${g.length} elements, params[${i}] has ${this.params[i]!.length}`,
        );
      }
    });
    validateHyper(this.options);
    const t = this.t + 1;
    this.params.forEach((p, i) => {
      const st = this.tensors[i]!;
      const h = roundScalars(this.scalarsFor(i, t), this.round);
      adabeliefStep(h, p, grads[i]!, st.exp_avg, st.exp_avg_var, st.max_exp_avg_var, this.round);
    });
    this.t = t;
  }

  /** A copy of the optimizer state, in the shape of `AdaBelief.exportState()`. */
  exportState(): AdaBeliefState<T> {
    const copy = (a: T) => a.slice() as T;
    return {
      step: this.t,
      options: { ...this.options, betas: [...this.options.betas] },
      tensors: this.tensors.map((st) => {
        const out: TensorState<T> = { exp_avg: copy(st.exp_avg), exp_avg_var: copy(st.exp_avg_var) };
        if (st.max_exp_avg_var) out.max_exp_avg_var = copy(st.max_exp_avg_var);
        return out;
      }),
    };
  }

  /** Replaces step count, options and state with `state` (validated first; nothing changes on error). */
  importState(state: AdaBeliefState<FloatArray>): void {
    const options = checkImportedState(
      state,
      this.options.amsgrad,
      this.params.map((p) => p.length),
    );
    const Ctor = this.params[0]!.constructor as new (a: ArrayLike<number>) => T;
    this.tensors = state.tensors.map((st) => {
      const out: TensorState<T> = { exp_avg: new Ctor(st.exp_avg), exp_avg_var: new Ctor(st.exp_avg_var) };
      if (this.options.amsgrad) out.max_exp_avg_var = new Ctor(st.max_exp_avg_var!);
      return out;
    });
    Object.assign(this.options, options);
    this.t = state.step;
  }
}
