/**
 * The GPU side of a step's guard (guard.ts has the pure parts): the `Control` buffer the update kernel
 * reads, the guard passes over the gradients (shaders/grad-stats.wgsl), the loss scale and clipping
 * settings, and the asynchronous readbacks that tell the host how many steps were applied.
 *
 * Every optimizer has a `Control` buffer (the update kernel binds it); an unguarded one keeps it at its
 * initial value (scale 1, no clipping, row 0) and runs no guard pass.
 */
import { describeWindow, explainBindError, replay, type Dispatch, type Tables } from './dispatches.js';
import type { Tensor } from './entries.js';
import { Usage, inErrorScopes, toRef } from './device.js';
import { statsPipelines, type StatsPipelines } from './pipelines.js';
import {
  AppliedTracker,
  MAX_ROWS,
  checkGradScale,
  checkMaxGradNorm,
  type GuardOptions,
  type GuardReport,
} from '../core/guard.js';
import { STATS_GROUPS, TAIL_PIECE, bindGroupEntries } from './abi.js';
import {
  CONTROL_APPLIED_AT,
  CONTROL_BYTES,
  initialControl,
  readControl,
  writeControlInputs,
} from './records.js';
import { BINDING_ALIGNMENT, type Layout } from './layout.js';

/** Readbacks of `Control` that may be in flight at once; a step finding none free skips its readback. */
const READBACK_SLOTS = 4;

