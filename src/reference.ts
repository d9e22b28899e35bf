/**
 * AdaBeliefCPU — the CPU reference. It mirrors shaders/adabelief.wgsl line by line: the same host
 * scalars (hyper.ts), the same order of operations, every f32 operation rounded with Math.fround when the
 * parameters are Float32Array; plain float64 math when they are Float64Array.
 *
 *   const cpu = new AdaBeliefCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });
 *   cpu.step([g0, g1]);            // p0, p1 updated in place
 *   cpu.exportState();             // { step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }
 */
import { CPUOptimizer, type CPUParamEntry, type FloatArray } from './cpu-optimizer.js';
import { Amsgrad, Update, type StepScalars } from './hyper.js';
import type { AdaBeliefOptions } from './options.js';
import type { TensorState } from './state.js';

export type { CPUParamEntry } from './cpu-optimizer.js';

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

/** The CPU reference: f32 math (every operation rounded) for Float32Array parameters, f64 for Float64Array. */
export class AdaBeliefCPU<T extends FloatArray = Float32Array> extends CPUOptimizer<T> {
  private readonly round: Round;

  constructor(params: CPUParamEntry<T>[], options: Partial<AdaBeliefOptions> = {}) {
    super('AdaBeliefCPU', params, options);
    this.round = this.params[0] instanceof Float32Array ? Math.fround : identity;
  }

  protected checkArrays(arrays: T[]): void {
    const kinds = new Set(arrays.map((p) => p.constructor));
    const first = this.params[0] ?? arrays[0];
    if (
      kinds.size !== 1 ||
      arrays[0]!.constructor !== first!.constructor ||
      !(first instanceof Float32Array || first instanceof Float64Array)
    ) {
      throw new TypeError(
        'AdaBeliefCPU: parameters (and gradients) must all be Float32Array (f32 math) or all Float64Array (f64 math)',
      );
    }
  }

  protected stepTensor(h: StepScalars, p: T, grad: T, st: TensorState<T>): void {
    adabeliefStep(
      roundScalars(h, this.round),
      p,
      grad,
      st.exp_avg,
      st.exp_avg_var,
      st.max_exp_avg_var,
      this.round,
    );
  }
}
