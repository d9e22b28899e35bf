/**
 * AdaBeliefCPU — the CPU reference. It mirrors shaders/adabelief.wgsl line by line: the same host
 * scalars (step-scalars.ts), the same order of operations, every f32 operation rounded with Math.fround when the
 * parameters are Float32Array; plain float64 math when they are Float64Array. AdamCPU, AdamWCPU and
 * SGDCPU are the same loop with their rules (rules.ts), as the kernel runs them.
 *
 *   const cpu = new AdaBeliefCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });
 *   cpu.step([g0, g1]);            // p0, p1 updated in place
 *   cpu.exportState();             // { step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }
 */
import { CPUOptimizer, type CPUParamEntry, type FloatArray, type SlotState } from './cpu-optimizer.js';
import { Amsgrad, Update, type StepScalars } from '../core/step-scalars.js';
import type { AdaBeliefOptions } from '../core/options.js';
import { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule, type Rule } from '../core/rules.js';
import type { AdaBeliefState, OptimizerState } from '../core/state.js';
import type { AdamOptions, SGDOptions } from '../core/torch-options.js';
import {
  roundBf16,
  roundF16,
  roundInPlace,
  type MasterWeightsState,
  type PrecisionOptions,
} from '../core/precision.js';
import {
  defineOptionAccessors,
  type AdaBeliefAccessors,
  type AdamAccessors,
  type SGDAccessors,
} from '../core/option-accessors.js';

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
 * One fused step over `p` (in place) and its state, element by element, as the kernel's `adabelief()`
 * does it. `R` rounds each operation to the working precision. Without `expAvgVar` (SGD: the kernel's
 * VARIANCE off) no second moment is kept.
 */
export function adabeliefStep(
  h: StepScalars,
  p: FloatArray,
  grad: FloatArray,
  expAvg: FloatArray,
  expAvgVar: FloatArray | undefined,
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
    expAvg[i] = m;

    let v = 1;
    if (expAvgVar) {
      const r = h.belief ? R(g - m) : g;
      const s = R(R(R(expAvgVar[i]! * h.beta2) + R(R(h.oneMinusBeta2 * r) * r)) + h.epsS);
      expAvgVar[i] = s;
      v = s;
      if (amsgrad) {
        const smax = R(Math.max(maxExpAvgVar![i]!, s) + h.epsMax);
        maxExpAvgVar![i] = smax;
        v = h.denomFromMax ? smax : s;
      }
    }

    const root = R(Math.sqrt(v));
    const d = R((h.divideBc2 ? R(root / h.sqrtBc2) : root) + h.eps);
    const momentum = h.nesterov ? R(g + R(h.beta1 * m)) : m;
    const direction = adaptive ? R(m / d) : momentum;
    p[i] = moves ? R(pi + R(h.stepSize * direction)) : pi;
  }
}

/**
 * The CPU reference of any rule: f32 math (every operation rounded) for Float32Array parameters, f64 for
 * Float64Array. Lower precision (precision.ts; Float32Array only), as the kernel's packed entry points:
 * `dtype: 'f16'` entries hold f16 values (rounded at construction, gradients rounded on input); the update
 * runs on an f32 master copy (taken from the params at the first step after construction or an import
 * without `masterParams`) or, with `masterWeights: false`, on the f16 values; the result is rounded to f16
 * (nearest even). `stateDtype: 'bf16'`: the math is f32, m, s and smax are rounded to bf16 when stored.
 */
export class ReferenceCPU<T extends FloatArray, O extends object> extends CPUOptimizer<T, O> {
  private readonly round: Round;
  /** Per parameter: its f32 master copy (f16 with master weights, once taken), else undefined. */
  private masters: (Float32Array | undefined)[];

  constructor(
    name: string,
    rule: Rule<O>,
    params: CPUParamEntry<T>[],
    options: Partial<O> & PrecisionOptions,
  ) {
    super(name, rule, params, options, true);
    this.round = this.params[0] instanceof Float32Array ? Math.fround : identity;
    const lowp = this.precision.stateDtype === 'bf16' || this.dtypes.includes('f16');
    if (lowp && this.round !== Math.fround) {
      throw new TypeError(`${name}: f16 parameters and bf16 state need Float32Array parameters (f32 math)`);
    }
    this.params.forEach((p, i) => this.dtypes[i] === 'f16' && roundInPlace(p, roundF16));
    this.masters = this.params.map(() => undefined);
  }

  /** Whether parameter `i` keeps an f32 master copy. */
  private hasMaster(i: number): boolean {
    return this.dtypes[i] === 'f16' && this.precision.masterWeights;
  }