export class StepGuard {
  /** Whether the guard passes run (any guard option given at construction). */
  readonly enabled: boolean;
  readonly control: GPUBuffer;
  readonly tracker = new AppliedTracker();
  private scale: number | { buffer: GPUBuffer; offset: number };
  private maxNorm: number;
  private readonly skipNonFinite: boolean;
  private partials: GPUBuffer | undefined;
  private dispatches: Dispatch[] = [];
  private readonly readbacks: { buffer: GPUBuffer; busy: boolean }[] = [];
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    options: GuardOptions,
    private readonly tensorCount: number,
    private readonly own: (d: GPUBufferDescriptor) => GPUBuffer,
  ) {
    const { skipNonFinite, gradScale, maxGradNorm } = options;
    this.enabled = skipNonFinite !== undefined || gradScale !== undefined || maxGradNorm !== undefined;
    if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') {
      throw new TypeError(`Option 'skipNonFinite' must be a boolean, got ${String(skipNonFinite)}`);
    }
    if (gradScale === undefined || typeof gradScale === 'number') {
      if (gradScale !== undefined) checkGradScale(gradScale);
      this.scale = gradScale ?? 1;
    } else {
      const ref = toRef(gradScale);
      if (!ref.buffer || typeof ref.buffer.usage !== 'number' || (ref.buffer.usage & Usage.COPY_SRC) === 0) {
        throw new TypeError(
          `gradScale: expected a number or a GPUBuffer with GPUBufferUsage.COPY_SRC, got ${String(ref.buffer?.label ?? gradScale)}`,
        );
      }
      if (ref.offset % 4 !== 0 || ref.offset + 4 > ref.buffer.size) {
        throw new RangeError(
          `gradScale: offset ${ref.offset} must be a multiple of 4 with 4 bytes after it in '${ref.buffer.label}' (${ref.buffer.size} bytes)`,
        );
      }
      this.scale = ref;
    }
    if (maxGradNorm !== undefined) checkMaxGradNorm(maxGradNorm);
    this.maxNorm = maxGradNorm ?? Infinity;
    this.skipNonFinite = skipNonFinite ?? gradScale !== undefined;

    this.control = own({
      label: `${label}/control`,
      size: CONTROL_BYTES,
      usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint8Array(this.control.getMappedRange()).set(new Uint8Array(initialControl(tensorCount)));
    this.control.unmap();
  }

  /** Record rows a step needs: one per step count it may turn out to be. Throws past MAX_ROWS. */
  rowsForNextStep(name: string): number {
    if (!this.enabled) return 1;
    const rows = this.tracker.unsure + 1;
    if (rows > MAX_ROWS) {
      throw new Error(
        `${name}.step: ${MAX_ROWS - 1} guarded steps are in flight and none has been confirmed; await step() (or lastStepSkipped()) now and then`,
      );
    }
    return rows;
  }

  /** The step count of record row 0 of the next step (row r is step `first + r`). */
  get firstRowStep(): number {
    return this.tracker.upper - (this.enabled ? this.tracker.unsure : 0) + 1;
  }

  /** (Re)records the guard passes for `layout` (construction and rebind). */
  record(layout: Layout, tensors: Tensor[], tables: Tables): Promise<void>[] {
    if (!this.enabled) return [];
    const bytes = partialsBytes(layout);
    if (!this.partials || this.partials.size !== bytes) {
      this.partials?.destroy();
      this.partials = this.own({ label: `${this.label}/grad-partials`, size: bytes, usage: Usage.STORAGE });
    }
    const bound = recordGuardDispatches({
      device: this.device,
      label: this.label,
      layout,
      tensors,
      tables,
      control: this.control,
      pipelines: statsPipelines(this.device),
      partials: this.partials,
    });
    this.dispatches = bound.dispatches;
    return bound.checks;
  }

  get gradScale(): number | GPUBuffer {
    return typeof this.scale === 'number' ? this.scale : this.scale.buffer;
  }

  set gradScale(scale: number) {
    this.requireEnabled('gradScale');
    if (typeof this.scale !== 'number') {
      throw new Error('gradScale: this optimizer reads its scale from a GPUBuffer; write the buffer instead');
    }
    checkGradScale(scale);
    this.scale = scale;
  }

  get maxGradNorm(): number {
    return this.maxNorm;
  }

  set maxGradNorm(max: number) {
    this.requireEnabled('maxGradNorm');
    checkMaxGradNorm(max);
    this.maxNorm = max;
  }

  private requireEnabled(what: string): void {
    if (!this.enabled) {
      throw new Error(
        `${what}: construct the optimizer with gradScale, skipNonFinite or maxGradNorm to run the guard passes`,
      );
    }
  }

  /** The host's words of `Control` for the next step, into `view` at `byteOffset` (20 bytes). */
  writeInputs(view: DataView, byteOffset: number, lo = this.firstRowStep - 1): void {
    writeControlInputs(view, byteOffset, {
      scale: typeof this.scale === 'number' ? this.scale : 1,
      maxNorm: this.maxNorm,
      skipNonFinite: this.skipNonFinite,
      lo,
      tensorCount: this.tensorCount,
    });
  }

  /** After the control inputs reached `control` in `encoder`: the caller's scale, if it is a buffer. */
  copyScale(encoder: GPUCommandEncoder): void {
    if (typeof this.scale !== 'number') {
      encoder.copyBufferToBuffer(this.scale.buffer, this.scale.offset, this.control, 0, 4);
    }
  }

  /** The guard passes, into an open compute pass before the update dispatches. */
  dispatch(pass: GPUComputePassEncoder): void {
    replay(pass, this.dispatches);
  }

  /**
   * Copies `Control` into a free readback slot at the end of `encoder` (if one is free); the returned
   * function, called after the submit, maps it and confirms step call `seq`. Its promise never rejects.
   */
  readbackAfter(encoder: GPUCommandEncoder, seq: number): (() => Promise<void>) | undefined {
    if (!this.enabled) return undefined;
    let slot = this.readbacks.find((s) => !s.busy);
    if (!slot && this.readbacks.length < READBACK_SLOTS) {
      slot = {
        buffer: this.own({
          label: `${this.label}/control-readback#${this.readbacks.length}`,
          size: CONTROL_BYTES,
          usage: Usage.MAP_READ | Usage.COPY_DST,
        }),
        busy: false,
      };
      this.readbacks.push(slot);
    }
    if (!slot) return undefined;
    const s = slot;
    s.busy = true;
    encoder.copyBufferToBuffer(this.control, 0, s.buffer, 0, CONTROL_BYTES);
    return () => {
      const done = s.buffer.mapAsync(0x1 /* GPUMapMode.READ */).then(
        () => {
          this.tracker.confirm(seq, readControl(s.buffer.getMappedRange().slice(0)).applied);
          s.buffer.unmap();
          s.busy = false;
        },
        () => {
          s.busy = false; // device lost or destroyed: the optimizer reports that itself
        },
      );
      this.inFlight = done;
      return done;
    };
  }

  /** Reads `Control` now (after all submitted work) and returns the decision of the latest step. */
  async report(read: (buffer: GPUBuffer) => Promise<ArrayBuffer>): Promise<GuardReport> {
    this.requireEnabled('lastStepSkipped');
    await this.inFlight;
    const seq = this.tracker.latest;
    const report = readControl(await read(this.control));
    this.tracker.confirm(seq, report.applied);
    return report;
  }

  /** After importState: the GPU's step counter starts at `step` too. */
  resetApplied(step: number): void {
    this.tracker.reset(step);
    if (!this.enabled) return;
    const { errors } = inErrorScopes(this.device, `${this.label}: importState (control)`, () =>
      this.device.queue.writeBuffer(this.control, CONTROL_APPLIED_AT, new Uint32Array([step])),
    );
    void errors.catch(() => undefined);
  }
}

