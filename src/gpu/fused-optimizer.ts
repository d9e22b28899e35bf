/**
 * The fused optimizer on WebGPU, generic over the update rule (rules.ts): one compute pass updates every
 * parameter (and its state) in place. `AdaBelief` (adabelief.ts), `Adam`, `AdamW` and `SGD` (variants.ts)
 * are this class with a rule.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // one writeBuffer of scalars, one compute pass, one submit; never reads back
 *
 * Everything that can be checked without the GPU is checked synchronously before any GPU work; WebGPU
 * errors of our own calls are caught with error scopes and turned into rejected promises, and make the
 * optimizer refuse further steps.
 */
import { HYPER_BYTES, packHyper } from '../core/step-scalars.js';
import {
  UNUSED_STATE_BYTES,
  recordDispatches,
  replay,
  writeTables,
  type Dispatch,
  type Tables,
} from './dispatches.js';
import { layoutMismatch, planLayout, workgroupsFor, type Layout } from './layout.js';
import { mergeFixed, type Overrides, type Rule } from '../core/rules.js';
import { CONTROL_BYTES, MAX_ROWS, readControl, type GuardOptions, type GuardReport } from '../core/guard.js';
import { StepGuard } from './step-guard.js';
import { StateStore } from './state-store.js';
import { checkImportedState, type FloatArray, type OptimizerState } from '../core/state.js';
import { checkEntry, checkOverlaps, describe, type ParamEntry, type Tensor } from './entries.js';
import { Usage, toRef, inErrorScopes, isFallbackDevice, readBuffers, type BufferLike } from './device.js';
import { kernelPipelines, packedPipelines, type KernelPipelines, type PackedPipelines } from './pipelines.js';
import { resolvePrecision, type MasterWeightsState, type PrecisionOptions } from '../core/precision.js';

/** How the kernel is dispatched (a tuning knob; the defaults suit the adapter). */
export interface DispatchOptions {
  /** Invocations per workgroup: 64, 128 or 256. Default 256. */
  workgroupSize?: number;
  /**
   * Workgroups per dispatch at most; each invocation then loops over vec4s (grid-stride). Default: 64 on a
   * CPU fallback adapter (SwiftShader is fastest with few, long-running workgroups), else 65535.
   */
  maxWorkgroups?: number;
}

/**
 * What every GPU optimizer takes besides its hyperparameters (guard options: see guard.ts; `stateDtype`
 * and `masterWeights`: see precision.ts).
 */
export interface GPUExtras extends GuardOptions, PrecisionOptions {
  dispatch?: DispatchOptions;
  /** Prefix of every GPU object's label. Default: the optimizer's name in lower case. */
  label?: string;
}

/** Bytes of the guard's host inputs at the start of `Control` (5 words). */
const CONTROL_INPUT_BYTES = 20;

/** Steps that `encode()` may record into encoders before their submit (see encodeStep). */
const ENCODE_RING = 8;

/**
 * Defines a get/set accessor on `cls.prototype` for each option in `keys` (`opt.lr = 5e-4`): each may
 * change between steps, validated like the constructor's options; the next step picks it up through the
 * per-step scalars, nothing is rebuilt.
 */
export function defineOptionAccessors<O extends object>(
  cls: { prototype: FusedOptimizer<O> },
  keys: readonly (keyof O & string)[],
): void {
  for (const key of keys) {
    Object.defineProperty(cls.prototype, key, {
      get(this: FusedOptimizer<O>) {
        return this.options[key];
      },
      set(this: FusedOptimizer<O>, value: unknown) {
        this.set({ [key]: value } as Partial<O>);
      },
    });
  }
}

export class FusedOptimizer<O extends object> {
  readonly device: GPUDevice;
  /** Resolves when construction passed the GPU's own checks; rejects (and the optimizer refuses to run) otherwise. */
  readonly ready: Promise<void>;
  readonly label: string;
  private readonly rule: Rule<O>;
  private opts: O;
  private tensors: Tensor[];
  private layout: Layout;
  /** The f32 entry points' pipelines (undefined in the packed mode, which never uses them). */
  private readonly kernel: KernelPipelines | undefined;
  private readonly tables: Tables;
  private readonly unused: GPUBuffer;
  private readonly grid: (vec4s: number) => number;
  private readonly ownedBuffers: GPUBuffer[] = [];
  /** Where the state lives; export / import. */
  private readonly store: StateStore;
  /** Lower-precision mode: every window goes to the packed entry points, its state in one region. */
  /** Packed pipelines by element bytes of the window (2: f16, 4: f32). */
  private readonly packedKernels: Partial<Record<2 | 4, PackedPipelines>>;
  /** Master-weight initialisation dispatches, run before the next step's update while `masterPending`. */
  private inits: Dispatch[];
  private masterPending: boolean;
  /** One `Hyper` record per tensor per candidate step count (row), rewritten every step from `hyperData`. */
  private readonly hyper: GPUBuffer;
  private readonly guard: StepGuard;
  private readonly hyperData: ArrayBuffer;
  private encodeStaging: GPUBuffer | undefined;
  private readonly controlInputs = new DataView(new ArrayBuffer(CONTROL_INPUT_BYTES));
  private encodeCount = 0;
  private readonly hyperView: DataView;
  private readonly hyperBytes: Uint8Array;
  private dispatches: Dispatch[];
  private failure: Error | undefined;
  private lostError: Error | undefined;
  private destroyed = false;

