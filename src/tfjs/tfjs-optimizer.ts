/**
 * FusedTfjsOptimizer: a `tf.Optimizer` whose update is a fused GPU optimizer (e.g. `AdaBelief`) working in
 * place on TF.js' own GPU buffers, or, on any backend other than webgpu, the same optimizer's CPU reference.
 *
 * On the webgpu backend, one `applyGradients()`:
 *   1. gives a variable whose data another tensor shares a buffer of its own (webgpu-backend.ts: ownData);
 *   2. flushes TF.js' recorded kernels, so the step runs after everything issued before it;
 *   3. points each variable's GPU optimizer at the variable's and the gradient's current buffers (`rebind`)
 *      and records every variable's update into one command encoder: one submit, no copy of the weights,
 *      no readback;
 *   4. drops each updated variable's cached CPU copy, so `dataSync()` reads the new values.
 *
 * Each variable has its own GPU optimizer and step count, created on the first step that has a gradient
 * for it. A variable whose gradient is missing (null / undefined) in a call is not touched at all: its
 * weights, state and step count stay as they are, as in PyTorch (a parameter whose `.grad` is None is
 * skipped and its own `step` does not advance) and as in TF.js' Adam (whose moments stay, though its bias
 * correction follows the global count). One GPU optimizer over all variables would have to step them all.
 *
 * Errors: bad input throws from `applyGradients` before anything runs. A WebGPU error of a step arrives
 * asynchronously: it is logged with console.error, and the next call (applyGradients, setWeights) throws it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  FusedCpuOptimizer,
  FusedFamily,
  FusedGpuOptimizer,
  FusedState,
  StateTensorName,
} from './family.js';
import { configFromOptions, show } from './config.js';
import { parseSavedWeights, type NamedTensor, type SavedVariableState } from './saved-weights.js';
import {
  dropCpuCopy,
  flushTfjs,
  gpuBufferOf,
  ownData,
  webgpuBackend,
  type WebGPUBackendInternals,
} from './webgpu-backend.js';

type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

/** A variable with its gradient for this call (null: none). */
interface Update {
  name: string;
  variable: tf.Variable;
  grad: tf.Tensor | null;
  /** Position in the call's list (TF.js' convention for matching restored state). */
  index: number;
}

/** One variable's optimizer: the GPU one on the webgpu backend, else the CPU reference. */
type Slot =
  | { name: string; size: number; shape: number[]; kind: 'gpu'; gpu: FusedGpuOptimizer }
  | { name: string; size: number; shape: number[]; kind: 'cpu'; cpu: FusedCpuOptimizer; param: Float32Array };

export abstract class FusedTfjsOptimizer<O extends object> extends tf.Optimizer {
  private readonly opts: O;
  /** By variable name, in the order of their first step. */
  private readonly slots = new Map<string, Slot>();
  /** Restored by setWeights() for variables that have not stepped yet. */
  private pending: (SavedVariableState | undefined)[] = [];
  /** Tensors returned by the last getWeights(); owned here, disposed by the next call and by dispose(). */
  private snapshot: tf.Tensor[] = [];
  private failure: Error | undefined;
  private disposed = false;

  protected constructor(
    private readonly family: FusedFamily<O>,
    options: Partial<O>,
    /** Prefix of the GPU objects' labels. */
    readonly label: string,
  ) {
    super();
    this.opts = family.resolve(options);
  }

  /** A copy of the options. */
  get options(): O {
    return structuredClone(this.opts);
  }

  /** Changes options between steps (validated; those fixed at construction, e.g. amsgrad, throw). */
  set(changes: Partial<O>): void {
    this.checkUsable('set');
    for (const key of this.family.fixed) {
      if (key in changes && changes[key] !== this.opts[key]) {
        throw new TypeError(`${this.family.name}.set: '${String(key)}' is fixed at construction`);
      }
    }
    Object.assign(this.opts, this.family.resolve({ ...this.opts, ...changes }));
    const settable: Partial<O> = { ...changes };
    for (const key of this.family.fixed) delete settable[key];
    for (const slot of this.slots.values()) (slot.kind === 'gpu' ? slot.gpu : slot.cpu).set(settable);
  }