/** Bytes of a window's slot of partials (STATS_GROUPS vec2<f32>, a multiple of 256). */
const WINDOW_PARTIALS_BYTES = STATS_GROUPS * 8;
/** Bytes of a tail piece's slot of partials (one vec2<f32> used, padded to the binding alignment). */
const TAIL_PARTIALS_BYTES = BINDING_ALIGNMENT;

/** Bytes of the partials buffer the guard passes of `layout` need (a slot per window with work and per tail). */
export function partialsBytes(layout: Layout): number {
  const windows = layout.windows.filter((w) => w.totalVec4 > 0).length;
  const tails = layout.pieces.filter((p) => p.tail).length;
  return Math.max(windows * WINDOW_PARTIALS_BYTES + tails * TAIL_PARTIALS_BYTES, 16);
}

/**
 * The guard passes of a step (shaders/grad-stats.wgsl): `stats` per window with work, `stats_tail` per tail
 * piece, each writing its own slot of `partials`, then one `finalize`. Run before the update dispatches.
 */
function recordGuardDispatches(ctx: {
  device: GPUDevice;
  label: string;
  layout: Layout;
  tensors: Tensor[];
  control: GPUBuffer;
  tables: Tables;
  pipelines: StatsPipelines;
  partials: GPUBuffer;
}): { dispatches: Dispatch[]; checks: Promise<void>[] } {
  const { device, label, layout, tensors, tables, pipelines, partials } = ctx;
  const dispatches: Dispatch[] = [];
  const checks: Promise<void>[] = [];
  const bind = (what: string, make: () => Dispatch) => {
    const { value, errors } = inErrorScopes(device, `${label}: ${what}`, make);
    dispatches.push(value);
    checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
  };
  const control = { buffer: ctx.control };
  let at = 0;
  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const first = tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    const table = { buffer: tables.buffer, offset: tables.windowAt[k]!, size: tables.windowBytes[k]! };
    const grad = { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes };
    const slot = { buffer: partials, offset: at, size: WINDOW_PARTIALS_BYTES };
    at += WINDOW_PARTIALS_BYTES;
    // Packed windows (lower precision) read their gradients as words: `stats_packed`.
    const { pipeline, layout: bgl } = w.packed
      ? pipelines.statsPacked(w.elementBytes === 2)
      : pipelines.stats;
    const entries = w.packed
      ? bindGroupEntries(['stats_packed'], { control, table, grad_words: grad, partials: slot })
      : bindGroupEntries(['stats'], { control, table, grad, partials: slot });
    bind(`grad stats of ${describeWindow(layout, tensors, w)}`, () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/stats-window${k}`, layout: bgl, entries }),
      workgroups: STATS_GROUPS,
    }));
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    const t = tensors[p.tensor]!;
    const entries = bindGroupEntries(['stats_tail'], {
      control,
      partials: { buffer: partials, offset: at, size: 16 },
      tail_piece: { buffer: tables.buffer, offset: tables.tailAt.get(i)!, size: TAIL_PIECE.size },
      grad_tail: { buffer: t.grad.buffer, offset: p.gradOffset, size: p.count * 4 },
    });
    at += TAIL_PARTIALS_BYTES;
    const { pipeline, layout: bgl } = pipelines.statsTail;
    bind(`grad stats of params[${p.tensor}] ('${t.name}')`, () => ({
      pipeline,
      bindGroup: device.createBindGroup({
        label: `${label}/stats-${t.name}@${p.start}-tail`,
        layout: bgl,
        entries,
      }),
      workgroups: 1,
    }));
  });
  const { pipeline, layout: bgl } = pipelines.finalize;
  const entries = bindGroupEntries(['finalize'], { control, partials: { buffer: partials } });
  bind('guard finalize', () => ({
    pipeline,
    bindGroup: device.createBindGroup({ label: `${label}/finalize`, layout: bgl, entries }),
    workgroups: 1,
  }));
  return { dispatches, checks };
}
