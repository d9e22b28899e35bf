/**
 * FusedTfjsOptimizer: a `tf.Optimizer` whose update is a fused GPU optimizer (e.g. `AdaBelief`) working in
 * place on TF.js' own GPU buffers, or, on any backend other than webgpu, the same optimizer's CPU reference.
 *
 * ONE optimizer steps every variable of an `applyGradients()` call: one GPU optimizer (or one CPU reference)
 * over all of them, so the guard (loss scale, skip on inf/NaN, clipping by the global norm) decides for the
 * whole step, and there is one step count (optimizer-wide, like TF.js' own Adam's global `accBeta`).
 *
 * On the webgpu backend, one `applyGradients()`:
 *   1. gives a variable whose data another tensor shares a buffer of its own (webgpu-backend.ts: ownData);
 *   2. flushes TF.js' recorded kernels, so the step runs after everything issued before it;
 *   3. points the GPU optimizer at the variables' and the gradients' current buffers (`rebind`) and records
 *      the step into one command encoder: one submit, no copy of the weights, no readback. When the set of
 *      variables differs from the previous call's (a variable joins, leaves, or has no gradient this time), a
 *      new GPU optimizer is built over the new set and `copyStateFrom` records, into the same encoder before
 *      the step, the copy of the step count and of each variable's state from the optimizer that holds it —
 *      on the GPU, in queue order, no readback;
 *   4. drops each updated variable's cached CPU copy, so `dataSync()` reads the new values.
 *
 * A variable whose gradient is missing (null / undefined, e.g. not connected to the loss) in a call is not
 * stepped: its weights and state stay as they are (as PyTorch skips a parameter whose `.grad` is None; TF.js'
 * Adam also leaves its moments). Its state stays in the GPU optimizer that held it until it steps again (then
 * it is copied into the optimizer of that step) or leaves. A variable leaves when it is no longer registered
 * with TF.js (disposed): its state is dropped at the next call. Optimizers that hold no state any more are
 * destroyed.
 *
 * Errors: bad input throws from `applyGradients` before anything runs. A WebGPU error of a step arrives
 * asynchronously: it is logged with console.error, and the next call (applyGradients, setWeights) throws it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CPUGuardResult, GuardReport, Overrides } from '../internal.js';
import type {
  FusedCpuOptimizer,
  FusedFamily,
  FusedGpuOptimizer,
  GpuVariableEntry,
  ResolvedGuard,
  StateTensorName,
} from './family.js';
import { configFromOptions, show } from './config.js';
import { checkGroups, groupOf, groupsToConfig, type CheckedGroup } from './groups.js';
import { checkGuardOptions, checkMaxNorm, checkScale, type TfjsGuardOptions } from './guard.js';
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

/** A GPU optimizer and the variables of its tensors, in tensor order. */
interface GpuHolder {
  gpu: FusedGpuOptimizer;
  members: string[];
}

/** A variable this optimizer keeps state for, in the order of first steps. */
interface Known {
  name: string;
  size: number;
  shape: number[];
  /** Its group's overrides (decided at its first step). */
  overrides: Overrides;
  /** webgpu: the GPU optimizer holding its state, and its tensor there. */
  home?: { holder: GpuHolder; index: number };
  /** cpu: its state while it is not in the current CPU optimizer. */
  parked?: Record<string, Float32Array>;
}

/** One update of a step, checked: the variable's record if it has one, else its group and restored state. */
interface Planned {
  u: Update;
  known: Known | undefined;
  overrides: Overrides;
  saved: SavedVariableState | undefined;
  savedAt: number;
}

/** The optimizer of the latest step: the GPU optimizer on webgpu, else the CPU reference. */
type Engine =
  | { kind: 'gpu'; holder: GpuHolder }
  | { kind: 'cpu'; cpu: FusedCpuOptimizer; members: string[]; params: Float32Array[] };

/** The constructor options every TF.js optimizer of this package takes besides its hyperparameters. */
export interface TfjsExtras extends TfjsGuardOptions {
  /** Parameter groups (groups.ts): `[{ match, ...overrides }]`, first match wins. */
  groups?: unknown;
}

const sameMembers = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((n) => set.has(n));
};