  /** Steps taken by each variable so far (variables skipped for lack of a gradient lag behind `iterations`). */
  get stepCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, slot] of this.slots) out[name] = (slot.kind === 'gpu' ? slot.gpu : slot.cpu).stepCount;
    return out;
  }

  override applyGradients(variableGradients: VariableGradients): void {
    this.checkUsable('applyGradients');
    const updates = this.collect(variableGradients).filter((u) => u.grad !== null && u.variable.size > 0);
    const backend = webgpuBackend();
    if (updates.length) {
      if (backend) this.stepOnGpu(backend, updates);
      else this.stepOnCpu(updates);
    }
    this.incrementIterations();
  }

  /** The call's variables and gradients, checked (names, dtypes, sizes). */
  private collect(variableGradients: VariableGradients): Update[] {
    const who = `${this.family.name}.applyGradients`;
    if (variableGradients === null || typeof variableGradients !== 'object') {
      throw new TypeError(
        `${who}: expected { [variableName]: gradient } or [{ name, tensor }], got ${show(variableGradients)}`,
      );
    }
    const list: { name: string; tensor: tf.Tensor | null | undefined }[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    list.forEach((entry, i) => {
      if (entry === null || typeof entry !== 'object' || typeof entry.name !== 'string') {
        throw new TypeError(`${who}: entry ${i} must be { name, tensor }, got ${show(entry)}`);
      }
    });
    // A variable listed twice: TF.js' cpu path would step it once per entry and the in-place GPU step once with
    // the last gradient. Neither is what the caller meant (torch refuses a parameter listed twice): refuse.
    const first = new Map<string, number>();
    list.forEach(({ name }, i) => {
      const earlier = first.get(name);
      if (earlier !== undefined) {
        throw new Error(
          `${who}: variable '${name}' is listed twice (entries ${earlier} and ${i}); give each variable one gradient per call (sum them first)`,
        );
      }
      first.set(name, i);
    });
    const registered = tf.engine().registeredVariables;
    return list.map(({ name, tensor }, index) => {
      const variable = registered[name];
      if (!variable) throw new Error(`${who}: no variable named '${name}' is registered`);
      if (variable.dtype !== 'float32') {
        throw new TypeError(
          `${who}: variable '${name}' has dtype ${variable.dtype}; only float32 is supported`,
        );
      }
      if (tensor == null) return { name, variable, grad: null, index };
      if (tensor.dtype !== 'float32') {
        throw new TypeError(`${who}: the gradient of '${name}' has dtype ${tensor.dtype}; expected float32`);
      }
      if (tensor.size !== variable.size) {
        throw new RangeError(
          `${who}: the gradient of '${name}' has ${tensor.size} elements (shape [${tensor.shape}]), the variable ${variable.size} (shape [${variable.shape}])`,
        );
      }
      return { name, variable, grad: tensor, index };
    });
  }

  /** The in-place step on TF.js' device: one command encoder, one submit (see the file header). */
  private stepOnGpu(backend: WebGPUBackendInternals, updates: Update[]): void {
    for (const u of updates) ownData(backend, u.variable);
    // Gradients in a buffer larger than the tensor (user-made `tf.tensor(gpuData)`) are copied into an exact
    // one: then every step's buffers split each variable into the same dispatches, which `rebind` requires.
    const temporaries: tf.Tensor[] = [];
    const grads = updates.map((u) => {
      const grad = u.grad!;
      if (gpuBufferOf(backend, grad, `the gradient of '${u.name}'`).size === grad.size * 4) return grad;
      const exact = tf.tidy(() => tf.mul(grad, 1));
      temporaries.push(exact);
      return exact;
    });
    const buffers = updates.map((u, i) => ({
      param: gpuBufferOf(backend, u.variable, `variable '${u.name}'`),
      grad: gpuBufferOf(backend, grads[i]!, `the gradient of '${u.name}'`),
    }));
    flushTfjs(backend);

    const device = backend.device;
    const optimizers = updates.map((u, i) => {
      const slot = this.slots.get(u.name);
      if (!slot) return this.createGpuSlot(device, u, buffers[i]!);
      const gpu = this.expectSlot(slot, u, 'gpu').gpu;
      this.watch(gpu.rebind([buffers[i]!]));
      return gpu;
    });
    const stepNumber = this.iterations + 1;
    const encoder = device.createCommandEncoder({ label: `${this.label}/step` });
    device.pushErrorScope('validation');
    try {
      for (const gpu of optimizers) gpu.encode(encoder);
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      // Some variables' step counts may have advanced without their step being submitted: refuse to go on.
      this.failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      this.watch(
        device.popErrorScope().then((e) => {
          if (e)
            throw new Error(`${this.label}: WebGPU validation error in step ${stepNumber}: ${e.message}`);
        }),
      );
    }
    for (const u of updates) dropCpuCopy(backend, u.variable);
    for (const t of temporaries) t.dispose();
  }

  private createGpuSlot(
    device: GPUDevice,
    u: Update,
    buffers: { param: GPUBuffer; grad: GPUBuffer },
  ): FusedGpuOptimizer {
    const saved = this.takePending(u);
    const gpu = this.family.gpu(
      device,
      { ...buffers, size: u.variable.size, name: u.name },
      this.opts,
      `${this.label}/${u.name}`,
    );
    this.watch(gpu.ready);
    if (saved) gpu.importState(this.toState(saved));
    this.slots.set(u.name, {
      name: u.name,
      size: u.variable.size,
      shape: [...u.variable.shape],
      kind: 'gpu',
      gpu,
    });
    return gpu;
  }

  /** The CPU reference step (any backend but webgpu): read the values, step, assign the result. */
  private stepOnCpu(updates: Update[]): void {
    for (const u of updates) {
      let slot = this.slots.get(u.name);
      if (!slot) {
        const saved = this.takePending(u);
        const param = new Float32Array(u.variable.size);
        const cpu = this.family.cpu(param, this.opts);
        if (saved) cpu.importState(this.toState(saved));
        slot = { name: u.name, size: param.length, shape: [...u.variable.shape], kind: 'cpu', cpu, param };
        this.slots.set(u.name, slot);
      }
      const { cpu, param } = this.expectSlot(slot, u, 'cpu');
      param.set(u.variable.dataSync());
      const grad = u.grad!.dataSync();
      cpu.step([grad instanceof Float32Array ? grad : Float32Array.from(grad)]);
      tf.tidy(() => u.variable.assign(tf.tensor(param.slice(), u.variable.shape, 'float32')));
    }
  }

  /** Checks that `slot` is of `kind` and of `u`'s size (a backend switch or a renamed variable would break it). */
  private expectSlot<K extends Slot['kind']>(slot: Slot, u: Update, kind: K): Extract<Slot, { kind: K }> {
    if (slot.kind !== kind) {
      throw new Error(
        `${this.family.name}: variable '${u.name}' was stepped on ${slot.kind === 'gpu' ? "the 'webgpu' backend" : `the CPU reference (backend '${tf.getBackend()}' now)`}; ` +
          `the backend changed. Save the state with getWeights() and setWeights() it into a new optimizer`,
      );
    }
    if (slot.size !== u.variable.size) {
      throw new RangeError(
        `${this.family.name}: variable '${u.name}' has ${u.variable.size} elements; this optimizer's state for that name has ${slot.size}`,
      );
    }
    return slot as Extract<Slot, { kind: K }>;
  }

  /** Restored state for a variable's first step: the record with its name, else the one at its position. */
  private takePending(u: Update): SavedVariableState | undefined {
    let k = this.pending.findIndex((r) => r?.name === u.name);
    if (k < 0) k = u.index;
    const saved = this.pending[k];
    if (!saved) return undefined;
    if (saved.size !== u.variable.size) {
      throw new RangeError(
        `${this.family.name}: restored state '${saved.name}' (position ${k}) has ${saved.size} elements; variable '${u.name}' has ${u.variable.size}`,
      );
    }
    this.pending[k] = undefined;
    return saved;
  }

  private toState(saved: SavedVariableState): FusedState {
    const tensor: Record<string, Float32Array> = {};
    for (const { key, suffix } of this.stateNames()) tensor[key] = saved.tensors.get(suffix)!;
    return { step: saved.step ?? this.iterations, options: this.opts, tensors: [tensor] };
  }

  private stateNames(): readonly StateTensorName[] {
    return this.family.stateTensors(this.opts);
  }

  /**
   * `[iter, ...${name}/${suffix} for each state kind and variable, ...${name}/step]` (see saved-weights.ts),
   * variables in the order of their first step, then restored ones that have not stepped yet. The tensors
   * belong to the optimizer: valid until the next getWeights() or dispose(); do not dispose them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    if (this.disposed) throw new Error(`${this.family.name}.getWeights: the optimizer was disposed`);
    const live = [...this.slots.values()];
    const states = await Promise.all(
      live.map((s) => (s.kind === 'gpu' ? s.gpu.exportState() : Promise.resolve(s.cpu.exportState()))),
    );
    const records: { name: string; shape: number[]; step: number; tensor: (key: string) => Float32Array }[] =
      [
        ...live.map((s, i) => ({
          name: s.name,
          shape: s.shape,
          step: states[i]!.step,
          tensor: (key: string) => (states[i]!.tensors[0] as Record<string, Float32Array>)[key]!,
        })),
        ...this.pending.flatMap((r) =>
          r
            ? [
                {
                  name: r.name,
                  shape: r.shape,
                  step: r.step ?? this.iterations,
                  tensor: (key: string) => r.tensors.get(this.suffixOf(key))!,
                },
              ]
            : [],
        ),
      ];
    tf.dispose(this.snapshot);
    const weights: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.iterations, 'int32') }];
    for (const { key, suffix } of this.stateNames()) {
      for (const r of records) {
        weights.push({ name: `${r.name}/${suffix}`, tensor: tf.tensor(r.tensor(key), r.shape, 'float32') });
      }
    }
    for (const r of records) weights.push({ name: `${r.name}/step`, tensor: tf.scalar(r.step, 'int32') });
    this.snapshot = weights.map((w) => w.tensor);
    return weights;
  }

  private suffixOf(key: string): string {
    return this.stateNames().find((n) => n.key === key)!.suffix;
  }

  /**
   * Restores what getWeights() returned (or `model.save({ includeOptimizer: true })` stored). State for a
   * variable that already stepped is imported at once; the rest waits for the variable's first step and is
   * matched by name, else by position in that call's variable list (TF.js' convention: a reloaded model's
   * variables get new names). The options are not part of it: they come from the constructor / getConfig().
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.checkUsable('setWeights');
    if (!weightValues.length || weightValues[0]!.name !== 'iter') {
      throw new Error(`${this.family.name}.setWeights: expected 'iter' as the first weight`);
    }
    const rest = await this.extractIterations(weightValues);
    const suffixes = this.stateNames().map((n) => n.suffix);
    const records = await parseSavedWeights(rest, suffixes, this.family.name);
    this.pending = records.map((record) => {
      const slot = this.slots.get(record.name);
      if (!slot) return record;
      if (slot.size !== record.size) {
        throw new RangeError(
          `${this.family.name}.setWeights: '${record.name}' has ${record.size} elements, the variable ${slot.size}`,
        );
      }
      (slot.kind === 'gpu' ? slot.gpu : slot.cpu).importState(this.toState(record));
      return undefined;
    });
  }

  /** Frees the GPU optimizers' buffers and the tensors of the last getWeights(). */
  override dispose(): void {
    this.disposed = true;
    for (const slot of this.slots.values()) if (slot.kind === 'gpu') slot.gpu.destroy();
    this.slots.clear();
    this.pending = [];
    tf.dispose(this.snapshot);
    this.snapshot = [];
    super.dispose();
  }

  /**
   * The options as TF.js serialization stores them (`model.save` with includeOptimizer), under TF.js' config
   * keys where TF.js has one (`learningRate`, `beta1`, `beta2`, `epsilon`, `useNesterov`; see config.ts).
   */
  override getConfig(): tf.serialization.ConfigDict {
    return configFromOptions(structuredClone(this.opts));
  }

  /** The name used in messages, e.g. 'AdaBeliefOptimizer'. */
  protected get displayName(): string {
    return this.family.name;
  }

  private checkUsable(what: string): void {
    if (this.disposed) throw new Error(`${this.family.name}.${what}: the optimizer was disposed`);
    if (this.failure) {
      throw new Error(
        `${this.family.name}.${what}: unusable after an earlier WebGPU error: ${this.failure.message}`,
      );
    }
  }

  /** Records an asynchronous failure: logged now, thrown by the next call. */
  private watch(p: Promise<unknown>): void {
    p.catch((e: unknown) => {
      const error = e instanceof Error ? e : new Error(String(e));
      if (!this.failure) console.error(`${this.family.name}: ${error.message}`);
      this.failure ??= error;
    });
  }
}