  protected constructor(
    rule: Rule<O>,
    device: GPUDevice,
    params: ParamEntry[],
    options: Partial<O> & GPUExtras = {},
  ) {
    const name = rule.name;
    if (!device || typeof device.createBuffer !== 'function')
      throw new TypeError(`${name}: expected a GPUDevice`);
    if (!Array.isArray(params) || params.length === 0)
      throw new RangeError(`${name}: the parameter list is empty`);
    const {
      dispatch = {},
      label = name.toLowerCase(),
      skipNonFinite,
      gradScale,
      maxGradNorm,
      stateDtype,
      masterWeights,
      ...hyper
    } = options;
    this.rule = rule;
    this.device = device;
    this.label = label;
    this.opts = rule.resolve(hyper as Partial<O>);
    const precision = resolvePrecision({ stateDtype, masterWeights });
    this.tensors = params.map((entry, i) => checkEntry(entry, i, rule.validateOverrides));
    checkOverlaps(this.tensors);
    const packed = precision.stateDtype === 'bf16' || this.tensors.some((t) => t.dtype === 'f16');
    this.store = new StateStore(rule.slots(this.opts), precision, packed);

    const workgroupSize = dispatch.workgroupSize ?? 256;
    if (![64, 128, 256].includes(workgroupSize)) {
      throw new RangeError(`dispatch.workgroupSize must be 64, 128 or 256, got ${describe(workgroupSize)}`);
    }
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    const maxWorkgroups = dispatch.maxWorkgroups ?? (isFallbackDevice(device) ? 64 : limit);
    if (!Number.isSafeInteger(maxWorkgroups) || maxWorkgroups < 1 || maxWorkgroups > limit) {
      throw new RangeError(
        `dispatch.maxWorkgroups must be an integer in [1, ${limit}], got ${describe(maxWorkgroups)}`,
      );
    }
    if (device.limits.maxStorageBuffersPerShaderStage < 8) {
      throw new RangeError(
        `${name} needs 8 storage buffers per shader stage; the device allows ${device.limits.maxStorageBuffersPerShaderStage}`,
      );
    }
    this.layout = this.plan(this.tensors);
    this.grid = (vec4s) => workgroupsFor(vec4s, workgroupSize, maxWorkgroups);
    const guardOptions = { skipNonFinite, gradScale, maxGradNorm };
    const guarded = Object.values(guardOptions).some((v) => v !== undefined);
    const rows = guarded ? MAX_ROWS : 1;
    this.hyperData = new ArrayBuffer(rows * this.tensors.length * HYPER_BYTES);
    this.hyperView = new DataView(this.hyperData);
    this.hyperBytes = new Uint8Array(this.hyperData);

    // Everything below talks to the GPU; its errors arrive asynchronously through `ready`.
    const checks: Promise<void>[] = [];
    const { value: created, errors } = inErrorScopes(device, `${label}: allocating optimizer state`, () => {
      const amsgrad = rule.amsgrad(this.opts);
      const kernel = packed ? undefined : kernelPipelines(device, workgroupSize, amsgrad, rule.variance);
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
          });
        }
      }
      const hyper = this.own({
        label: `${label}/hyper`,
        size: this.hyperData.byteLength,
        usage: Usage.STORAGE | Usage.COPY_DST,
      });
      const tables = writeTables(this.layout, label, (desc) => this.own(desc));
      const unused = this.own({
        label: `${label}/unused-state`,
        size: UNUSED_STATE_BYTES,
        usage: Usage.STORAGE,
      });
      const guard = new StepGuard(device, label, guardOptions, this.tensors.length, (d) => this.own(d));
      return { kernel, packedKernels, hyper, tables, unused, guard };
    });
    checks.push(errors);
    this.kernel = created.kernel;
    this.packedKernels = created.packedKernels;
    this.hyper = created.hyper;
    this.tables = created.tables;
    this.unused = created.unused;
    this.guard = created.guard;

    const bound = this.record(this.tensors, this.layout);
    this.dispatches = bound.dispatches;
    this.inits = bound.inits;
    this.masterPending = this.inits.length > 0;
    checks.push(...bound.checks, ...this.guard.record(this.layout, this.tensors, this.tables));

    // A lost device (destroyed, driver reset, GPU removed) makes every later call fail with the cause.
    device.lost.then((info) => {
      this.lostError = new Error(
        `the GPUDevice was lost (${info.reason}): ${info.message.replace(/\.*$/, '') || 'no message'}. Create a new device and optimizer, then importState() the last exported state`,
      );
      this.failure ??= this.lostError;
    });

    this.ready = Promise.all(checks).then(
      () => undefined,
      (e: Error) => {
        this.failure ??= e;
        throw e;
      },
    );
    // A caller that never awaits `ready` still sees the error: `step()` throws it.
    this.ready.catch(() => undefined);
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
    return recordDispatches({
      device: this.device,
      label: this.label,
      layout,
      tensors,
      kernel: this.kernel,
      state: this.store.bySlot,
      hyper: this.hyper,
      control: this.guard.control,
      tables: this.tables,
      grid: this.grid,
      unused: this.unused,
      packed: this.store.packed
        ? { state: this.store.packedBuffers, pipelines: (w) => this.packedKernels[w.elementBytes]! }
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
    this.checkUsable('rebind');
    if (!Array.isArray(buffers) || buffers.length !== this.tensors.length) {
      throw new RangeError(
        `${this.rule.name}.rebind: expected ${this.tensors.length} { param, grad } entries, got ${Array.isArray(buffers) ? buffers.length : describe(buffers)}`,
      );
    }
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
        `${this.rule.name}.rebind: the new buffers group the tensors differently (${mismatch}); create a new optimizer and importState() this one's exported state`,
      );
    }
    const bound = this.record(tensors, layout);
    const guardChecks = this.guard.record(layout, tensors, this.tables);
    this.tensors = tensors;
    this.layout = layout;
    this.dispatches = bound.dispatches;
    this.inits = bound.inits;
    return this.watch(Promise.all([...bound.checks, ...guardChecks]).then(() => undefined));
  }

  private own(desc: GPUBufferDescriptor): GPUBuffer {
    const b = this.device.createBuffer(desc);
    this.ownedBuffers.push(b);
    return b;
  }

  /**
   * Steps taken so far. With the guard on, skipped steps do not count and the host learns of them
   * asynchronously: this is then the count if no step since the last readback was skipped, exact after
   * `await step()` or `await lastStepSkipped()`.
   */
  get stepCount(): number {
    return this.guard.tracker.upper;
  }

  /** The loss scale gradients are divided by (a number, or the caller's GPUBuffer). Settable when a number. */
  get gradScale(): number | GPUBuffer {
    return this.guard.gradScale;
  }

  set gradScale(scale: number) {
    this.checkUsable('gradScale');
    this.guard.gradScale = scale;
  }

  /** The global gradient norm gradients are clipped to (Infinity: none). Settable with the guard on. */
  get maxGradNorm(): number {
    return this.guard.maxGradNorm;
  }

  set maxGradNorm(max: number) {
    this.checkUsable('maxGradNorm');
    this.guard.maxGradNorm = max;
  }

  /**
   * The `Control` record of the guard (shaders/grad-stats.wgsl), for callers that want the decision on the
   * GPU: u32 at byte 28 = skipped (1) or applied (0), f32 at 32 = gradient norm, u32 at 36 = steps applied.
   */
  get controlBuffer(): GPUBuffer {
    return this.guard.control;
  }

  /**
   * What the GPU decided for the latest step (skipped, non-finite found, gradient norm, clip coefficient,
   * steps applied): one small readback after the work submitted so far. Needs the guard on.
   */
  async lastStepReport(): Promise<GuardReport> {
    this.checkUsable('lastStepReport');
    return this.guard.report(
      async (buffer) =>
        (
          await readBuffers(
            this.device,
            [{ buffer, offset: 0, bytes: CONTROL_BYTES }],
            `${this.label}/control`,
          )
        )[0]!,
    );
  }

  /** Whether the latest step was skipped for a non-finite gradient (for a loss scaler). */
  async lastStepSkipped(): Promise<boolean> {
    return (await this.lastStepReport()).skipped;
  }

  /** The global L2 norm of the latest step's unscaled gradients, computed on the GPU. */
  async lastGradNorm(): Promise<number> {
    return (await this.lastStepReport()).gradNorm;
  }

  /** A copy of the current optimizer-wide options. */
  get options(): O {
    return this.rule.resolve(this.opts);
  }

  /**
   * Changes several optimizer-wide options at once (all validated before any is applied). Options fixed at
   * construction (`amsgrad`: it decides which state buffers exist) cannot change.
   */
  set(changes: Partial<O>): void {
    this.checkUsable('set');
    this.opts = mergeFixed(this.rule, this.opts, changes);
  }

  /** Replaces the per-parameter overrides of parameter `i` (lr, betas, eps, weightDecay: what the rule allows). */
  setOverrides(i: number, overrides: Overrides): void {
    this.checkUsable('setOverrides');
    const tensor = this.tensors[i];
    if (!tensor) throw new RangeError(`setOverrides: no parameter ${i} (have ${this.tensors.length})`);
    this.rule.validateOverrides(overrides, `params[${i}]`);
    tensor.overrides = { ...overrides };
    tensor.hasOverrides = Object.keys(overrides).length > 0;
  }

  /**
   * One step for every parameter: one write of the scalars, one compute pass, one submit. Returns a promise that
   * rejects if WebGPU reported an error for this step (awaiting it is optional; it never waits for the
   * GPU to finish the work).
   */
  step(): Promise<void> {
    this.checkUsable('step');
    const { value: readback, errors } = inErrorScopes(
      this.device,
      `${this.label}: step ${this.stepCount + 1}`,
      () => {
        const encoder = this.device.createCommandEncoder({ label: `${this.label}/step` });
        const seq = this.encodeStep(encoder, false);
        const readback = this.guard.readbackAfter(encoder, seq);
        this.device.queue.submit([encoder.finish()]);
        return readback?.();
      },
    );
    // With the guard on, the promise also waits for the step's readback (so stepCount is exact after it).
    return Promise.all([this.watch(errors), readback]).then(() => undefined);
  }

  /**
   * Encodes one step into the caller's encoder (the caller submits). The step's scalars go through a ring
   * of 8 staging slots copied inside the encoder, so up to 8 steps may be recorded (into one encoder or
   * several) before they are submitted, in the order they were encoded. WebGPU errors of the encoded pass
   * surface at the caller's `finish()` / `submit()`.
   */
  encode(encoder: GPUCommandEncoder): void {
    this.checkUsable('encode');
    const { errors } = inErrorScopes(this.device, `${this.label}: encode step ${this.stepCount + 1}`, () =>
      this.encodeStep(encoder, true),
    );
    void this.watch(errors).catch(() => undefined);
  }

  /** Records one step into `encoder` (scalars, guard passes, update); returns the step call's number. */
  private encodeStep(encoder: GPUCommandEncoder, staged: boolean): number {
    // No validateHyper here: every path that changes `opts` (set, accessors, importState) validated it.
    const rows = this.guard.rowsForNextStep(this.rule.name);
    const first = this.guard.firstRowStep;
    const perRow = this.tensors.length * HYPER_BYTES;
    for (let r = 0; r < rows; r++) this.packRow(first + r, r * perRow);
    const bytes = rows * perRow;
    const guarded = this.guard.enabled;
    if (guarded) this.guard.writeInputs(this.controlInputs, 0);
    if (staged) {
      // Through a ring of staging slots copied inside the encoder: several steps recorded into one
      // encoder before its submit each see their own scalars (and guard inputs).
      const slotBytes = CONTROL_INPUT_BYTES + this.hyperData.byteLength;
      this.encodeStaging ??= this.own({
        label: `${this.label}/hyper-staging`,
        size: slotBytes * ENCODE_RING,
        usage: Usage.COPY_SRC | Usage.COPY_DST,
      });
      const offset = (this.encodeCount++ % ENCODE_RING) * slotBytes;
      if (guarded) {
        this.device.queue.writeBuffer(this.encodeStaging, offset, this.controlInputs.buffer);
        encoder.copyBufferToBuffer(this.encodeStaging, offset, this.guard.control, 0, CONTROL_INPUT_BYTES);
      }
      const at = offset + CONTROL_INPUT_BYTES;
      this.device.queue.writeBuffer(this.encodeStaging, at, this.hyperData, 0, bytes);
      encoder.copyBufferToBuffer(this.encodeStaging, at, this.hyper, 0, bytes);
    } else {
      if (guarded) this.device.queue.writeBuffer(this.guard.control, 0, this.controlInputs.buffer);
      this.device.queue.writeBuffer(this.hyper, 0, this.hyperData, 0, bytes);
    }
    if (guarded) this.guard.copyScale(encoder);
    const pass = encoder.beginComputePass({ label: `${this.label}/pass` });
    this.guard.dispatch(pass);
    // Master weights are taken from the f16 params before the first update (after construction, an
    // importState() without them, or syncMasterWeights()), whether or not the guard skips the step.
    if (this.masterPending) replay(pass, this.inits);
    this.masterPending = false;
    replay(pass, this.dispatches);
    pass.end();
    return this.guard.tracker.push(guarded);
  }

  /** Packs the records of step `t` (one per tensor) at `base` bytes into `hyperData`. */
  private packRow(t: number, base: number): void {
    // Tensors without overrides share one record: packed once, then copied.
    let shared = -1;
    this.tensors.forEach((tensor, i) => {
      const at = base + i * HYPER_BYTES;
      if (tensor.hasOverrides) {
        packHyper(this.rule.scalars({ ...this.opts, ...tensor.overrides }, t), this.hyperView, at);
      } else if (shared < 0) {
        packHyper(this.rule.scalars(this.opts, t), this.hyperView, at);
        shared = at;
      } else {
        this.hyperBytes.copyWithin(at, shared, shared + HYPER_BYTES);
      }
    });
  }

  /** Records a later WebGPU error as this optimizer's failure (it then refuses further steps). */
  private watch(errors: Promise<void>): Promise<void> {
    // Not raced against device.lost: that would add a reaction to a promise that may never settle, per step.
    const checked = errors.then(() => {
      if (this.lostError) throw new Error(`${this.rule.name}: ${this.lostError.message}`);
    });
    return checked.catch((e: Error) => {
      this.failure ??= e;
      throw e;
    });
  }

  private checkUsable(what: string): void {
    if (this.destroyed) throw new Error(`${this.rule.name}.${what}: this optimizer was destroyed`);
    if (this.failure)
      throw new Error(
        `${this.rule.name}.${what}: the optimizer is unusable after an earlier error: ${this.failure.message}`,
      );
  }

  /**
   * Takes the f32 master copies of the f16 parameters from the parameters again, before the next step's
   * update: after writing new values into f16 param buffers yourself. (Done automatically at the first
   * step after construction, and after an importState() without `masterParams`.) No-op without them.
   */
  syncMasterWeights(): void {
    this.checkUsable('syncMasterWeights');
    this.masterPending = this.inits.length > 0;
  }

  /**
   * Reads the state back: `{ step, options, tensors }`, each tensor's state by its PyTorch name, as f32
   * (bf16 state widened exactly). With f16 master weights also `masterParams` (per parameter, its f32
   * master copy or undefined); not while the copies are still to be taken from the params.
   */
  async exportState(): Promise<OptimizerState<O> & MasterWeightsState> {
    const name = this.rule.name;
    if (this.destroyed) throw new Error(`${name}.exportState: this optimizer was destroyed`);
    if (this.lostError) throw new Error(`${name}.exportState: ${this.lostError.message}`);
    const options = this.options;
    // Master copies: read unless they are still to be taken from the params (then they are the params).
    const plan = this.store.exportPlan(this.layout, this.tensors, !this.masterPending);
    // With the guard on, the GPU's own step counter (read with the state) says how many steps were applied.
    const seq = this.guard.tracker.latest;
    const control = { buffer: this.guard.control, offset: 0, bytes: CONTROL_BYTES };
    const bytes = await readBuffers(this.device, [...plan.regions, control], `${this.label}/exportState`);
    const applied = readControl(bytes.pop()!).applied;
    if (this.guard.enabled) this.guard.tracker.confirm(seq, applied);
    const step = this.guard.enabled ? applied : this.stepCount;
    return { step, options, ...plan.decode(bytes) };
  }

  /**
   * Replaces the step count, options and state (validated first: nothing changes when it throws).
   * The writes are queued, so the next `step()` sees them.
   */
  importState(state: OptimizerState<O, FloatArray> & MasterWeightsState): void {
    this.checkUsable('importState');
    const options = checkImportedState(
      this.rule,
      state,
      this.opts,
      this.tensors.map((t) => t.size),
    );
    const masters = this.store.checkMasterParams(this.tensors, state.masterParams);
    const { errors } = inErrorScopes(this.device, `${this.label}: importState`, () =>
      this.store.upload(this.device, this.layout, state.tensors, masters),
    );
    this.masterPending = !masters && this.inits.length > 0;
    this.opts = options;
    this.guard.resetApplied(state.step);
    void this.watch(errors).catch(() => undefined);
  }

  /** Releases the GPU buffers this optimizer owns (never the caller's param / grad buffers). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.ownedBuffers) b.destroy();
    this.ownedBuffers.length = 0;
  }
}
