/**
 * AdaBelief on WebGPU: one fused compute pass updates every parameter (and its m, s, smax) in place.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // one writeBuffer of scalars, one compute pass, one submit; never reads back
 *
 * Update rule and defaults: see options.ts and hyper.ts (adabelief-pytorch 0.2.1 unless
 * `semantics: 'torch-optimizer'`). Everything that can be checked without the GPU is checked
 * synchronously before any GPU work; WebGPU errors of our own calls are caught with error scopes and
 * turned into rejected promises, and make the optimizer refuse further steps.
 */
import { HYPER_BYTES, packHyper, stepScalars } from './hyper.js';
import { recordDispatches, writeTables, type Dispatch, type StateName } from './dispatches.js';
import { planLayout, workgroupsFor, type Layout, type Piece } from './layout.js';
import {
  mergeOptions,
  resolveOptions,
  validateOverrides,
  type AdaBeliefOptions,
  type GroupOverrides,
} from './options.js';
import { checkImportedState, type AdaBeliefState, type TensorState } from './state.js';
import { checkEntry, checkOverlaps, describe, type ParamEntry, type Tensor } from './entries.js';
import {
  Usage,
  inErrorScopes,
  isFallbackDevice,
  kernelPipelines,
  readBuffers,
  type KernelPipelines,
} from './gpu.js';

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

export interface AdaBeliefGPUOptions extends Partial<AdaBeliefOptions> {
  dispatch?: DispatchOptions;
  /** Prefix of every GPU object's label. Default 'adabelief'. */
  label?: string;
}

/** Steps that `encode()` may record into encoders before their submit (see encodeStep). */
const ENCODE_RING = 8;

/** The options that may change between steps (all but `amsgrad`), as accessors of `AdaBelief`. */
const SETTABLE_OPTIONS = [
  'lr',
  'betas',
  'eps',
  'weightDecay',
  'weightDecouple',
  'fixedDecay',
  'rectify',
  'degeneratedToSgd',
  'semantics',
] as const satisfies readonly (keyof AdaBeliefOptions)[];

type SettableOptions = { -readonly [K in (typeof SETTABLE_OPTIONS)[number]]: AdaBeliefOptions[K] };

