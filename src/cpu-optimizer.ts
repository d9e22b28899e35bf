/**
 * What the CPU optimizers share (AdaBeliefCPU, AdaBeliefFastCPU): parameters given as typed arrays with
 * optional per-parameter overrides, one state per parameter in the shape of `AdaBelief.exportState()`,
 * the step counter, and input checks. Subclasses supply the element loop (`stepTensor`).
 */
import { stepScalars, type StepScalars } from './hyper.js';
import {
  mergeOptions,
  resolveOptions,
  validateHyper,
  validateOverrides,
  type AdaBeliefOptions,
  type GroupOverrides,
} from './options.js';
import { checkImportedState, type AdaBeliefState, type TensorState } from './state.js';

export type FloatArray = Float32Array | Float64Array;

/** A CPU parameter: the array itself, or the array with per-parameter overrides. */
export type CPUParamEntry<T extends FloatArray> = T | ({ param: T } & GroupOverrides);

export abstract class CPUOptimizer<T extends FloatArray> {
  /** The parameters, updated in place by `step()`. */
  readonly params: T[] = [];
  /** Optimizer-wide options (every field may be changed between steps with `set`, except `amsgrad`). */
  readonly options: AdaBeliefOptions;
  private readonly overrides: GroupOverrides[] = [];
  private tensors: TensorState<T>[];
  private t = 0;

  constructor(
    private readonly name: string,
    params: CPUParamEntry<T>[],
    options: Partial<AdaBeliefOptions>,
  ) {
    this.options = resolveOptions(options);
    if (params.length === 0) throw new RangeError(`${name}: the parameter list is empty`);
    params.forEach((entry, i) => {
      const { param, ...overrides } = (ArrayBuffer.isView(entry) ? { param: entry } : entry) as {
        param: T;
      } & GroupOverrides;
      validateOverrides(overrides, `params[${i}]`);
      this.params.push(param);
      this.overrides.push(overrides);
    });
    this.checkArrays(this.params, 'params');
    this.tensors = this.params.map((p) =>
      this.newState(() => new (p.constructor as new (n: number) => T)(p.length)),
    );
  }

  /** Throws unless `arrays` are of the kind this optimizer computes with. */
  protected abstract checkArrays(arrays: T[], what: string): void;

  /** One step of parameter `p` and its state with the step's scalars `h` (unrounded f64 values). */
  protected abstract stepTensor(h: StepScalars, p: T, grad: T, state: TensorState<T>): void;

  /** Number of steps taken. */
  get stepCount(): number {
    return this.t;
  }

  /** Changes optimizer-wide options between steps (validated; `amsgrad` is fixed at construction). */
  set(changes: Partial<Omit<AdaBeliefOptions, 'amsgrad'>>): void {
    Object.assign(this.options, mergeOptions(this.options, changes));
  }

  /** The scalars of step `t` for parameter `i` (its overrides applied). */
  scalarsFor(i: number, t: number): StepScalars {
    return stepScalars({ ...this.options, ...this.overrides[i] }, t);
  }

  /** One step: `grads[i]` has the length of `params[i]`. Parameters and state are updated in place. */
  step(grads: T[]): void {
    if (grads.length !== this.params.length) {
      throw new RangeError(
        `${this.name}.step: expected ${this.params.length} gradients, got ${grads.length}`,
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
    validateHyper(this.options);
    const t = this.t + 1;
    this.params.forEach((p, i) => this.stepTensor(this.scalarsFor(i, t), p, grads[i]!, this.tensors[i]!));
    this.t = t;
  }

  /** A copy of the optimizer state, in the shape of `AdaBelief.exportState()`. */
  exportState(): AdaBeliefState<T> {
    return {
      step: this.t,
      options: { ...this.options, betas: [...this.options.betas] },
      tensors: this.tensors.map((st) => this.newState((name) => st[name]!.slice() as T)),
    };
  }

  /** Replaces step count, options and state with `state` (validated first; nothing changes on error). */
  importState(state: AdaBeliefState<FloatArray>): void {
    const sizes = this.params.map((p) => p.length);
    const options = checkImportedState(state, this.options.amsgrad, sizes);
    const Ctor = this.params[0]!.constructor as new (a: ArrayLike<number>) => T;
    this.tensors = state.tensors.map((st) => this.newState((name) => new Ctor(st[name]!)));
    Object.assign(this.options, options);
    this.t = state.step;
  }

  /** A state record with `make(name)` for every buffer this optimizer keeps. */
  private newState(make: (name: keyof TensorState) => T): TensorState<T> {
    const st: TensorState<T> = { exp_avg: make('exp_avg'), exp_avg_var: make('exp_avg_var') };
    if (this.options.amsgrad) st.max_exp_avg_var = make('max_exp_avg_var');
    return st;
  }
}
