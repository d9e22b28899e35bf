/**
 * The fused optimizer on WebGPU, generic over the update rule (rules.ts): one compute pass updates every
 * parameter (and its state) in place. `AdaBelief` (adabelief.ts), `Adam`, `AdamW` and `SGD` (variants.ts)
 * are this class with a rule.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // one compute pass, one submit; never reads back
 *
 * This file is the public surface and its wiring; each idea lives in its own file:
 *   construction.ts    every check before the first GPU object (options, entries, dispatch, guard)
 *   step-record.ts     the step record on the GPU: the step count (the only one, advanced by the kernel when a
 *                      step is applied) and the scalars of every step count a step may run at (core/step-count.ts:
 *                      the range of counts the host allows for)
 *   step-recorder.ts   one step's compute pass;  guard.ts: the guard (optimizers with guard options only)
 *   failure.ts         destroyed / failed / lost device, and how errors reach a caller who never awaits
 *   state-transfer.ts  exportState() / importState()
 *
 * Rules every call keeps: bad input throws synchronously before any GPU work and changes nothing; WebGPU
 * errors of our own calls reject the returned promise (handled internally: an unawaited one cannot crash the
 * process) and make the optimizer refuse further calls, the next call throwing the cause.
 */
import {
  UNUSED_STATE_BYTES,
  recordDispatches,
  writeTables,
  type Dispatch,
  type Tables,
} from './dispatches.js';
import { layoutMismatch, planLayout, workgroupsFor, type Layout } from './layout.js';
import { definedOverrides, mergeFixed, type Overrides, type Rule } from '../core/rules.js';
import type { GuardReport } from '../core/guard.js';
import { describeValue } from '../core/options.js';
import { Guard } from './guard.js';
import { StateStore } from './state-store.js';
import type { FloatArray, OptimizerState } from '../core/state.js';
import { checkRebind, type ParamEntry, type Tensor } from './entries.js';
import { Usage, inErrorScopes, type BufferLike } from './device.js';
import { kernelPipelines, packedPipelines, type KernelPipelines, type PackedPipelines } from './pipelines.js';
import type { MasterWeightsState, StateDtype } from '../core/precision.js';
import { checkConstruction, type GPUExtras } from './construction.js';
import { advanceDispatch, recordStep } from './step-recorder.js';
import { MissingScalarsError, StepRecord } from './step-record.js';
import type { StepsReadback } from './records.js';
import { Health, settle } from './failure.js';
import { checkState, copyState, readState, type StateHolder } from './state-transfer.js';

export type { DispatchOptions, GPUExtras } from './construction.js';

export class FusedOptimizer<O extends object> {
  readonly device: GPUDevice;
  /** Resolves when construction passed the GPU's own checks; rejects (and the optimizer refuses to run) otherwise. */
  readonly ready: Promise<void>;
  readonly label: string;
  private readonly rule: Rule<O>;
  private opts: O;
  private tensors: Tensor[];
  private layout: Layout;
  private readonly health: Health;
  private readonly steps: StepRecord;
  private readonly store: StateStore;
  /** The guard: only with guard options (it decides each step); else `advance` does. */
  private readonly guard: Guard | undefined;
  private readonly advance: Dispatch | undefined;
  /** A readback of the step record started to narrow the count's range (one at a time), else undefined. */
  private narrowing: Promise<void> | undefined;
  private readonly ownedBuffers: GPUBuffer[] = [];
  /** What recording bind groups needs (fixed at construction). */
  private readonly bindings: {
    kernel: KernelPipelines | undefined;
    packedKernels: Partial<Record<2 | 4, PackedPipelines>>;
    tables: Tables;
    unused: GPUBuffer;
    grid: (vec4s: number) => number;
  };
  private dispatches: Dispatch[];
  /** Master-weight initialisation dispatches, run before the next step's update while `masterPending`. */
  private inits: Dispatch[];
  private masterPending: boolean;

  protected constructor(
    rule: Rule<O>,
    device: GPUDevice,
    params: ParamEntry[],
    options?: Partial<O> & GPUExtras,
  ) {
    const c = checkConstruction(rule, device, params, options);
    const { label, precision, packed, workgroupSize, maxWorkgroups } = c;
    this.rule = rule;
    this.device = device;
    this.label = label;
    this.opts = c.opts;
    this.tensors = c.tensors;
    this.health = new Health(device, rule.name);
    this.store = new StateStore(rule.slots(this.opts), precision, packed);
    this.layout = this.plan(this.tensors);
    const grid = (vec4s: number) => workgroupsFor(vec4s, workgroupSize, maxWorkgroups);

    // Everything below talks to the GPU; its errors arrive asynchronously through `ready`. A synchronous
    // throw (a bug, or a device refusing outright) releases what was created so far.
    const checks: Promise<void>[] = [];
    const created = (() => {
      try {
        return inErrorScopes(device, `${label}: allocating optimizer state`, () => {
          const amsgrad = rule.amsgrad(this.opts);
          const guarded = c.guard.enabled;
          const kernel = packed
            ? undefined
            : kernelPipelines(device, workgroupSize, amsgrad, rule.variance, guarded);
          this.store.allocate(this.layout, label, (d) => this.own(d));
          const packedKernels: Partial<Record<2 | 4, PackedPipelines>> = {};
          if (packed) {
            for (const w of this.layout.windows) {
              const f16 = w.elementBytes === 2;
              packedKernels[w.elementBytes] ??= packedPipelines(device, {
                workgroupSize,
                amsgrad,
                variance: rule.variance,
                paramF16: f16,
                stateBf16: precision.stateDtype === 'bf16',
                master: f16 && precision.masterWeights,
                guarded,
              });
            }
          }
          const tables = writeTables(this.layout, label, (desc) => this.own(desc));
          const unused = this.own({
            label: `${label}/unused-state`,
            size: UNUSED_STATE_BYTES,
            usage: Usage.STORAGE,
          });
          const steps = new StepRecord(device, label, this.tensors, Guard.inputs(c.guard), (d) =>
            this.own(d),
          );
          return { kernel, packedKernels, tables, unused, steps };
        });
      } catch (e) {
        this.releaseBuffers();
        throw e;
      }
    })();
    checks.push(created.errors);
    const { kernel, packedKernels, tables, unused, steps } = created.value;
    this.steps = steps;
    this.bindings = { kernel, packedKernels, tables, unused, grid };
    if (c.guard.enabled) {
      this.guard = new Guard(device, label, c.guard, steps, (d) => this.own(d));
      checks.push(...this.guard.record(this.layout, this.tensors, tables, grid));
    } else {
      const advance = advanceDispatch(device, label, steps.buffer);
      this.advance = advance.value;
      checks.push(advance.errors);
    }

    const bound = this.record(this.tensors, this.layout);
    this.dispatches = bound.dispatches;
    this.inits = bound.inits;
    this.masterPending = this.inits.length > 0;
    checks.push(...bound.checks);

    this.ready = settle(
      Promise.all(checks).then(
        () => undefined,
        (e: Error) => {
          this.health.fail(e);
          throw e;
        },
      ),
    );
  }

  /** The rule's defaults (for messages). */
  get defaults(): Readonly<O> {
    return this.rule.defaults;
  }

  /** The layout of `tensors` on this device (buffers numbered in order of first use). */
  private plan(tensors: Tensor[]): Layout {
    const ids = new Map<GPUBuffer, number>();
    const place = (r: Tensor['param']) => {
      if (!ids.has(r.buffer)) ids.set(r.buffer, ids.size);
      return { buffer: ids.get(r.buffer)!, offset: r.offset, bufferSize: r.buffer.size };
    };
    return planLayout(
      tensors.map((t) => ({
        size: t.size,
        param: place(t.param),
        grad: place(t.grad),
        elementBytes: t.elementBytes,
        packed: this.store.packed,
        stateGroupBytes: this.store.packed ? this.store.groupBytes(t.elementBytes === 2) : 16,
      })),
      this.device.limits,
    );
  }

  private record(tensors: Tensor[], layout: Layout): ReturnType<typeof recordDispatches> {
    const b = this.bindings;
    return recordDispatches({
      device: this.device,
      label: this.label,
      layout,
      tensors,
      kernel: b.kernel,
      state: this.store.bySlot,
      steps: this.steps.buffer,
      tables: b.tables,
      grid: b.grid,
      unused: b.unused,
      packed: this.store.packed
        ? { state: this.store.packedBuffers, pipelines: (w) => b.packedKernels[w.elementBytes]! }
        : undefined,
    });
  }

  /**
   * Points the optimizer at other param / grad buffers (same sizes, same order), keeping its state: for
   * stacks whose tensors move between buffers from step to step (TF.js' gradients are new tensors every
   * step). Regions are checked like the constructor's entries; the new buffers must group the tensors the
   * same way (each window keeps its pieces and relative offsets: the table and state layout are reused), or it
   * throws and nothing changes. Buffers that did not change cost nothing; otherwise the bind groups are
   * recorded again (no buffer is created). Bind-group errors (e.g. a buffer of another device) reject the
   * returned promise and make the optimizer refuse further steps.
   */
  rebind(buffers: readonly { param: BufferLike; grad: BufferLike }[]): Promise<void> {
    this.health.check('rebind');
    const tensors = checkRebind(this.rule.name, this.tensors, buffers, this.rule.validateOverrides);
    if (!tensors) return Promise.resolve();
    const layout = this.plan(tensors);
    const mismatch = layoutMismatch(this.layout, layout);
    if (mismatch) {
      throw new RangeError(
        `${this.rule.name}.rebind: the new buffers group the tensors differently (${mismatch}); create a new optimizer and importState() this one's exported state`,
      );
    }
    const bound = this.record(tensors, layout);
    const guardChecks = this.guard?.record(layout, tensors, this.bindings.tables, this.bindings.grid) ?? [];
    this.tensors = tensors;
    this.layout = layout;
    this.dispatches = bound.dispatches;
    this.inits = bound.inits;
    return this.health.watch(
      Promise.all([...bound.checks, ...guardChecks]).then(() => undefined),
      'rebind',
    );
  }

  private own(desc: GPUBufferDescriptor): GPUBuffer {
    const b = this.device.createBuffer(desc);
    this.ownedBuffers.push(b);
    return b;
  }

  private releaseBuffers(): void {
    for (const b of this.ownedBuffers) b.destroy();
    this.ownedBuffers.length = 0;
  }

  /**
   * The step count the host expects: the GPU's count as last read plus every step issued since, each assumed
   * to run and be applied. The count itself lives on the GPU, beside the state, advanced by the step kernel when
   * a step is applied; this is it exactly when every step issued has run and none was skipped (no guard, every
   * encode()d step submitted). `await readStepCount()` reads the GPU's own count; `exportState()` returns it with
   * the state it counts.
   */
  get stepCount(): number {
    return this.steps.window.hi;
  }

  /**
   * The GPU's step count after all work queued so far (one small readback): exact, and `stepCount` is then
   * narrowed to it (plus the steps not known to have run, e.g. encode()d into an encoder not yet submitted).
   */
  readStepCount(): Promise<number> {
    try {
      this.health.checkReadable('readStepCount');
    } catch (e) {
      return settle(Promise.reject(e as Error));
    }
    return settle(this.readSteps('readStepCount').then((r) => r.count));
  }

  /** Reads the step record (after all work queued so far); a failure is explained, a missing entry fails the optimizer. */
  private readSteps(
    what: string,
    regions: { buffer: GPUBuffer; offset: number; bytes: number }[] = [],
  ): Promise<StepsReadback & { bytes: ArrayBuffer[] }> {
    return this.steps.readWith(regions, `${this.label}/${what}`, `${this.rule.name}.${what}`).then(
      ({ steps, bytes }) => ({ ...steps, bytes }),
      async (e: unknown) => {
        if (e instanceof MissingScalarsError) this.health.fail(e);
        throw await this.health.explain(e, what);
      },
    );
  }

  /** The loss scale gradients are divided by (a number, or the caller's GPUBuffer). Settable when a number. */
  get gradScale(): number | GPUBuffer {
    return this.guard?.gradScale ?? 1;
  }

  set gradScale(scale: number) {
    this.health.check('gradScale');
    this.requireGuard('gradScale').gradScale = scale;
  }

  /** The global gradient norm gradients are clipped to (Infinity: none). Settable with the guard on. */
  get maxGradNorm(): number {
    return this.guard?.maxGradNorm ?? Infinity;
  }

  set maxGradNorm(max: number) {
    this.health.check('maxGradNorm');
    this.requireGuard('maxGradNorm').maxGradNorm = max;
  }

  /** Whether a step with an inf or NaN gradient is skipped. Fixed at construction (see `fixedAtConstruction`). */
  get skipNonFinite(): boolean {
    return this.guard?.skipNonFinite ?? false;
  }

  set skipNonFinite(_: boolean) {
    this.fixedAtConstruction('skipNonFinite', 'whether the guard passes run');
  }

  /** The guard, or throws naming `what` (an optimizer without guard options has none). */
  private requireGuard(what: string): Guard {
    if (!this.guard) {
      throw new Error(
        `${this.rule.name}.${what}: construct the optimizer with gradScale, skipNonFinite or maxGradNorm to run the guard passes`,
      );
    }
    return this.guard;
  }

  /** How the moments are stored ('f32' or 'bf16'). Fixed at construction. */
  get stateDtype(): StateDtype {
    return this.store.precision.stateDtype;
  }

  set stateDtype(_: StateDtype) {
    this.fixedAtConstruction('stateDtype', 'the state buffers and the kernel');
  }

  /** Whether f16 parameters are updated through f32 master copies. Fixed at construction. */
  get masterWeights(): boolean {
    return this.store.precision.masterWeights;
  }

  set masterWeights(_: boolean) {
    this.fixedAtConstruction('masterWeights', 'the state buffers and the kernel');
  }

  /** Throws: `key`, a construction option that decides `what`, cannot change (a clear error, not a new property). */
  private fixedAtConstruction(key: string, what: string): never {
    throw new TypeError(
      `${this.rule.name}.${key} is fixed at construction (it decides ${what}): create a new optimizer with it ` +
        `and importState() this one's exportState()`,
    );
  }

  /**
   * Compute dispatches one step records (in one pass): its decision (`advance`, or the guard's passes) and the
   * update — one per window, one per tail piece (docs/architecture.md), master-weight initialisation aside.
   */
  get dispatchCount(): number {
    return (this.guard?.dispatchCount ?? 1) + this.dispatches.length;
  }

  /**
   * The step record (abi.ts STEPS, shaders/common.wgsl `Steps`), for callers that want the step count or the
   * latest step's decision on the GPU: the count (`count_lo`, `count_hi`), `skip`, `norm`, `clip_coef`,
   * `found_nonfinite`. Read it, never write it.
   */
  get stepsBuffer(): GPUBuffer {
    return this.steps.buffer;
  }

  /**
   * What the GPU decided for the latest step that ran (skipped, non-finite found, gradient norm, clip coefficient)
   * and the step count: one small readback after the work queued so far. Needs the guard on.
   */
  lastStepReport(): Promise<GuardReport> {
    try {
      this.health.checkReadable('lastStepReport');
      this.requireGuard('lastStepReport');
    } catch (e) {
      return settle(Promise.reject(e as Error));
    }
    return settle(
      this.readSteps('lastStepReport').then((r) => ({
        skipped: r.skipped,
        foundNonFinite: r.foundNonFinite,
        gradNorm: r.gradNorm,
        clipCoef: r.clipCoef,
        applied: r.count,
      })),
    );
  }

  /** Whether the latest step was skipped for a non-finite gradient (for a loss scaler). */
  lastStepSkipped(): Promise<boolean> {
    return settle(this.lastStepReport().then((r) => r.skipped));
  }

  /** The global L2 norm of the latest step's unscaled gradients, computed on the GPU. */
  lastGradNorm(): Promise<number> {
    return settle(this.lastStepReport().then((r) => r.gradNorm));
  }

  /** A copy of the current optimizer-wide options. */
  get options(): O {
    return this.rule.resolve(this.opts);
  }

  /**
   * Changes several optimizer-wide options at once (all validated before any is applied; an undefined value
   * leaves that option as it is). Options fixed at construction (`amsgrad`: it decides which state buffers
   * exist) cannot change. A step takes the options in force when it runs: a step encode()d before this call and
   * submitted after it runs with the new options.
   */
  set(changes: Partial<O>): void {
    this.health.check('set');
    this.opts = mergeFixed(this.rule, this.opts, changes);
    this.steps.optionsChanged();
    this.writeScalars();
  }

  /**
   * Replaces the per-parameter overrides of parameter `i` (lr, betas, eps, weightDecay: what the rule allows);
   * `{}` removes them, an undefined value is no override. Like `set()`, in force for every step that runs after.
   */
  setOverrides(i: number, overrides: Overrides): void {
    this.health.check('setOverrides');
    const n = this.tensors.length;
    if (!Number.isSafeInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`setOverrides: no parameter ${describeValue(i)} (have ${n}: 0 to ${n - 1})`);
    }
    const given = definedOverrides(overrides, `setOverrides: params[${i}] overrides`);
    this.rule.validateOverrides(given, `params[${i}]`);
    const tensor = this.tensors[i]!;
    tensor.overrides = { ...given };
    tensor.hasOverrides = Object.keys(given).length > 0;
    this.steps.regroup(this.tensors);
    this.writeScalars();
  }

  /** Writes the scalars of every step count a step issued from now on may run at (those not yet current). */
  private writeScalars(): void {
    this.steps.sync(this.scalarsOf);
  }

  /** The scalars of step `t` for tensor `member`'s options (one function, made once: no closure per step). */
  private readonly scalarsOf = (member: number, t: number) => {
    const tensor = this.tensors[member]!;
    return this.rule.scalars(tensor.hasOverrides ? { ...this.opts, ...tensor.overrides } : this.opts, t);
  };

  /**
   * One step for every parameter: one compute pass, one submit. Returns a promise that rejects if WebGPU
   * reported an error for this step (it then did not run, and the optimizer refuses further calls). Awaiting it
   * is optional: never awaited, an error still makes the next call throw it. It never waits for the GPU.
   */
  step(): Promise<void> {
    this.health.check('step');
    this.beforeStep('step');
    const { errors } = inErrorScopes(this.device, `${this.label}: step ${this.stepCount + 1}`, () => {
      const encoder = this.device.createCommandEncoder({ label: `${this.label}/step` });
      this.recordInto(encoder);
      this.device.queue.submit([encoder.finish()]);
    });
    return this.issued(errors, 'step', true);
  }

  /**
   * Encodes one step into the caller's encoder; the caller submits it, when it likes (or never: then the step
   * never runs and never counts). Any number of steps may be encoded, into one encoder or several, before their
   * submits; each runs at the step count the GPU is at when it runs, with the options in force then. WebGPU
   * errors of the encoded pass surface at the caller's `finish()` / `submit()`.
   */
  encode(encoder: GPUCommandEncoder): void {
    this.health.check('encode');
    if (!encoder || typeof encoder !== 'object' || typeof encoder.beginComputePass !== 'function') {
      throw new TypeError(
        `${this.rule.name}.encode: expected a GPUCommandEncoder, got ${describeValue(encoder)}`,
      );
    }
    this.beforeStep('encode');
    const { errors } = inErrorScopes(this.device, `${this.label}: encode step ${this.stepCount + 1}`, () =>
      this.recordInto(encoder),
    );
    void this.issued(errors, 'encode', false);
  }

  /**
   * A step was recorded (`submitted`: by step(), which submitted it): the count's range takes it in; if WebGPU
   * rejected its recording or submit, it never runs and is taken back (and the optimizer refuses further calls).
   */
  private issued(errors: Promise<void>, what: string, submitted: boolean): Promise<void> {
    const sure = submitted && !this.guard;
    this.steps.window.issue(submitted, sure);
    return settle(
      this.health.watch(errors, what).catch((e: Error) => {
        this.steps.window.retract(submitted, sure);
        throw e;
      }),
    );
  }

  /**
   * Before a step is recorded: throws (recording nothing) when it cannot be taken, writes the scalars it may
   * need, and starts a readback of the step record when many steps in flight are unconfirmed.
   */
  private beforeStep(what: string): void {
    this.steps.checkRoom(this.rule.name, what);
    this.writeScalars();
    const w = this.steps.window;
    if (!this.narrowing && 2 * (w.hi - w.lo + 1) >= this.steps.ringEntries && w.unsureSinceRead > 0) {
      this.narrowing = settle(
        this.readSteps('stepCount').then(
          () => {
            this.narrowing = undefined;
          },
          () => {
            this.narrowing = undefined;
          },
        ),
      );
    }
  }

  /** Records one step into `encoder`. */
  private recordInto(encoder: GPUCommandEncoder): void {
    recordStep(encoder, this.label, {
      guard: this.guard,
      advance: this.advance,
      // Master weights are taken from the f16 params before the first update (after construction, an
      // importState() without them, or syncMasterWeights()), whether or not the guard skips the step.
      inits: this.masterPending ? this.inits : undefined,
      updates: this.dispatches,
    });
    this.masterPending = false;
  }

  /**
   * Takes the f32 master copies of the f16 parameters from the parameters again, before the next step's
   * update: after writing new values into f16 param buffers yourself. (Done automatically at the first
   * step after construction, and after an importState() without `masterParams`.) No-op without them.
   */
  syncMasterWeights(): void {
    this.health.check('syncMasterWeights');
    this.masterPending = this.inits.length > 0;
  }

  private get holder(): StateHolder<O> {
    return {
      device: this.device,
      label: this.label,
      rule: this.rule,
      store: this.store,
      layout: this.layout,
      tensors: this.tensors,
      steps: this.steps,
    };
  }

  /**
   * Reads the state back: `{ step, options, tensors }`, each tensor's state by its PyTorch name, as f32
   * (bf16 state widened exactly), and the GPU's step count, copied with the state in one command buffer queued by
   * this call: the state after exactly the work queued before it, whatever is called after. With f16 master
   * weights also `masterParams` (per parameter, its f32 master copy or undefined); not while the copies are still
   * to be taken from the params. Works after a failed step (the state is that of the steps that ran); not on a
   * lost device or after destroy().
   */
  exportState(): Promise<OptimizerState<O> & MasterWeightsState> {
    try {
      this.health.checkReadable('exportState');
    } catch (e) {
      return settle(Promise.reject(e as Error));
    }
    // Master copies: read unless they are still to be taken from the params (then they are the params).
    return settle(
      readState(this.holder, this.options, !this.masterPending).catch(async (e: unknown) => {
        if (e instanceof MissingScalarsError) this.health.fail(e);
        throw await this.health.explain(e, 'exportState');
      }),
    );
  }

  /**
   * Replaces the step count, options and state (validated first: nothing changes when it throws). Options
   * left out of `state.options` (or the whole object) keep their current values. The writes are queued: every
   * step that runs after this call (step() or encode()d, whenever submitted) runs on the imported state.
   */
  importState(state: OptimizerState<O, FloatArray> & MasterWeightsState): void {
    this.health.check('importState');
    const { options, masters, write } = checkState(this.holder, state, this.opts);
    const errors = write();
    this.masterPending = !masters && this.inits.length > 0;
    this.opts = options;
    this.writeScalars();
    void this.health.watch(errors, 'importState');
  }

  /**
   * For adapters whose set of parameters changes between steps (the TF.js optimizers): records into `encoder` the
   * copy of `source`'s step count and of the state of its tensors `map[k][0]` into this optimizer's tensors
   * `map[k][1]` (same sizes), on the GPU, in queue order with the steps around it — no readback. Both optimizers
   * must be of the same class and options fixed at construction, on the same device, with f32 state. Tensors not
   * mapped keep their state (zero for a new optimizer).
   */
  copyStateFrom(
    encoder: GPUCommandEncoder,
    source: FusedOptimizer<O>,
    map: readonly (readonly [number, number])[],
  ): void {
    this.health.check('copyStateFrom');
    if (!(source instanceof FusedOptimizer) || source.rule !== this.rule || source.device !== this.device) {
      throw new TypeError(
        `${this.rule.name}.copyStateFrom: the source must be a ${this.rule.name} on the same device, got ${describeValue(source)}`,
      );
    }
    source.health.checkReadable('copyStateFrom');
    copyState(encoder, source.holder, this.holder, map);
  }

  /** Releases the GPU buffers this optimizer owns (never the caller's param / grad buffers). */
  destroy(): void {
    if (this.health.destroyed) return;
    this.health.markDestroyed();
    this.releaseBuffers();
  }
}