// Declaration merging: the accessors defined in the class's static block.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AdaBelief extends SettableOptions {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AdaBelief {
  readonly device: GPUDevice;
  /** Resolves when construction passed the GPU's own checks; rejects (and the optimizer refuses to run) otherwise. */
  readonly ready: Promise<void>;
  readonly label: string;
  private readonly opts: AdaBeliefOptions;
  private readonly tensors: Tensor[];
  private readonly layout: Layout;
  private readonly kernel: KernelPipelines;
  private readonly ownedBuffers: GPUBuffer[] = [];
  private readonly state: Record<StateName, GPUBuffer[]>;
  /** One `Hyper` record per tensor, rewritten every step from `hyperData`. */
  private readonly hyper: GPUBuffer;
  private readonly hyperData: ArrayBuffer;
  private encodeStaging: GPUBuffer | undefined;
  private encodeCount = 0;
  private readonly hyperView: DataView;
  private readonly hyperBytes: Uint8Array;
  private readonly dispatches: Dispatch[];
  private t = 0;
  private failure: Error | undefined;
  private lostError: Error | undefined;
  private destroyed = false;

  constructor(device: GPUDevice, params: ParamEntry[], options: AdaBeliefGPUOptions = {}) {
    if (!device || typeof device.createBuffer !== 'function')
      throw new TypeError('AdaBelief: expected a GPUDevice');
    if (!Array.isArray(params) || params.length === 0)
      throw new RangeError('AdaBelief: the parameter list is empty');
    const { dispatch = {}, label = 'adabelief', ...hyper } = options;
    this.device = device;
    this.label = label;
    this.opts = resolveOptions(hyper);
    this.tensors = params.map(checkEntry);
    checkOverlaps(this.tensors);

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
    if (device.limits.maxStorageBuffersPerShaderStage < 7) {
      throw new RangeError(
        `AdaBelief needs 7 storage buffers per shader stage; the device allows ${device.limits.maxStorageBuffersPerShaderStage}`,
      );
    }
    const ids = new Map<GPUBuffer, number>();
    const place = (r: Tensor['param']) => {
      if (!ids.has(r.buffer)) ids.set(r.buffer, ids.size);
      return { buffer: ids.get(r.buffer)!, offset: r.offset, bufferSize: r.buffer.size };
    };
    this.layout = planLayout(
      this.tensors.map((t) => ({ size: t.size, param: place(t.param), grad: place(t.grad) })),
      device.limits,
    );
    this.hyperData = new ArrayBuffer(this.tensors.length * HYPER_BYTES);
    this.hyperView = new DataView(this.hyperData);
    this.hyperBytes = new Uint8Array(this.hyperData);

    // Everything below talks to the GPU; its errors arrive asynchronously through `ready`.
    const checks: Promise<void>[] = [];
    const { value: created, errors } = inErrorScopes(device, `${label}: allocating optimizer state`, () => {
      const kernel = kernelPipelines(device, workgroupSize, this.opts.amsgrad);
      const names: StateName[] = [
        'exp_avg',
        'exp_avg_var',
        ...(this.opts.amsgrad ? (['max_exp_avg_var'] as const) : []),
      ];
      const state = {} as Record<StateName, GPUBuffer[]>;
      for (const name of names) {
        state[name] = this.layout.stateBufferBytes.map((size, k) =>
          this.own({
            label: `${label}/${name}#${k}`,
            size,
            usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
          }),
        );
      }
      const hyper = this.own({
        label: `${label}/hyper`,
        size: this.hyperData.byteLength,
        usage: Usage.STORAGE | Usage.COPY_DST,
      });
      return { kernel, state, hyper, tables: writeTables(this.layout, label, (desc) => this.own(desc)) };
    });
    checks.push(errors);
    this.kernel = created.kernel;
    this.state = created.state;
    this.hyper = created.hyper;

    const bound = recordDispatches({
      device,
      label,
      layout: this.layout,
      tensors: this.tensors,
      kernel: this.kernel,
      state: this.state,
      hyper: this.hyper,
      tables: created.tables,
      amsgrad: this.opts.amsgrad,
      grid: (vec4s) => workgroupsFor(vec4s, workgroupSize, maxWorkgroups),
      own: (desc) => this.own(desc),
    });
    this.dispatches = bound.dispatches;
    checks.push(...bound.checks);

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

  /** Creates the optimizer and waits until the GPU has accepted its buffers and bind groups. */
  static async create(
    device: GPUDevice,
    params: ParamEntry[],
    options: AdaBeliefGPUOptions = {},
  ): Promise<AdaBelief> {
    const opt = new AdaBelief(device, params, options);
    await opt.ready;
    return opt;
  }

  private own(desc: GPUBufferDescriptor): GPUBuffer {
    const b = this.device.createBuffer(desc);
    this.ownedBuffers.push(b);
    return b;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /** A copy of the current optimizer-wide options. */
  get options(): AdaBeliefOptions {
    return { ...this.opts, betas: [...this.opts.betas] };
  }

  // Hyperparameters (`opt.lr = 5e-4`, declared in the interface below): each may change between steps,
  // validated with the official messages; the next step picks it up through the per-step scalars, nothing is
  // rebuilt. `amsgrad` decides which state buffers exist, so it is read-only.
  static {
    for (const key of SETTABLE_OPTIONS) {
      Object.defineProperty(this.prototype, key, {
        get(this: AdaBelief) {
          return this.opts[key];
        },
        set(this: AdaBelief, value: unknown) {
          this.set({ [key]: value });
        },
      });
    }
  }

  get amsgrad(): boolean {
    return this.opts.amsgrad;
  }

  /** Changes several optimizer-wide options at once (all validated before any is applied). */
  set(changes: Partial<Omit<AdaBeliefOptions, 'amsgrad'>>): void {
    this.checkUsable('set');
    Object.assign(this.opts, mergeOptions(this.opts, changes));
  }

  /** Replaces the per-parameter overrides of parameter `i` (lr, betas, eps, weightDecay). */
  setOverrides(i: number, overrides: GroupOverrides): void {
    this.checkUsable('setOverrides');
    const tensor = this.tensors[i];
    if (!tensor) throw new RangeError(`setOverrides: no parameter ${i} (have ${this.tensors.length})`);
    validateOverrides(overrides, `params[${i}]`);
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
    const before = this.t;
    const { errors } = inErrorScopes(this.device, `${this.label}: step ${before + 1}`, () => {
      const encoder = this.device.createCommandEncoder({ label: `${this.label}/step` });
      this.encodeStep(encoder, false);
      this.device.queue.submit([encoder.finish()]);
    });
    return this.watch(errors, before);
  }

  /**
   * Encodes one step into the caller's encoder (the caller submits). The step's scalars go through a ring
   * of 8 staging slots copied inside the encoder, so up to 8 steps may be recorded (into one encoder or
   * several) before they are submitted, in the order they were encoded. WebGPU errors of the encoded pass
   * surface at the caller's `finish()` / `submit()`.
   */
  encode(encoder: GPUCommandEncoder): void {
    this.checkUsable('encode');
    const before = this.t;
    const { errors } = inErrorScopes(this.device, `${this.label}: encode step ${before + 1}`, () =>
      this.encodeStep(encoder, true),
    );
    void this.watch(errors, before).catch(() => undefined);
  }

  private encodeStep(encoder: GPUCommandEncoder, staged: boolean): void {
    // No validateHyper here: every path that changes `opts` (set, accessors, importState) validated it.
    const t = this.t + 1;
    // Tensors without overrides share one record: packed once, then copied.
    let shared = -1;
    this.tensors.forEach((tensor, i) => {
      const at = i * HYPER_BYTES;
      if (tensor.hasOverrides) {
        packHyper(stepScalars({ ...this.opts, ...tensor.overrides }, t), this.hyperView, at);
      } else if (shared < 0) {
        packHyper(stepScalars(this.opts, t), this.hyperView, at);
        shared = at;
      } else {
        this.hyperBytes.copyWithin(at, shared, shared + HYPER_BYTES);
      }
    });
    if (staged) {
      // Through a ring of staging slots copied inside the encoder: several steps recorded into one
      // encoder before its submit each see their own scalars.
      const bytes = this.hyperData.byteLength;
      this.encodeStaging ??= this.own({
        label: `${this.label}/hyper-staging`,
        size: bytes * ENCODE_RING,
        usage: Usage.COPY_SRC | Usage.COPY_DST,
      });
      const offset = (this.encodeCount++ % ENCODE_RING) * bytes;
      this.device.queue.writeBuffer(this.encodeStaging, offset, this.hyperData);
      encoder.copyBufferToBuffer(this.encodeStaging, offset, this.hyper, 0, bytes);
    } else {
      this.device.queue.writeBuffer(this.hyper, 0, this.hyperData);
    }
    const pass = encoder.beginComputePass({ label: `${this.label}/pass` });
    for (const d of this.dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups);
    }
    pass.end();
    this.t = t;
  }

  /** Records a later WebGPU error as this optimizer's failure and rolls the step count back to before it. */
  private watch(errors: Promise<void>, stepBefore: number): Promise<void> {
    // Not raced against device.lost: that would add a reaction to a promise that may never settle, per step.
    const checked = errors.then(() => {
      if (this.lostError) throw new Error(`AdaBelief: ${this.lostError.message}`);
    });
    return checked.catch((e: Error) => {
      if (!this.failure) {
        this.failure = e;
        this.t = stepBefore;
      }
      throw e;
    });
  }

  private checkUsable(what: string): void {
    if (this.destroyed) throw new Error(`AdaBelief.${what}: this optimizer was destroyed`);
    if (this.failure)
      throw new Error(
        `AdaBelief.${what}: the optimizer is unusable after an earlier error: ${this.failure.message}`,
      );
  }

  /** Where piece `p`'s state of kind `name` lives. */
  private stateRegion(name: StateName, p: Piece): { buffer: GPUBuffer; offset: number } {
    const w = this.layout.windows[p.window]!;
    return { buffer: this.state[name][w.stateBuffer]!, offset: w.stateOffset + p.stateIndex * 16 };
  }

  /** Reads the state back: `{ step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }`. */
  async exportState(): Promise<AdaBeliefState> {
    if (this.destroyed) throw new Error('AdaBelief.exportState: this optimizer was destroyed');
    if (this.lostError) throw new Error(`AdaBelief.exportState: ${this.lostError.message}`);
    const step = this.t;
    const options = this.options;
    const names = Object.keys(this.state) as StateName[];
    const pieces = this.layout.pieces;
    const regions = names.flatMap((name) =>
      pieces.map((p) => ({ ...this.stateRegion(name, p), bytes: p.count * 4 })),
    );
    const bytes = await readBuffers(this.device, regions, `${this.label}/exportState`);
    const tensors = this.tensors.map((t) => {
      const st = {} as TensorState;
      for (const name of names) st[name] = new Float32Array(t.size);
      return st;
    });
    names.forEach((name, k) =>
      pieces.forEach((p, j) =>
        tensors[p.tensor]![name]!.set(new Float32Array(bytes[k * pieces.length + j]!), p.start),
      ),
    );
    return { step, options, tensors };
  }

  /**
   * Replaces the step count, options and state (validated first: nothing changes when it throws).
   * The writes are queued, so the next `step()` sees them.
   */
  importState(state: AdaBeliefState<Float32Array | Float64Array>): void {
    this.checkUsable('importState');
    const options = checkImportedState(
      state,
      this.opts.amsgrad,
      this.tensors.map((t) => t.size),
    );
    const names = Object.keys(this.state) as StateName[];
    const { errors } = inErrorScopes(this.device, `${this.label}: importState`, () => {
      for (const p of this.layout.pieces) {
        for (const name of names) {
          const src = state.tensors[p.tensor]![name]!;
          const data = (
            src instanceof Float32Array ? src : Float32Array.from(src)
          ) as Float32Array<ArrayBuffer>;
          const { buffer, offset } = this.stateRegion(name, p);
          this.device.queue.writeBuffer(buffer, offset, data, p.start, p.count);
        }
      }
    });
    Object.assign(this.opts, options);
    this.t = state.step;
    void this.watch(errors, state.step).catch(() => undefined);
  }

  /** Releases the GPU buffers this optimizer owns (never the caller's param / grad buffers). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.ownedBuffers) b.destroy();
    this.ownedBuffers.length = 0;
  }
}
