/**
 * AdaBelief on WebGPU: one fused compute pass updates every parameter (and its m, s, smax) in place.
 *
 *   const opt = new AdaBelief(device, [{ param: pBuf, grad: gBuf, size: n }], { lr: 1e-3 });
 *   await opt.ready;     // construction checks that need the GPU (e.g. a buffer of another device)
 *   opt.step();          // writes one uniform, encodes one pass, submits once; never reads back
 *
 * Update rule and defaults: see options.ts and hyper.ts (adabelief-pytorch 0.2.1 unless
 * `semantics: 'torch-optimizer'`). Everything that can be checked without the GPU is checked
 * synchronously before any GPU work; WebGPU errors of our own calls are caught with error scopes and
 * turned into rejected promises, and make the optimizer refuse further steps.
 */
import { HYPER_SLOT_BYTES, packHyper, stepScalars } from './hyper.js';
import { planLayout, workgroupsFor, type Chunk, type Layout } from './layout.js';
import {
  resolveOptions,
  validateHyper,
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

type StateName = keyof TensorState;

/** One recorded dispatch of a step: a chunk's whole vec4s (`main`) or its last count % 4 elements (`tail`). */
interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
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
  private readonly uniform: GPUBuffer;
  private readonly uniformData: ArrayBuffer;
  private encodeStaging: GPUBuffer | undefined;
  private encodeCount = 0;
  private readonly uniformView: DataView;
  private readonly dispatches: Dispatch[] = [];
  private t = 0;
  private failure: Error | undefined;
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
    this.layout = planLayout(
      this.tensors.map((t) => ({ size: t.size, paramOffset: t.param.offset, gradOffset: t.grad.offset })),
      device.limits,
    );
    this.uniformData = new ArrayBuffer(this.layout.chunks.length * HYPER_SLOT_BYTES);
    this.uniformView = new DataView(this.uniformData);

    // Everything below talks to the GPU; its errors arrive asynchronously through `ready`.
    const checks: Promise<void>[] = [];
    const { value: created, errors } = inErrorScopes(device, `${label}: allocating optimizer state`, () => {
      const kernel = kernelPipelines(device, workgroupSize);
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
      const uniform = this.own({
        label: `${label}/hyper`,
        size: this.uniformData.byteLength,
        usage: Usage.UNIFORM | Usage.COPY_DST,
      });
      return { kernel, state, uniform };
    });
    checks.push(errors);
    this.kernel = created.kernel;
    this.state = created.state;
    this.uniform = created.uniform;

    // Placeholder for max_exp_avg_var without AMSGrad (bound, never touched).
    const unusedMax = this.own({ label: `${label}/unused-max_exp_avg_var`, size: 16, usage: Usage.STORAGE });
    this.layout.chunks.forEach((c, slot) => {
      const tensor = this.tensors[c.tensor]!;
      const { value, errors } = inErrorScopes(
        device,
        `${label}: params[${c.tensor}] ('${tensor.name}')`,
        () => this.chunkDispatches(c, slot, tensor, unusedMax, workgroupSize, maxWorkgroups),
      );
      this.dispatches.push(...value);
      checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
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

  /** Bind groups and grid sizes of chunk `slot`: its whole vec4s, then its last count % 4 elements. */
  private chunkDispatches(
    c: Chunk,
    slot: number,
    tensor: Tensor,
    unusedMax: GPUBuffer,
    workgroupSize: number,
    maxWorkgroups: number,
  ): Dispatch[] {
    const name = `${this.label}/${tensor.name}@${c.start}`;
    const state = (binding: number, which: StateName): GPUBindGroupEntry => ({
      binding,
      resource: { buffer: this.state[which][c.stateBuffer]!, offset: c.stateOffset, size: c.stateBytes },
    });
    const shared: GPUBindGroupEntry[] = [
      {
        binding: 0,
        resource: { buffer: this.uniform, offset: slot * HYPER_SLOT_BYTES, size: HYPER_SLOT_BYTES },
      },
      state(3, 'exp_avg'),
      state(4, 'exp_avg_var'),
      this.opts.amsgrad ? state(5, 'max_exp_avg_var') : { binding: 5, resource: { buffer: unusedMax } },
    ];
    const out: Dispatch[] = [];
    const vec4Bytes = Math.floor(c.count / 4) * 16;
    if (vec4Bytes > 0) {
      const { pipeline, layout } = this.kernel.body;
      const entries = [
        ...shared,
        { binding: 1, resource: { buffer: tensor.param.buffer, offset: c.paramOffset, size: vec4Bytes } },
        { binding: 2, resource: { buffer: tensor.grad.buffer, offset: c.gradOffset, size: vec4Bytes } },
      ];
      const bindGroup = this.device.createBindGroup({ label: name, layout, entries });
      out.push({ pipeline, bindGroup, workgroups: workgroupsFor(c.count, workgroupSize, maxWorkgroups) });
    }
    if (c.count % 4 !== 0) {
      const { pipeline, layout } = this.kernel.tail;
      const entries = [
        ...shared,
        { binding: 6, resource: { buffer: tensor.param.buffer, offset: c.paramOffset, size: c.count * 4 } },
        { binding: 7, resource: { buffer: tensor.grad.buffer, offset: c.gradOffset, size: c.count * 4 } },
      ];
      out.push({
        pipeline,
        bindGroup: this.device.createBindGroup({ label: `${name}-tail`, layout, entries }),
        workgroups: 1,
      });
    }
    return out;
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
  // validated with the official messages; the next step picks it up through the uniform, nothing is
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
    if ('amsgrad' in changes && (changes as AdaBeliefOptions).amsgrad !== this.opts.amsgrad) {
      throw new Error('amsgrad is fixed at construction: it decides which state buffers exist');
    }
    Object.assign(this.opts, resolveOptions({ ...this.opts, ...changes }));
  }

  /** Replaces the per-parameter overrides of parameter `i` (lr, betas, eps, weightDecay). */
  setOverrides(i: number, overrides: GroupOverrides): void {
    this.checkUsable('setOverrides');
    const tensor = this.tensors[i];
    if (!tensor) throw new RangeError(`setOverrides: no parameter ${i} (have ${this.tensors.length})`);
    validateOverrides(overrides, `params[${i}]`);
    tensor.overrides = { ...overrides };
  }

  /**
   * One step for every parameter: one uniform write, one compute pass, one submit. Returns a promise that
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
    validateHyper(this.opts);
    const t = this.t + 1;
    let slot = 0;
    this.tensors.forEach((tensor, ti) => {
      const scalars = stepScalars({ ...this.opts, ...tensor.overrides }, t);
      for (; slot < this.layout.chunks.length && this.layout.chunks[slot]!.tensor === ti; slot++) {
        packHyper(scalars, this.layout.chunks[slot]!.count, this.uniformView, slot * HYPER_SLOT_BYTES);
      }
    });
    if (staged) {
      // Through a ring of staging slots copied inside the encoder: several steps recorded into one
      // encoder before its submit each see their own scalars.
      const bytes = this.uniformData.byteLength;
      this.encodeStaging ??= this.own({
        label: `${this.label}/hyper-staging`,
        size: bytes * ENCODE_RING,
        usage: Usage.COPY_SRC | Usage.COPY_DST,
      });
      const offset = (this.encodeCount++ % ENCODE_RING) * bytes;
      this.device.queue.writeBuffer(this.encodeStaging, offset, this.uniformData);
      encoder.copyBufferToBuffer(this.encodeStaging, offset, this.uniform, 0, bytes);
    } else {
      this.device.queue.writeBuffer(this.uniform, 0, this.uniformData);
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
    return errors.catch((e: Error) => {
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

  /** Reads the state back: `{ step, options, tensors: [{ exp_avg, exp_avg_var, max_exp_avg_var? }] }`. */
  async exportState(): Promise<AdaBeliefState> {
    if (this.destroyed) throw new Error('AdaBelief.exportState: this optimizer was destroyed');
    const step = this.t;
    const options = this.options;
    const names = Object.keys(this.state) as StateName[];
    const chunks = this.layout.chunks;
    const regions = names.flatMap((name) =>
      chunks.map((c) => ({
        buffer: this.state[name][c.stateBuffer]!,
        offset: c.stateOffset,
        bytes: c.count * 4,
      })),
    );
    const bytes = await readBuffers(this.device, regions, `${this.label}/exportState`);
    const tensors = this.tensors.map((t) => {
      const st = {} as TensorState;
      for (const name of names) st[name] = new Float32Array(t.size);
      return st;
    });
    names.forEach((name, k) =>
      chunks.forEach((c, j) =>
        tensors[c.tensor]![name]!.set(new Float32Array(bytes[k * chunks.length + j]!), c.start),
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
      for (const c of this.layout.chunks) {
        for (const name of names) {
          const src = state.tensors[c.tensor]![name]!;
          const data = (
            src instanceof Float32Array ? src : Float32Array.from(src)
          ) as Float32Array<ArrayBuffer>;
          this.device.queue.writeBuffer(
            this.state[name][c.stateBuffer]!,
            c.stateOffset,
            data,
            c.start,
            c.count,
          );
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

/** Adds what most likely went wrong to a bind-group error WebGPU reported. */
function explainBindError(e: Error): Error {
  const foreign = /device|associated/i.test(e.message);
  const hint = foreign
    ? ' (is a buffer from another GPUDevice?)'
    : ' (is a buffer destroyed or too large for this device?)';
  return new Error(`${e.message}${hint}`);
}