  /** Takes the master copies from the (f16) parameters again at the next step (the GPU's syncMasterWeights). */
  syncMasterWeights(): void {
    this.masters = this.params.map(() => undefined);
  }

  override exportState(): OptimizerState<O, T> & MasterWeightsState {
    const state: OptimizerState<O, T> & MasterWeightsState = super.exportState();
    if (this.masters.some((m) => m)) state.masterParams = this.masters.map((m) => m?.slice());
    return state;
  }

  override importState(state: OptimizerState<O, FloatArray> & MasterWeightsState): void {
    const masters = state.masterParams;
    if (masters !== undefined && (!Array.isArray(masters) || masters.length !== this.params.length)) {
      throw new RangeError(`importState: masterParams must have ${this.params.length} entries`);
    }
    super.importState(state);
    if (this.precision.stateDtype === 'bf16') {
      for (const st of this.tensors) for (const { slot } of this.slots) roundInPlace(st[slot]!, roundBf16);
    }
    this.masters = this.params.map((_, i) =>
      this.hasMaster(i) && masters?.[i] ? Float32Array.from(masters[i]!) : undefined,
    );
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
        `${this.constructor.name}: parameters (and gradients) must all be Float32Array (f32 math) or all Float64Array (f64 math)`,
      );
    }
  }

  protected stepTensor(h: StepScalars, p: T, grad: T, st: SlotState<T>, index: number): void {
    const master = this.hasMaster(index) ? (this.masters[index] ??= Float32Array.from(p)) : undefined;
    const target = master ?? p;
    adabeliefStep(
      roundScalars(h, this.round),
      target,
      grad,
      st.exp_avg!,
      st.exp_avg_var,
      st.max_exp_avg_var,
      this.round,
    );
    if (this.dtypes[index] === 'f16') {
      for (let i = 0; i < p.length; i++) p[i] = roundF16(target[i]!);
    }
    if (this.precision.stateDtype === 'bf16') {
      for (const { slot } of this.slots) roundInPlace(st[slot]!, roundBf16);
    }
  }
}

/* eslint-disable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars */
// Declaration merging: the option accessors (`cpu.lr = …`) defined by each class's static #accessors (T: as the classes').
export interface AdaBeliefCPU<T extends FloatArray = Float32Array> extends AdaBeliefAccessors {}
export interface AdamCPU<T extends FloatArray = Float32Array> extends AdamAccessors {}
export interface AdamWCPU<T extends FloatArray = Float32Array> extends AdamAccessors {}
export interface SGDCPU<T extends FloatArray = Float32Array> extends SGDAccessors {}

/** The AdaBelief CPU reference (see the file comment). */
export class AdaBeliefCPU<T extends FloatArray = Float32Array> extends ReferenceCPU<T, AdaBeliefOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdaBeliefCPU, adabeliefRule);

  constructor(params: CPUParamEntry<T>[], options: Partial<AdaBeliefOptions> & PrecisionOptions = {}) {
    super('AdaBeliefCPU', adabeliefRule, params, options);
  }

  override exportState(): AdaBeliefState<T> {
    return super.exportState() as AdaBeliefState<T>;
  }

  override importState(
    state: AdaBeliefState<FloatArray> | OptimizerState<AdaBeliefOptions, FloatArray>,
  ): void {
    super.importState(state as OptimizerState<AdaBeliefOptions, FloatArray>);
  }
}

/** torch.optim.Adam as the kernel runs it (the CPU mirror of `Adam`). */
export class AdamCPU<T extends FloatArray = Float32Array> extends ReferenceCPU<T, AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdamCPU, adamRuleTorch);

  constructor(params: CPUParamEntry<T>[], options: Partial<AdamOptions> & PrecisionOptions = {}) {
    super('AdamCPU', adamRuleTorch, params, options);
  }
}

/** torch.optim.AdamW as the kernel runs it (the CPU mirror of `AdamW`). */
export class AdamWCPU<T extends FloatArray = Float32Array> extends ReferenceCPU<T, AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdamWCPU, adamwRuleTorch);

  constructor(params: CPUParamEntry<T>[], options: Partial<AdamOptions> & PrecisionOptions = {}) {
    super('AdamWCPU', adamwRuleTorch, params, options);
  }
}

/** torch.optim.SGD as the kernel runs it (the CPU mirror of `SGD`). */
export class SGDCPU<T extends FloatArray = Float32Array> extends ReferenceCPU<T, SGDOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(SGDCPU, sgdRule);

  constructor(params: CPUParamEntry<T>[], options: Partial<SGDOptions> & PrecisionOptions = {}) {
    super('SGDCPU', sgdRule, params, options);
  }
}
/* eslint-enable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars */
