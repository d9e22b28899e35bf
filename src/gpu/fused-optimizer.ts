/**
 * The fused optimizer on WebGPU, generic over the update rule (rules.ts): one compute pass updates every
 * parameter (and its state) in place. `AdaBelief` (adabelief.ts), `Adam`, `AdamW` and `SGD` (variants.ts)
 * are this class with a rule.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // one writeBuffer of scalars, one compute pass, one submit; never reads back
 *
 * This file is the public surface and its wiring; each idea lives in its own file:
 *   construction.ts    every check before the first GPU object (options, entries, dispatch, guard)
 *   step-recorder.ts   one step's scalars and compute pass; encode-ring.ts: encode()'s staging ring
 *   step-count.ts      the step count and the confirmation of guarded steps (core/step-count.ts: the pure part)
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
import { MAX_ROWS, type GuardReport } from '../core/guard.js';
import { describeValue, isPlainObject } from '../core/options.js';
import { StepGuard } from './step-guard.js';
import { StateStore } from './state-store.js';
import type { FloatArray, OptimizerState } from '../core/state.js';
import { checkEntry, checkOverlaps, type ParamEntry, type Tensor } from './entries.js';
import { Usage, toRef, inErrorScopes, type BufferLike } from './device.js';
import { kernelPipelines, packedPipelines, type KernelPipelines, type PackedPipelines } from './pipelines.js';
import type { MasterWeightsState, StateDtype } from '../core/precision.js';
import { checkConstruction, type GPUExtras } from './construction.js';
import { StepRecorder } from './step-recorder.js';
import { StepCounter } from './step-count.js';
import { Health, settle } from './failure.js';
import { checkState, readState, type StateHolder } from './state-transfer.js';

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
  private readonly counter: StepCounter;
  private readonly recorder: StepRecorder;
  private readonly store: StateStore;
  private readonly guard: StepGuard;
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
          const rows = c.guard.enabled ? MAX_ROWS : 1;
          const hyper = this.own({
            label: `${label}/hyper`,
            size: StepRecorder.hyperBytesFor(rows, this.tensors.length),
            usage: Usage.STORAGE | Usage.COPY_DST,
          });
          const tables = writeTables(this.layout, label, (desc) => this.own(desc));
          const unused = this.own({
            label: `${label}/unused-state`,
            size: UNUSED_STATE_BYTES,
            usage: Usage.STORAGE,
          });
          const guard = new StepGuard(device, label, c.guard, this.tensors.length, (d) => this.own(d));
          return { kernel, packedKernels, hyper, tables, unused, guard };
        });
      } catch (e) {
        this.releaseBuffers();
        throw e;
      }
    })();
    checks.push(created.errors);
    const { kernel, packedKernels, hyper, tables, unused, guard } = created.value;
    this.guard = guard;
    this.bindings = { kernel, packedKernels, tables, unused, grid };
    this.recorder = new StepRecorder(
      device,
      label,
      rule.name,
      hyper,
      (d) => this.own(d),
      this.health.failDroppedStep,
    );
    this.counter = new StepCounter(
      device,
      label,
      rule.name,
      c.guard.enabled,
      () => this.guard.control!,
      (d) => this.own(d),
    );

    const bound = this.record(this.tensors, this.layout);
    this.dispatches = bound.dispatches;
    this.inits = bound.inits;
    this.masterPending = this.inits.length > 0;
    checks.push(...bound.checks, ...this.guard.record(this.layout, this.tensors, tables, grid));

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
      hyper: this.recorder.hyper,
      control: this.guard.control,
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
    const name = this.rule.name;
    this.health.check('rebind');
    if (!Array.isArray(buffers) || buffers.length !== this.tensors.length) {
      throw new RangeError(
        `${name}.rebind: expected ${this.tensors.length} { param, grad } entries, got ${Array.isArray(buffers) ? buffers.length : describeValue(buffers)}`,
      );
    }
    buffers.forEach((b, i) => {
      if (
        !isPlainObject(b) ||
        !b.param ||
        !b.grad ||
        typeof b.param !== 'object' ||
        typeof b.grad !== 'object'
      ) {
        throw new TypeError(
          `${name}.rebind: entry ${i} must be { param, grad } (GPUBuffers or { buffer, offset }), got ${describeValue(b)}`,
        );
      }
    });
    const same = buffers.every((b, i) => {
      const t = this.tensors[i]!;
      const p = toRef(b.param);
      const g = toRef(b.grad);
      return (
        p.buffer === t.param.buffer &&
        p.offset === t.param.offset &&
        g.buffer === t.grad.buffer &&
        g.offset === t.grad.offset
      );
    });
    if (same) return Promise.resolve();
    const tensors = buffers.map((b, i) => {
      const t = this.tensors[i]!;
      return checkEntry(
        { ...t.overrides, name: t.name, size: t.size, dtype: t.dtype, param: b.param, grad: b.grad },
        i,
        this.rule.validateOverrides,
      );
    });
    checkOverlaps(tensors);
    const layout = this.plan(tensors);
    const mismatch = layoutMismatch(this.layout, layout);
    if (mismatch) {
      throw new RangeError(
        `${name}.rebind: the new buffers group the tensors differently (${mismatch}); create a new optimizer and importState() this one's exported state`,
      );
    }
    const bound = this.record(tensors, layout);
    const guardChecks = this.guard.record(layout, tensors, this.bindings.tables, this.bindings.grid);
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
   * Steps taken so far (a JS number: exact past 2^32). A step WebGPU rejected does not count. With the guard
   * on, skipped steps do not count and the host learns of them asynchronously: this is then the count if no
   * step since the last readback was skipped, exact after `await step()` or `await lastStepSkipped()`.
   */
  get stepCount(): number {
    return this.counter.count;
  }

  /** The loss scale gradients are divided by (a number, or the caller's GPUBuffer). Settable when a number. */
  get gradScale(): number | GPUBuffer {
    return this.guard.gradScale;
  }

  set gradScale(scale: number) {
    this.health.check('gradScale');
    this.guard.gradScale = scale;
  }

  /** The global gradient norm gradients are clipped to (Infinity: none). Settable with the guard on. */
  get maxGradNorm(): number {
    return this.guard.maxGradNorm;
  }

  set maxGradNorm(max: number) {
    this.health.check('maxGradNorm');
    this.guard.maxGradNorm = max;
  }

  /** Whether a step with an inf or NaN gradient is skipped. Fixed at construction (see `fixedAtConstruction`). */
  get skipNonFinite(): boolean {
    return this.guard.skipNonFinite;
  }

  set skipNonFinite(_: boolean) {
    this.fixedAtConstruction('skipNonFinite', 'whether the guard passes run');
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
   * The `Control` record of the guard (shaders/grad-stats.wgsl), for callers that want the decision on the
   * GPU: see abi.ts CONTROL for its fields (`applied` counts from the last importState()). Guarded
   * optimizers only: an optimizer without guard options has no `Control` (its kernels run no guard path).
   */
  get controlBuffer(): GPUBuffer {
    if (!this.guard.control) {
      throw new Error(
        `${this.rule.name}.controlBuffer: construct the optimizer with gradScale, skipNonFinite or maxGradNorm to run the guard passes`,
      );
    }
    return this.guard.control;
  }

  /**
   * What the GPU decided for the latest step (skipped, non-finite found, gradient norm, clip coefficient,
   * steps applied): one small readback after the work submitted so far. Needs the guard on.
   */
  lastStepReport(): Promise<GuardReport> {
    try {
      this.health.checkReadable('lastStepReport');
      if (!this.counter.guarded) {
        throw new Error(
          `${this.rule.name}.lastStepReport: construct the optimizer with gradScale, skipNonFinite or maxGradNorm to run the guard passes`,
        );
      }
    } catch (e) {
      return settle(Promise.reject(e as Error));
    }
    return settle(
      this.counter.report().catch(async (e: unknown) => {
        throw await this.health.explain(e, 'lastStepReport');
      }),
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
   * exist) cannot change.
   */
  set(changes: Partial<O>): void {
    this.health.check('set');
    this.opts = mergeFixed(this.rule, this.opts, changes);
  }

  /**
   * Replaces the per-parameter overrides of parameter `i` (lr, betas, eps, weightDecay: what the rule allows);
   * `{}` removes them, an undefined value is no override.
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
  }

  /**
   * One step for every parameter: one write of the scalars, one compute pass, one submit. Returns a promise
   * that rejects if WebGPU reported an error for this step (then the step does not count); with the guard
   * on it resolves once the step count is confirmed. Awaiting it is optional: never awaited, an error still
   * makes the next call throw it. It never waits for the GPU to finish other work.
   */
  step(): Promise<void> {
    this.health.check('step');
    const rows = this.counter.rowsForNextStep('step');
    const { value, errors } = inErrorScopes(this.device, `${this.label}: step ${this.stepCount + 1}`, () => {
      const encoder = this.device.createCommandEncoder({ label: `${this.label}/step` });
      this.recordStep(encoder, rows);
      const seq = this.counter.tracker.push();
      const confirm = this.counter.afterStep(encoder, seq);
      this.device.queue.submit([encoder.finish()]);
      return { seq, confirm };
    });
    const checked = this.watchStep(errors, value.seq, 'step');
    return settle(Promise.all([checked, value.confirm(errors)]).then(() => undefined));
  }

  /**
   * Encodes one step into the caller's encoder (the caller submits). The step's scalars go through a ring
   * of 8 staging slots copied inside the encoder, so up to 8 steps may be recorded (into one encoder or
   * several) before they are submitted, in the order they were encoded; a 9th before a submit throws and
   * records nothing. WebGPU errors of the encoded pass surface at the caller's `finish()` / `submit()`.
   */
  encode(encoder: GPUCommandEncoder): void {
    this.health.check('encode');
    if (!encoder || typeof encoder !== 'object' || typeof encoder.beginComputePass !== 'function') {
      throw new TypeError(
        `${this.rule.name}.encode: expected a GPUCommandEncoder, got ${describeValue(encoder)}`,
      );
    }
    const rows = this.counter.rowsForNextStep('encode');
    const step = this.stepCount + 1;
    const { value: seq, errors } = inErrorScopes(this.device, `${this.label}: encode step ${step}`, () => {
      this.recordStep(encoder, rows, step);
      return this.counter.tracker.push();
    });
    void this.watchStep(errors, seq, 'encode');
  }

  /**
   * Records one step into `encoder`; `encoded`: its number, for encode() (throws before recording anything
   * when the encode ring is full).
   */
  private recordStep(encoder: GPUCommandEncoder, rows: number, encoded?: number): void {
    // No validation here: every path that changes `opts` (set, accessors, importState) validated it.
    this.recorder.record(
      encoder,
      {
        rule: this.rule,
        opts: this.opts,
        tensors: this.tensors,
        guard: this.guard,
        firstRow: this.counter.firstRow,
        rows,
        lo: this.counter.lo,
        dispatches: this.dispatches,
        // Master weights are taken from the f16 params before the first update (after construction, an
        // importState() without them, or syncMasterWeights()), whether or not the guard skips the step.
        inits: this.masterPending ? this.inits : undefined,
      },
      encoded,
    );
    this.masterPending = false;
  }

  /** A step's errors: a rejected step does not count, and the optimizer refuses further calls. */
  private watchStep(errors: Promise<void>, seq: number, what: string): Promise<void> {
    return settle(
      this.health.watch(errors, what).catch((e: Error) => {
        this.counter.fail(seq);
        throw e;
      }),
    );
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
      counter: this.counter,
      control: this.counter.guarded ? this.guard.control : undefined,
    };
  }

  /**
   * Reads the state back: `{ step, options, tensors }`, each tensor's state by its PyTorch name, as f32
   * (bf16 state widened exactly). With f16 master weights also `masterParams` (per parameter, its f32
   * master copy or undefined); not while the copies are still to be taken from the params. Works after a
   * failed step (the state is that of the steps that counted); not on a lost device or after destroy().
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
        throw await this.health.explain(e, 'exportState');
      }),
    );
  }

  /**
   * Replaces the step count, options and state (validated first: nothing changes when it throws). Options
   * left out of `state.options` (or the whole object) keep their current values. The writes are queued, so
   * the next `step()` sees them.
   */
  importState(state: OptimizerState<O, FloatArray> & MasterWeightsState): void {
    this.health.check('importState');
    const { options, masters, write } = checkState(this.holder, state, this.opts);
    const errors = write();
    this.masterPending = !masters && this.inits.length > 0;
    this.opts = options;
    void this.health.watch(errors, 'importState');
  }

  /** Releases the GPU buffers this optimizer owns (never the caller's param / grad buffers). */
  destroy(): void {
    if (this.health.destroyed) return;
    this.health.markDestroyed();
    this.releaseBuffers();
  }
}