export abstract class FusedTfjsOptimizer<O extends object> extends tf.Optimizer {
  private readonly opts: O;
  private readonly guard: ResolvedGuard | undefined;
  private readonly groups: CheckedGroup[];
  /** By variable name, in the order of their first step. */
  private readonly known = new Map<string, Known>();
  private engine: Engine | undefined;
  /** GPU optimizers alive (the current one and those holding state of variables absent since). */
  private readonly holders = new Set<GpuHolder>();
  /** The step count restored by setWeights() before the first step. */
  private baseCount: number | undefined;
  /** The CPU reference's report of the latest step (guard on). */
  private cpuReport: GuardReport | undefined;
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
    extras: TfjsExtras = {},
  ) {
    super();
    this.opts = family.resolve(options);
    this.guard = checkGuardOptions(family.name, extras);
    this.groups = checkGroups(family.name, extras.groups, (o, where) => family.validateOverrides(o, where));
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
    const e = this.engine;
    if (e) (e.kind === 'gpu' ? e.holder.gpu : e.cpu).set(settable);
  }

  // ---- the guard --------------------------------------------------------------------------------------------

  /** The loss scale the gradients arrive multiplied by (1 without the guard). Settable between steps. */
  get gradScale(): number {
    return this.guard?.gradScale ?? 1;
  }

  set gradScale(scale: number) {
    const who = `${this.family.name}.gradScale`;
    this.checkUsable('gradScale');
    const guard = this.requireGuard('gradScale');
    checkScale(who, scale);
    guard.gradScale = scale;
    if (this.engine?.kind === 'gpu') this.engine.holder.gpu.gradScale = scale;
  }

  /** The global L2 norm the gradients are clipped to (Infinity: none). Settable between steps with the guard. */
  get maxGradNorm(): number {
    return this.guard?.maxGradNorm ?? Infinity;
  }

  set maxGradNorm(max: number) {
    this.checkUsable('maxGradNorm');
    const guard = this.requireGuard('maxGradNorm');
    checkMaxNorm(`${this.family.name}.maxGradNorm`, max);
    guard.maxGradNorm = max;
    if (this.engine?.kind === 'gpu') this.engine.holder.gpu.maxGradNorm = max;
  }

  /** Whether a step with an inf/NaN unscaled gradient is skipped. Fixed at construction. */
  get skipNonFinite(): boolean {
    return this.guard?.skipNonFinite ?? false;
  }

  set skipNonFinite(_: boolean) {
    throw new TypeError(
      `${this.family.name}.skipNonFinite is fixed at construction (it decides whether the guard passes run): ` +
        `create a new optimizer with it and setWeights() this one's getWeights()`,
    );
  }

  private requireGuard(what: string): ResolvedGuard {
    if (!this.guard) {
      throw new Error(
        `${this.family.name}.${what}: construct the optimizer with gradScale, skipNonFinite or maxGradNorm to run the guard passes`,
      );
    }
    return this.guard;
  }

  /**
   * What the latest step decided: `{ skipped, foundNonFinite, gradNorm, clipCoef, applied }` (`gradNorm`: the
   * global L2 norm of the unscaled gradients over every variable of the step; `applied`: the step count). On the
   * webgpu backend one small readback after the work queued so far. Needs the guard options.
   */
  async lastStepReport(): Promise<GuardReport> {
    this.checkUsable('lastStepReport');
    this.requireGuard('lastStepReport');
    const e = this.engine;
    if (e?.kind === 'gpu') return e.holder.gpu.lastStepReport();
    if (e?.kind === 'cpu' && this.cpuReport) return { ...this.cpuReport };
    throw new Error(`${this.family.name}.lastStepReport: no step has run yet`);
  }

  /** Whether the latest step was skipped for a non-finite gradient (for `GradScaler.record`). */
  async lastStepSkipped(): Promise<boolean> {
    return (await this.lastStepReport()).skipped;
  }

  /** The global L2 norm of the latest step's unscaled gradients. */
  async lastGradNorm(): Promise<number> {
    return (await this.lastStepReport()).gradNorm;
  }

  // ---- the step count ---------------------------------------------------------------------------------------

  /**
   * The optimizer's step count: steps applied, one count for every variable (a variable joining late is stepped
   * at the optimizer's count, as TF.js' Adam does). On the webgpu backend with `skipNonFinite` it assumes that no
   * issued step was skipped; `await readStepCount()` reads the GPU's own.
   */
  get stepCount(): number {
    const e = this.engine;
    if (!e) return this.baseCount ?? 0;
    return e.kind === 'gpu' ? e.holder.gpu.stepCount : e.cpu.stepCount;
  }

  /** The step count the GPU holds after the work queued so far (one small readback on webgpu). */
  async readStepCount(): Promise<number> {
    this.checkUsable('readStepCount');
    const e = this.engine;
    return e?.kind === 'gpu' ? e.holder.gpu.readStepCount() : this.stepCount;
  }

  /** Each variable with state and the step count its next step follows (the optimizer's: one for all). */
  get stepCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    const count = this.stepCount;
    for (const name of this.known.keys()) out[name] = count;
    return out;
  }

  // ---- the step ---------------------------------------------------------------------------------------------

  override applyGradients(variableGradients: VariableGradients): void {
    this.checkUsable('applyGradients');
    const updates = this.collect(variableGradients).filter((u) => u.grad !== null && u.variable.size > 0);
    const backend = webgpuBackend();
    this.dropLeft();
    if (updates.length) {
      const kind = backend ? 'gpu' : 'cpu';
      if (this.engine && this.engine.kind !== kind) {
        throw new Error(
          `${this.family.name}: this optimizer stepped on ${this.engine.kind === 'gpu' ? "the 'webgpu' backend" : `the CPU reference`} ` +
            `(backend '${tf.getBackend()}' now); the backend changed. Save the state with getWeights() and setWeights() it into a new optimizer`,
        );
      }
      const plan = this.plan(updates);
      if (backend) this.stepOnGpu(backend, plan);
      else this.stepOnCpu(plan);
      for (const p of plan) if (p.saved) this.pending[p.savedAt] = undefined;
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

  /** Variables no longer registered with TF.js (disposed) leave: their state is dropped. */
  private dropLeft(): void {
    const registered = tf.engine().registeredVariables;
    let left = false;
    for (const name of [...this.known.keys()]) {
      if (!registered[name]) {
        this.known.delete(name);
        left = true;
      }
    }
    if (left) this.releaseHolders();
  }

  /** Everything a step needs that can throw, checked before anything runs: sizes, groups, restored state. */
  private plan(updates: Update[]): Planned[] {
    const taken = new Set<number>();
    return updates.map((u) => {
      const known = this.known.get(u.name);
      if (known) {
        if (known.size !== u.variable.size) {
          throw new RangeError(
            `${this.family.name}: variable '${u.name}' has ${u.variable.size} elements; this optimizer's state for that name has ${known.size}`,
          );
        }
        return { u, known, overrides: known.overrides, saved: undefined, savedAt: -1 };
      }
      const g = groupOf(this.family.name, this.groups, u.variable);
      const overrides = g < 0 ? {} : { ...this.groups[g]!.overrides };
      const { saved, at } = this.findPending(u, taken);
      return { u, known: undefined, overrides, saved, savedAt: at };
    });
  }

  /** Restored state for a variable's first step: the record with its name, else the one at its position. */
  private findPending(u: Update, taken: Set<number>): { saved: SavedVariableState | undefined; at: number } {
    let k = this.pending.findIndex((r, i) => r?.name === u.name && !taken.has(i));
    if (k < 0) k = u.index;
    const saved = taken.has(k) ? undefined : this.pending[k];
    if (!saved) return { saved: undefined, at: -1 };
    if (saved.size !== u.variable.size) {
      throw new RangeError(
        `${this.family.name}: restored state '${saved.name}' (position ${k}) has ${saved.size} elements; variable '${u.name}' has ${u.variable.size}`,
      );
    }
    taken.add(k);
    return { saved, at: k };
  }

  /** Records a variable that steps for the first time. */
  private remember(p: Planned): Known {
    const k: Known = {
      name: p.u.name,
      size: p.u.variable.size,
      shape: [...p.u.variable.shape],
      overrides: p.overrides,
    };
    this.known.set(k.name, k);
    return k;
  }

  /** The in-place step on TF.js' device: one command encoder, one submit (see the file header). */
  private stepOnGpu(backend: WebGPUBackendInternals, plan: Planned[]): void {
    const updates = plan.map((p) => p.u);
    for (const u of updates) ownData(backend, u.variable);
    const params = updates.map((u) => gpuBufferOf(backend, u.variable, `variable '${u.name}'`));
    const paramSet = new Set(params);
    // Gradients in a buffer larger than the tensor (user-made `tf.tensor(gpuData)`) are copied into an exact
    // one: then every step's buffers split each variable into the same dispatches, which `rebind` requires. So
    // is a gradient living in a variable's buffer (a parameter cannot be read as a gradient while written).
    const temporaries: tf.Tensor[] = [];
    const buffers = updates.map((u, i) => {
      const grad = u.grad!;
      const what = `the gradient of '${u.name}'`;
      let buffer = gpuBufferOf(backend, grad, what);
      if (buffer.size !== grad.size * 4 || paramSet.has(buffer)) {
        const exact = tf.tidy(() => tf.mul(grad, 1));
        temporaries.push(exact);
        buffer = gpuBufferOf(backend, exact, what);
      }
      return { param: params[i]!, grad: buffer };
    });
    flushTfjs(backend);

    const device = backend.device;
    const names = updates.map((u) => u.name);
    const current = this.engine?.kind === 'gpu' ? this.engine.holder : undefined;
    let holder: GpuHolder | undefined;
    let copies: ((encoder: GPUCommandEncoder) => void) | undefined;
    if (current && sameMembers(current.members, names)) {
      const at = new Map(names.map((n, i) => [n, i]));
      try {
        this.watch(current.gpu.rebind(current.members.map((n) => buffers[at.get(n)!]!)));
        holder = current;
      } catch {
        // The new buffers group the tensors differently (e.g. two gradients now share a buffer): a new
        // optimizer over the same set, its state copied from this one.
      }
    }
    if (!holder) ({ holder, copies } = this.buildGpu(device, plan, buffers, current));

    const stepNumber = this.iterations + 1;
    const encoder = device.createCommandEncoder({ label: `${this.label}/step` });
    device.pushErrorScope('validation');
    try {
      copies?.(encoder);
      holder.gpu.encode(encoder);
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      // The step count may have advanced without the step being submitted: refuse to go on.
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
    // Each variable's tensor in the optimizer of this step (its members' order: a rebound one keeps its own).
    const index = new Map(holder.members.map((n, i) => [n, i]));
    for (const p of plan) (p.known ?? this.remember(p)).home = { holder, index: index.get(p.u.name)! };
    this.engine = { kind: 'gpu', holder };
    this.releaseHolders();
    for (const u of updates) dropCpuCopy(backend, u.variable);
    for (const t of temporaries) t.dispose();
  }

  /**
   * A GPU optimizer over this step's variables, and what to record before its step: the copy of each
   * variable's state from the optimizer holding it, and of the step count from the current one (last, so its
   * count wins). Restored state of variables joining now is written first (queue writes run before the submit).
   */
  private buildGpu(
    device: GPUDevice,
    plan: Planned[],
    buffers: { param: GPUBuffer; grad: GPUBuffer }[],
    current: GpuHolder | undefined,
  ): { holder: GpuHolder; copies: (encoder: GPUCommandEncoder) => void } {
    const entries: GpuVariableEntry[] = plan.map((p, i) => ({
      ...buffers[i]!,
      size: p.u.variable.size,
      name: p.u.name,
      ...p.overrides,
    }));
    const gpu = this.family.gpu(device, entries, this.opts, this.guard && { ...this.guard }, this.label);
    this.watch(gpu.ready);
    const holder: GpuHolder = { gpu, members: plan.map((p) => p.u.name) };
    this.holders.add(holder);
    if (plan.some((p) => p.saved) || (!current && this.baseCount !== undefined)) {
      gpu.importState({
        step: current ? current.gpu.stepCount : (this.baseCount ?? 0),
        options: this.opts,
        tensors: plan.map((p) => (p.saved ? this.toTensors(p.saved) : this.zeros(p.u.variable.size))),
      });
    }
    const bySource = new Map<GpuHolder, [number, number][]>();
    plan.forEach((p, i) => {
      const home = p.known?.home;
      if (!home) return;
      const map = bySource.get(home.holder) ?? [];
      map.push([home.index, i]);
      bySource.set(home.holder, map);
    });
    const copies = (encoder: GPUCommandEncoder) => {
      for (const [source, map] of bySource)
        if (source !== current) gpu.copyStateFrom(encoder, source.gpu, map);
      if (current) gpu.copyStateFrom(encoder, current.gpu, bySource.get(current) ?? []);
    };
    return { holder, copies };
  }

  /** Destroys the GPU optimizers that hold no variable's state and are not the current one. */
  private releaseHolders(): void {
    const used = new Set<GpuHolder>();
    for (const k of this.known.values()) if (k.home) used.add(k.home.holder);
    if (this.engine?.kind === 'gpu') used.add(this.engine.holder);
    for (const h of this.holders) {
      if (used.has(h)) continue;
      h.gpu.destroy();
      this.holders.delete(h);
    }
  }

  /** The CPU reference step (any backend but webgpu): read the values, step, assign the result. */
  private stepOnCpu(plan: Planned[]): void {
    const names = plan.map((p) => p.u.name);
    const previous = this.engine?.kind === 'cpu' ? this.engine : undefined;
    let engine: Extract<Engine, { kind: 'cpu' }>;
    if (previous && sameMembers(previous.members, names)) engine = previous;
    else {
      // A new CPU reference over this step's variables; state moves in from the old one or where it was parked.
      const old = previous;
      const count = old ? old.cpu.stepCount : (this.baseCount ?? 0);
      const oldState = new Map<string, Record<string, Float32Array>>();
      if (old) {
        const exported = old.cpu.exportState().tensors as Record<string, Float32Array>[];
        old.members.forEach((n, i) => oldState.set(n, exported[i]!));
      }
      const params = plan.map((p) => new Float32Array(p.u.variable.size));
      const cpu = this.family.cpu(
        plan.map((p, i) => ({ param: params[i]!, ...p.overrides })),
        this.opts,
      );
      cpu.importState({
        step: count,
        options: this.opts,
        tensors: plan.map(
          (p) =>
            oldState.get(p.u.name) ??
            p.known?.parked ??
            (p.saved ? this.toTensors(p.saved) : this.zeros(p.u.variable.size)),
        ),
      });
      for (const [name, state] of oldState) {
        const k = this.known.get(name);
        if (k && !names.includes(name)) k.parked = state;
      }
      engine = { kind: 'cpu', cpu, members: names, params };
    }
    const { cpu, params } = engine;
    const byName = new Map(plan.map((p) => [p.u.name, p.u]));
    const updates = engine.members.map((n) => byName.get(n)!);
    updates.forEach((u, i) => params[i]!.set(u.variable.dataSync()));
    const grads = updates.map((u) => {
      const g = u.grad!.dataSync();
      return g instanceof Float32Array ? g : Float32Array.from(g);
    });
    let report: CPUGuardResult | undefined;
    if (this.guard) {
      const { gradScale, maxGradNorm, skipNonFinite } = this.guard;
      report = cpu.step(grads, { gradScale, maxGradNorm, skipNonFinite });
    } else cpu.step(grads);
    this.engine = engine;
    for (const p of plan) {
      const k = p.known ?? this.remember(p);
      k.parked = undefined;
    }
    this.cpuReport = report && { ...report, applied: cpu.stepCount };
    if (report?.skipped) return;
    updates.forEach((u, i) =>
      tf.tidy(() => u.variable.assign(tf.tensor(params[i]!.slice(), u.variable.shape, 'float32'))),
    );
  }

  // ---- state --------------------------------------------------------------------------------------------------

  private toTensors(saved: SavedVariableState): Record<string, Float32Array> {
    const tensor: Record<string, Float32Array> = {};
    for (const { key, suffix } of this.stateNames()) tensor[key] = saved.tensors.get(suffix)!;
    return tensor;
  }

  private zeros(size: number): Record<string, Float32Array> {
    const tensor: Record<string, Float32Array> = {};
    for (const { key } of this.stateNames()) tensor[key] = new Float32Array(size);
    return tensor;
  }

  private stateNames(): readonly StateTensorName[] {
    return this.family.stateTensors(this.opts);
  }

  /** Every known variable's state tensors and the step count (one readback per GPU optimizer holding state). */
  private async readKnown(): Promise<{ count: number; states: Map<string, Record<string, Float32Array>> }> {
    const states = new Map<string, Record<string, Float32Array>>();
    const e = this.engine;
    if (!e) return { count: this.stepCount, states };
    if (e.kind === 'cpu') {
      const exported = e.cpu.exportState();
      e.members.forEach((n, i) => states.set(n, (exported.tensors as Record<string, Float32Array>[])[i]!));
      for (const k of this.known.values()) if (k.parked) states.set(k.name, k.parked);
      return { count: exported.step, states };
    }
    const holders = [e.holder, ...[...this.holders].filter((h) => h !== e.holder)];
    const exported = await Promise.all(holders.map((h) => h.gpu.exportState()));
    const byHolder = new Map(holders.map((h, i) => [h, exported[i]!]));
    for (const k of this.known.values()) {
      if (!k.home) continue;
      const s = byHolder.get(k.home.holder)!;
      states.set(k.name, (s.tensors as Record<string, Float32Array>[])[k.home.index]!);
    }
    return { count: exported[0]!.step, states };
  }

  /**
   * `[iter, ...${name}/${suffix} for each state kind and variable, ...${name}/step]` (see saved-weights.ts),
   * variables in the order of their first step, then restored ones that have not stepped yet. `/step` is the
   * optimizer's step count (one for all variables). The tensors belong to the optimizer: valid until the next
   * getWeights() or dispose(); do not dispose them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    if (this.disposed) throw new Error(`${this.family.name}.getWeights: the optimizer was disposed`);
    const { count, states } = await this.readKnown();
    const records: { name: string; shape: number[]; step: number; tensor: (key: string) => Float32Array }[] =
      [
        ...[...this.known.values()].map((k) => ({
          name: k.name,
          shape: k.shape,
          step: count,
          tensor: (key: string) => states.get(k.name)![key]!,
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
   * variables get new names). The step count becomes the largest `/step` saved (`iter` without any). The
   * options are not part of it: they come from the constructor / getConfig().
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.checkUsable('setWeights');
    if (!weightValues.length || weightValues[0]!.name !== 'iter') {
      throw new Error(`${this.family.name}.setWeights: expected 'iter' as the first weight`);
    }
    const rest = await this.extractIterations(weightValues);
    const suffixes = this.stateNames().map((n) => n.suffix);
    const records = await parseSavedWeights(rest, suffixes, this.family.name);
    for (const record of records) {
      const k = this.known.get(record.name);
      if (k && k.size !== record.size) {
        throw new RangeError(
          `${this.family.name}.setWeights: '${record.name}' has ${record.size} elements, the variable ${k.size}`,
        );
      }
    }
    const steps = records.flatMap((r) => (r.step === undefined ? [] : [r.step]));
    const count = steps.length ? Math.max(...steps) : this.iterations;
    const restored = new Map(records.filter((r) => this.known.has(r.name)).map((r) => [r.name, r]));
    const e = this.engine;
    if (!e) this.baseCount = count;
    else if (e.kind === 'cpu') {
      const state = e.cpu.exportState();
      const tensors = (state.tensors as Record<string, Float32Array>[]).map((t, i) => {
        const r = restored.get(e.members[i]!);
        return r ? this.toTensors(r) : t;
      });
      e.cpu.importState({ step: count, options: this.opts, tensors });
      for (const k of this.known.values()) {
        const r = restored.get(k.name);
        if (r && k.parked) k.parked = this.toTensors(r);
      }
    } else {
      const holders = [...this.holders];
      const states = await Promise.all(holders.map((h) => h.gpu.exportState()));
      holders.forEach((h, i) => {
        const tensors = (states[i]!.tensors as Record<string, Float32Array>[]).map((t, j) => {
          const name = h.members[j]!;
          const r = restored.get(name);
          // Only where the variable's state lives (a variable may appear in older optimizers too).
          const home = this.known.get(name)?.home;
          return r && home?.holder === h && home.index === j ? this.toTensors(r) : t;
        });
        h.gpu.importState({ step: count, options: this.opts, tensors });
      });
    }
    this.pending = records.map((r) => (restored.has(r.name) ? undefined : r));
  }

  /** Frees the GPU optimizers' buffers and the tensors of the last getWeights(). */
  override dispose(): void {
    this.disposed = true;
    for (const h of this.holders) h.gpu.destroy();
    this.holders.clear();
    this.known.clear();
    this.engine = undefined;
    this.pending = [];
    tf.dispose(this.snapshot);
    this.snapshot = [];
    super.dispose();
  }

  /**
   * The options as TF.js serialization stores them (`model.save` with includeOptimizer), under TF.js' config
   * keys where TF.js has one (`learningRate`, `beta1`, `beta2`, `epsilon`, `useNesterov`; see config.ts), the
   * guard options when given (`maxGradNorm` when finite), and the groups (groups.ts; a group matched by a
   * predicate cannot be serialized: this throws).
   */
  override getConfig(): tf.serialization.ConfigDict {
    const config = configFromOptions(structuredClone(this.opts));
    if (this.guard) {
      config.gradScale = this.guard.gradScale;
      config.skipNonFinite = this.guard.skipNonFinite;
      if (Number.isFinite(this.guard.maxGradNorm)) config.maxGradNorm = this.guard.maxGradNorm;
    }
    if (this.groups.length) config.groups = groupsToConfig(`${this.family.name}.getConfig`, this.groups);
    return config;
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
