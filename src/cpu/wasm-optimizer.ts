/**
 * AdaBeliefWasmCPU (and AdamWasmCPU, AdamWWasmCPU, SGDWasmCPU): the fastest CPU optimizer of this library —
 * the fused step in WebAssembly with 128-bit SIMD (wasm/assembly/kernel.ts) on every core (wasm/engine.ts),
 * bit-exact with the f32 reference AdaBeliefCPU (reference.ts) on Float32Array parameters.
 *
 * Parameters, gradients and state live in one WebAssembly memory, allocated once at construction: the
 * constructor copies the given parameters in, and from then on `opt.params[i]` (updated in place by each
 * step) and `opt.grads[i]` are Float32Array views into that memory — the arrays given to the constructor are
 * not updated. Fill `opt.grads[i]` and call `step()` (no copy), or pass other Float32Arrays to
 * `step(grads)`: they are copied in first (8 more bytes moved per element, on the calling thread).
 *
 *   const opt = new AdaBeliefWasmCPU([p0, { param: p1, lr: 1e-2 }], { lr: 1e-3 });   // threads: all cores
 *   await opt.ready;                 // workers started (steps before it run on one thread)
 *   opt.grads[0].set(g0); opt.grads[1].set(g1);
 *   opt.step();                      // opt.params[0], opt.params[1] updated in place
 *   opt.destroy();                   // stops the workers (they never keep Node alive)
 *
 * Same options, per-parameter overrides, `set()`, `stepCount`, guard (`step(grads, guard)`), `exportState()`
 * and `importState()` (state shape of AdaBeliefCPU: checkpoints work) as the CPU references. The guard's
 * statistics (non-finite check, sum of squares) run in the kernel on every thread and its decision is the
 * references' code (core/guard.ts) on them: the skip decision is exact; the global norm's f64 sum runs in
 * another order than the reference's, so the f32 norm may differ from it by 1 ulp (docs/cpu.md derives the
 * bound); given the same norm (CPUGuard.gradNorm) the guarded step is bit-exact.
 */
import {
  CPUOptimizer,
  type CPUGuard,
  resolveCPUGuard,
  type CPUGuardResult,
  type CPUParamEntry,
  type SlotState,
} from './cpu-optimizer.js';
import { WasmEngine, type ThreadOptions } from './wasm/engine.js';
import { writeInvScale, writeStep, type GradFactors } from './wasm/layout.js';
import type { StepScalars } from '../core/step-scalars.js';
import type { AdaBeliefOptions } from '../core/options.js';
import { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule, type Rule } from '../core/rules.js';
import type { AdaBeliefState, FloatArray, OptimizerState } from '../core/state.js';
import type { AdamOptions, SGDOptions } from '../core/torch-options.js';
import { guardDecision } from '../core/guard.js';
import {
  defineOptionAccessors,
  type AdaBeliefAccessors,
  type AdamAccessors,
  type SGDAccessors,
} from '../core/option-accessors.js';

export type { ThreadOptions } from './wasm/engine.js';

/** Any rule in WebAssembly on all cores (see the file comment). */
export class WasmCPU<O extends object> extends CPUOptimizer<Float32Array, O> {
  /** Per parameter, the gradient the next `step()` reads: a view into the optimizer's memory to fill. */
  readonly grads: Float32Array[];
  private readonly engine: WasmEngine;
  private readonly records: DataView;
  private readonly views: SlotState<Float32Array>[];
  private factors: GradFactors | undefined;
  /** Why steps are refused: a kernel run failed part-way (a worker thread trapped), so the state is partly stepped. */
  private failure: Error | undefined;

  constructor(
    name: string,
    rule: Rule<O>,
    params: CPUParamEntry<Float32Array>[],
    options: Partial<O> & ThreadOptions,
  ) {
    const { threads, minElementsPerThread, tuneThreads, ...hyper } = options ?? {};
    super(name, rule, params, hyper as Partial<O>);
    const sizes = this.params.map((p) => p.length);
    const keeps = (slot: string) => this.slots.some((s) => s.slot === slot);
    this.engine = new WasmEngine(
      sizes,
      keeps('exp_avg_var'),
      keeps('max_exp_avg_var'),
      { threads, minElementsPerThread, tuneThreads },
      name,
    );
    const { regions, starts } = this.engine.plan;
    const at = (region: number, i: number) => this.engine.view(region + starts[i]! * 4, sizes[i]!);
    this.params.forEach((p, i) => {
      const view = at(regions.p, i);
      view.set(p);
      this.params[i] = view;
    });
    this.grads = sizes.map((_, i) => at(regions.g, i));
    const region = { exp_avg: regions.m, exp_avg_var: regions.s, max_exp_avg_var: regions.x };
    this.views = sizes.map((_, i) => {
      const st: SlotState<Float32Array> = {};
      for (const { slot } of this.slots) st[slot] = at(region[slot], i);
      return st;
    });
    this.tensors = this.views;
    this.records = new DataView(this.engine.memory.buffer);
  }

  /** Threads a large step runs on, the calling one included (1 when single-threaded). */
  get threads(): number {
    return this.engine.threads;
  }

  /** Why steps run on one thread (no SharedArrayBuffer, no workers, `threads: 1`, destroyed), else undefined. */
  get singleThreadReason(): string | undefined {
    return this.engine.currentReason;
  }

  /**
   * Threads the last step ran on: 1 below the size threshold, before `ready`, when single-threaded or when
   * tuneThreads found one thread faster; 0 before any step.
   */
  get lastStepThreads(): number {
    return this.engine.lastThreads;
  }

  /** Resolves when the workers have started; steps before it run on the calling thread alone. */
  get ready(): Promise<void> {
    return this.engine.ready;
  }

  /**
   * One step of every parameter. `grads` defaults to `this.grads` (filled by the caller: no copy); other
   * Float32Arrays are copied into them first. With `guard`, as the CPU references (see CPUGuard): loss scale,
   * skip on inf/NaN, clipping; a skipped step changes nothing, not even the step count.
   */
  override step(grads: Float32Array[] = this.grads, guard?: CPUGuard): CPUGuardResult | undefined {
    if (this.failure) {
      throw new Error(
        `${this.name}.step: the optimizer is unusable after an earlier error: ${this.failure.message}`,
      );
    }
    if (!Array.isArray(grads) || grads.length !== this.params.length) {
      throw new RangeError(
        `${this.name}.step: expected ${this.params.length} gradients, got ${Array.isArray(grads) ? grads.length : String(grads)}`,
      );
    }
    grads.forEach((g, i) => {
      if (!(g instanceof Float32Array))
        throw new TypeError(`${this.name}: grads[${i}] must be a Float32Array`);
      if (g.length !== this.params[i]!.length) {
        throw new RangeError(
          `${this.name}.step: grads[${i}] has ${g.length} elements, params[${i}] has ${this.params[i]!.length}`,
        );
      }
    });
    const checked = guard === undefined ? undefined : resolveCPUGuard(guard, `${this.name}.step`);
    grads.forEach((g, i) => g !== this.grads[i] && this.grads[i]!.set(g));
    let decision: CPUGuardResult | undefined;
    this.factors = undefined;
    if (checked) {
      const { gradScale, maxGradNorm, skipNonFinite } = checked;
      // The statistics in the kernel on every thread; the decision from them by the references' own code.
      writeInvScale(this.records, this.engine.plan, Math.fround(1 / gradScale));
      const { sum, found } = this.run(() => this.engine.stats(), false);
      const gradNorm = checked.gradNorm ?? Math.fround(Math.sqrt(sum));
      const d = guardDecision([], { scale: gradScale, maxNorm: maxGradNorm, skipNonFinite, gradNorm });
      decision = { skipped: skipNonFinite && found, foundNonFinite: found, gradNorm, clipCoef: d.clipCoef };
      if (decision.skipped) return decision;
      this.factors = { invScale: d.invScale, clipCoef: d.clipCoef };
    }
    // The base class advances the step count and hands each parameter's scalars to stepTensor, which packs
    // them into the tensor's record; then one kernel run steps every tensor on every thread.
    super.step(this.grads);
    this.run(() => this.engine.step());
    return decision;
  }

