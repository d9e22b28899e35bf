/**
 * What the CPU optimizers share (AdaBeliefCPU and its variants, AdaBeliefFastCPU): parameters given as
 * typed arrays with optional per-parameter overrides, one state per parameter in the shape of the GPU
 * optimizer's `exportState()`, the step counter, and input checks. Subclasses supply the element loop
 * (`stepTensor`); the rule (rules.ts) supplies options, validation, scalars and state names.
 */
import type { StepScalars } from '../core/step-scalars.js';
import { mergeFixed, type Overrides, type Rule, type Slot } from '../core/rules.js';
import { checkImportedState, type FloatArray, type OptimizerState } from '../core/state.js';
import { checkGradScale, checkMaxGradNorm, guardDecision } from '../core/guard.js';
import { checkFlag, definedOptions, describeValue, rejectUnknownKeys } from '../core/options.js';
import { checkNoOverlap } from './overlap.js';
import {
  checkDtype,
  resolvePrecision,
  roundF16,
  type ParamDtype,
  type Precision,
  type PrecisionOptions,
} from '../core/precision.js';

/** The guard of one CPU step, as the GPU optimizer's guard options (see guard.ts). */
export interface CPUGuard {
  /** Gradients are multiplied by f32(1 / gradScale). Default 1. */
  gradScale?: number;
  /** Clip to this global L2 norm. Default Infinity (none). */
  maxGradNorm?: number;
  /** Skip the step on any inf/NaN gradient. Default: true when gradScale is given. */
  skipNonFinite?: boolean;
  /** Use this norm instead of computing it (e.g. the GPU's, to compare the clipped update exactly). */
  gradNorm?: number;
}

/** `guard` checked — an object of CPUGuard's keys with valid values — and its defaults filled in. */
export function resolveCPUGuard(
  guard: unknown,
  where: string,
): { gradScale: number; maxGradNorm: number; skipNonFinite: boolean; gradNorm: number | undefined } {
  const given = definedOptions<CPUGuard>(guard, `${where}: the guard`);
  rejectUnknownKeys(given, ['gradScale', 'maxGradNorm', 'skipNonFinite', 'gradNorm'], `${where} guard`);
  const { gradScale = 1, maxGradNorm = Infinity, skipNonFinite = given.gradScale !== undefined } = given;
  checkGradScale(gradScale);
  checkMaxGradNorm(maxGradNorm);
  checkFlag('skipNonFinite', skipNonFinite);
  if (given.gradNorm !== undefined && typeof given.gradNorm !== 'number') {
    throw new TypeError(`${where}: gradNorm must be a number, got ${describeValue(given.gradNorm)}`);
  }
  return { gradScale, maxGradNorm, skipNonFinite, gradNorm: given.gradNorm };
}

/** What a guarded CPU step decided. */
export interface CPUGuardResult {
  skipped: boolean;
  foundNonFinite: boolean;
  gradNorm: number;
  clipCoef: number;
}

export type { FloatArray } from '../core/state.js';

/**
 * A CPU parameter: the array itself, or the array with per-parameter overrides and (CPU reference only)
 * `dtype: 'f16'`: the array then holds f16 values (rounded to them at construction and after every step).
 */
export type CPUParamEntry<T extends FloatArray> = T | ({ param: T; dtype?: ParamDtype } & Overrides);

/** One parameter's state, by kernel slot (exp_avg, exp_avg_var, max_exp_avg_var): those the rule keeps. */
export type SlotState<T extends FloatArray> = Partial<Record<Slot, T>>;

export abstract class CPUOptimizer<T extends FloatArray, O extends object> {
  /** The parameters, updated in place by `step()`. */
  readonly params: T[] = [];
  private readonly overrides: Overrides[] = [];
  /** Each parameter's element type ('f16' only where the subclass supports lower precision). */
  protected readonly dtypes: ParamDtype[] = [];
  /** The optimizer-wide precision options (defaults unless the subclass supports lower precision). */
  protected readonly precision: Precision;
  protected readonly slots: { slot: Slot; name: string }[];
  private opts: O;
  protected tensors: SlotState<T>[];
  private t = 0;

  /** `lowPrecision`: whether this optimizer takes `dtype: 'f16'` entries and `stateDtype` / `masterWeights`. */
  constructor(
    /** The class's name, for messages ('AdaBeliefCPU'). */
    protected readonly name: string,
    protected readonly rule: Rule<O>,
    params: CPUParamEntry<T>[],
    options: Partial<O> & PrecisionOptions,
    lowPrecision = false,
  ) {
    const { stateDtype, masterWeights, ...hyper } = options ?? {};
    if (!lowPrecision && (stateDtype !== undefined || masterWeights !== undefined)) {
      throw new TypeError(`${name} has no lower-precision modes: use the CPU reference (e.g. AdaBeliefCPU)`);
    }
    this.precision = resolvePrecision({ stateDtype, masterWeights });
    this.opts = rule.resolve(hyper as Partial<O>);
    this.slots = rule.slots(this.opts);
    if (!Array.isArray(params))
      throw new TypeError(
        `${name}: expected an array of parameters (typed arrays or { param, … } entries), got ${describeValue(params)}`,
      );
    if (params.length === 0) throw new RangeError(`${name}: the parameter list is empty`);
    params.forEach((entry, i) => {
      const { param, dtype, ...overrides } = (ArrayBuffer.isView(entry) ? { param: entry } : entry) as {
        param: T;
        dtype?: unknown;
      } & Overrides;
      const checked = checkDtype(dtype, `params[${i}]`);
      if (checked === 'f16' && !lowPrecision) {
        throw new TypeError(
          `params[${i}]: ${name} has no f16 parameters: use the CPU reference (e.g. AdaBeliefCPU)`,
        );
      }
      rule.validateOverrides(overrides, `params[${i}]`);
      this.params.push(param);
      this.dtypes.push(checked);
      this.overrides.push(overrides);
    });
    this.checkArrays(this.params, 'params');
    // The same array twice, or overlapping views of one ArrayBuffer, would be stepped twice per step.
    checkNoOverlap(
      name,
      this.params.map((view, i) => ({ what: `params[${i}]`, role: 'param', view })),
    );
    this.tensors = this.params.map((p) =>
      this.newState(() => new (p.constructor as new (n: number) => T)(p.length)),
    );
  }

  /** Throws unless `arrays` are of the kind this optimizer computes with. */
  protected abstract checkArrays(arrays: T[], what: string): void;

  /** One step of parameter `index`, `p`, and its state with the step's scalars `h` (unrounded f64 values). */
  protected abstract stepTensor(h: StepScalars, p: T, grad: T, state: SlotState<T>, index: number): void;

  /** Number of steps taken. */
  get stepCount(): number {
    return this.t;
  }

  /** The rule's defaults. */
  get defaults(): Readonly<O> {
    return this.rule.defaults;
  }

  /** A copy of the optimizer-wide options. */
  get options(): O {
    return this.rule.resolve(this.opts);
  }

  /** Changes optimizer-wide options between steps (validated; `amsgrad` is fixed at construction). */
  set(changes: Partial<O>): void {
    this.opts = mergeFixed(this.rule, this.opts, changes);
  }

  /** The scalars of step `t` for parameter `i` (its overrides applied). */
  scalarsFor(i: number, t: number): StepScalars {
    return this.rule.scalars({ ...this.opts, ...this.overrides[i] }, t);
  }

  /**
   * One step: `grads[i]` has the length of `params[i]`. Parameters and state are updated in place. With
   * `guard`, the step mirrors the GPU optimizer's guard passes (loss scale, skip on inf/NaN, clipping) and
   * returns what it decided; a skipped step changes nothing, not even the step count.
   */
  step(grads: T[], guard?: CPUGuard): CPUGuardResult | undefined {
    if (!Array.isArray(grads) || grads.length !== this.params.length) {
      throw new RangeError(
        `${this.name}.step: expected ${this.params.length} gradients, got ${Array.isArray(grads) ? grads.length : String(grads)}`,
      );
    }
    this.checkArrays(grads, 'grads');
    grads.forEach((g, i) => {
      if (g.length !== this.params[i]!.length) {
        throw new RangeError(
          `${this.name}.step: grads[${i}] has ${g.length} elements, params[${i}] has ${this.params[i]!.length}`,
        );
      }
    });
    // A gradient sharing memory with a parameter would change while the step writes that parameter.
    checkNoOverlap(`${this.name}.step`, [
      ...this.params.map((view, i) => ({ what: `params[${i}]`, role: 'param' as const, view })),
      ...grads.map((view, i) => ({ what: `grads[${i}]`, role: 'grad' as const, view })),
    ]);
    // f16 gradients: the values an f16 buffer would hold (the guard and the update see those).
    grads = grads.map((g, i) => (this.dtypes[i] === 'f16' ? (g.map(roundF16) as T) : g));
    let decision: CPUGuardResult | undefined;
    if (guard !== undefined) {
      const { gradScale, maxGradNorm, skipNonFinite, gradNorm } = resolveCPUGuard(guard, `${this.name}.step`);
      const d = guardDecision(grads, { scale: gradScale, maxNorm: maxGradNorm, skipNonFinite, gradNorm });
      decision = {
        skipped: d.skipped,
        foundNonFinite: d.foundNonFinite,
        gradNorm: d.gradNorm,
        clipCoef: d.clipCoef,
      };
      if (d.skipped) return decision;
      // (g * invScale) * clipCoef, rounded per operation in the working precision, as the kernel does.
      const R = this.params[0] instanceof Float32Array ? Math.fround : (x: number) => x;
      grads = grads.map((g) => g.map((x) => R(R(x * d.invScale) * d.clipCoef)) as T);
    }
    const t = this.t + 1;
    this.params.forEach((p, i) => this.stepTensor(this.scalarsFor(i, t), p, grads[i]!, this.tensors[i]!, i));
    this.t = t;
    return decision;
  }

  /** A copy of the optimizer state, in the shape of the GPU optimizer's `exportState()`. */
  exportState(): OptimizerState<O, T> {
    return {
      step: this.t,
      options: this.options,
      tensors: this.tensors.map((st) => {
        const out: Record<string, T> = {};
        for (const { slot, name } of this.slots) out[name] = st[slot]!.slice() as T;
        return out;
      }),
    };
  }

  /** Replaces step count, options and state with `state` (validated first; nothing changes on error). */
  importState(state: OptimizerState<O, FloatArray>): void {
    const sizes = this.params.map((p) => p.length);
    const options = checkImportedState(this.rule, state, this.opts, sizes);
    const Ctor = this.params[0]!.constructor as new (a: ArrayLike<number>) => T;
    const names = new Map(this.slots.map((s) => [s.slot, s.name]));
    this.tensors = state.tensors.map((st) => this.newState((slot) => new Ctor(st[names.get(slot)!]!)));
    this.opts = options;
    this.t = state.step;
  }

  /** A state record with `make(slot)` for every slot this optimizer keeps. */
  private newState(make: (slot: Slot) => T): SlotState<T> {
    const st: SlotState<T> = {};
    for (const { slot } of this.slots) st[slot] = make(slot);
    return st;
  }
}