  /**
   * Runs a kernel job. If it fails part-way (a worker thread trapped: later jobs run on this thread), throws
   * the error, named; after a failed step (`changes`), whose state is then partly stepped, later steps are
   * refused until importState() replaces the state.
   */
  private run<T>(job: () => T, changes = true): T {
    try {
      return job();
    } catch (e) {
      const failure = new Error(
        `${this.name}.step: ${(e as Error).message}; ` +
          (changes
            ? 'the parameters and the state are partly stepped (exportState() reads the state as it is; to go on, ' +
              'set saved parameters into opt.params and importState() a saved state)'
            : 'nothing was changed'),
        { cause: e },
      );
      if (changes) this.failure = failure;
      throw failure;
    }
  }

  override importState(state: OptimizerState<O, FloatArray>): void {
    super.importState(state); // validated; the state arrives in new arrays: copy it into the memory
    this.failure = undefined; // a whole new state: steps may run again
    const fresh = this.tensors;
    this.tensors = this.views;
    fresh.forEach((st, i) => {
      for (const { slot } of this.slots) this.views[i]![slot]!.set(st[slot]!);
    });
  }

  /** Stops the worker threads; later steps run on the calling thread. */
  destroy(): void {
    this.engine.destroy();
  }

  protected checkArrays(arrays: Float32Array[], what: string): void {
    arrays.forEach((a, i) => {
      if (!(a instanceof Float32Array))
        throw new TypeError(`${this.name}: ${what}[${i}] must be a Float32Array`);
    });
  }

  protected stepTensor(
    h: StepScalars,
    _p: Float32Array,
    _g: Float32Array,
    _st: unknown,
    index: number,
  ): void {
    writeStep(this.records, this.engine.plan, index, h, this.factors);
  }
}

/* eslint-disable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging */
// Declaration merging: the option accessors (`opt.lr = …`) defined by each class's static #accessors.
export interface AdaBeliefWasmCPU extends AdaBeliefAccessors {}
export interface AdamWasmCPU extends AdamAccessors {}
export interface AdamWWasmCPU extends AdamAccessors {}
export interface SGDWasmCPU extends SGDAccessors {}

/** AdaBelief in WebAssembly SIMD on all cores (see the file comment). */
export class AdaBeliefWasmCPU extends WasmCPU<AdaBeliefOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdaBeliefWasmCPU, adabeliefRule);

  constructor(
    params: CPUParamEntry<Float32Array>[],
    options: Partial<AdaBeliefOptions> & ThreadOptions = {},
  ) {
    super('AdaBeliefWasmCPU', adabeliefRule, params, options);
  }

  override exportState(): AdaBeliefState {
    return super.exportState() as AdaBeliefState;
  }

  override importState(
    state: AdaBeliefState<FloatArray> | OptimizerState<AdaBeliefOptions, FloatArray>,
  ): void {
    super.importState(state as OptimizerState<AdaBeliefOptions, FloatArray>);
  }
}

/** torch.optim.Adam in WebAssembly SIMD on all cores, bit-exact with AdamCPU. */
export class AdamWasmCPU extends WasmCPU<AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdamWasmCPU, adamRuleTorch);

  constructor(params: CPUParamEntry<Float32Array>[], options: Partial<AdamOptions> & ThreadOptions = {}) {
    super('AdamWasmCPU', adamRuleTorch, params, options);
  }
}

/** torch.optim.AdamW in WebAssembly SIMD on all cores, bit-exact with AdamWCPU. */
export class AdamWWasmCPU extends WasmCPU<AdamOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(AdamWWasmCPU, adamwRuleTorch);

  constructor(params: CPUParamEntry<Float32Array>[], options: Partial<AdamOptions> & ThreadOptions = {}) {
    super('AdamWWasmCPU', adamwRuleTorch, params, options);
  }
}

/** torch.optim.SGD in WebAssembly SIMD on all cores, bit-exact with SGDCPU. */
export class SGDWasmCPU extends WasmCPU<SGDOptions> {
  // eslint-disable-next-line no-unused-private-class-members -- it defines the option accessors
  static readonly #accessors = /* @__PURE__ */ defineOptionAccessors(SGDWasmCPU, sgdRule);

  constructor(params: CPUParamEntry<Float32Array>[], options: Partial<SGDOptions> & ThreadOptions = {}) {
    super('SGDWasmCPU', sgdRule, params, options);
  }
}
/* eslint-enable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging */
