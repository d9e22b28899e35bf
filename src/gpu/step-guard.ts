/**
 * The guard of a step on the GPU (src/core/guard.ts has the pure parts): the `Control` buffer the guarded
 * update entry points read, the guard passes over the gradients (shaders/grad-stats.wgsl) and how they are
 * sized and recorded, and the loss scale and clipping settings.
 *
 * Only an optimizer constructed with a guard option has a `Control` buffer and runs guard passes; its update
 * pipelines are the `_guarded` entry points. An unguarded optimizer creates nothing here and its pipelines
 * bind no `Control` (StepGuard.enabled false, `control` undefined).
 *
 * Sizing: each window's `stats` dispatch gets as many workgroups as the window's update dispatch (so a large
 * GPU's memory stays busy: 64 workgroups of 256 invocations left an H200 at half its bandwidth), capped at
 * STATS_MAX_GROUPS so that `finalize`, one workgroup reading every partial, stays cheap.
 */
import { describeWindow, explainBindError, replay, type Dispatch, type Tables } from './dispatches.js';
import type { Tensor } from './entries.js';
import { Usage, inErrorScopes } from './device.js';
import { statsPipelines, type StatsPipelines } from './pipelines.js';
import { checkGradScale, checkMaxGradNorm } from '../core/guard.js';
import type { GuardSettings } from './construction.js';
import { TAIL_PIECE, bindGroupEntries } from './abi.js';
import { CONTROL_BYTES, initialControl, writeControlInputs } from './records.js';
import { BINDING_ALIGNMENT, alignUp, type Layout, type Window } from './layout.js';

/**
 * The most workgroups of one window's `stats` dispatch (of STATS_WG invocations): 2048 × 256 invocations
 * are about twice what an H200 (132 SMs × 2048 threads) holds at once; `finalize` then reads at most 2048
 * partials per window, 8 per invocation.
 */
export const STATS_MAX_GROUPS = 2048;

/** Work items of a window's `stats` dispatch: work vec4s, or pairs of them for f16 gradients (`stats_f16`). */
function statsItems(w: Window): number {
  return w.elementBytes === 2 ? w.totalVec4 / 2 : w.totalVec4;
}

/**
 * The guard passes' plan for `layout`: per window with work, its `stats` workgroups (`grid` of its work
 * items, at most STATS_MAX_GROUPS) and its slot of partials (one vec2<f32> per workgroup, 256-byte aligned);
 * per tail piece a slot of one partial; the partials buffer's size. `finalize` sums the whole buffer (slots'
 * unused ends stay zero).
 */
export function statsPlan(
  layout: Layout,
  grid: (items: number) => number,
): {
  groups: Map<number, number>;
  windowAt: Map<number, number>;
  tailAt: Map<number, number>;
  bytes: number;
} {
  const groups = new Map<number, number>();
  const windowAt = new Map<number, number>();
  const tailAt = new Map<number, number>();
  let at = 0;
  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const n = Math.min(grid(statsItems(w)), STATS_MAX_GROUPS);
    groups.set(k, n);
    windowAt.set(k, at);
    at += alignUp(n * 8, BINDING_ALIGNMENT);
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    tailAt.set(i, at);
    at += BINDING_ALIGNMENT;
  });
  return { groups, windowAt, tailAt, bytes: Math.max(at, 16) };
}

export class StepGuard {
  /** Whether the guard passes run (any guard option given at construction). */
  readonly enabled: boolean;
  /** The guard's record (abi.ts CONTROL); undefined when not enabled. */
  readonly control: GPUBuffer | undefined;
  private scale: number | { buffer: GPUBuffer; offset: number };
  private maxNorm: number;
  /** Whether a step with an inf/NaN gradient is skipped (fixed at construction). */
  readonly skipNonFinite: boolean;
  private partials: GPUBuffer | undefined;
  private dispatches: Dispatch[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    settings: GuardSettings,
    private readonly tensorCount: number,
    private readonly own: (d: GPUBufferDescriptor) => GPUBuffer,
  ) {
    // Checked before any GPU object exists (construction.ts checkGuard).
    this.enabled = settings.enabled;
    this.scale = settings.scale;
    this.maxNorm = settings.maxGradNorm;
    this.skipNonFinite = settings.skipNonFinite;
    if (!this.enabled) return;

    const control = own({
      label: `${label}/control`,
      size: CONTROL_BYTES,
      usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint8Array(control.getMappedRange()).set(new Uint8Array(initialControl(tensorCount)));
    control.unmap();
    this.control = control;
  }

  /**
   * (Re)records the guard passes for `layout` (construction and rebind); `grid`: the update dispatch's
   * workgroups for a count of work items.
   */
  record(
    layout: Layout,
    tensors: Tensor[],
    tables: Tables,
    grid: (items: number) => number,
  ): Promise<void>[] {
    if (!this.control) return [];
    const plan = statsPlan(layout, grid);
    if (!this.partials || this.partials.size !== plan.bytes) {
      this.partials?.destroy();
      this.partials = this.own({
        label: `${this.label}/grad-partials`,
        size: plan.bytes,
        usage: Usage.STORAGE,
      });
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
      plan,
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

  /**
   * The host's fields of `Control` for the next step (abi.ts CONTROL_INPUT_BYTES), into `view` at
   * `byteOffset`; `lo`: row 0's step count minus 1 (src/gpu/step-count.ts).
   */
  writeInputs(view: DataView, byteOffset: number, lo: number): void {
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
    if (typeof this.scale !== 'number' && this.control) {
      encoder.copyBufferToBuffer(this.scale.buffer, this.scale.offset, this.control, 0, 4);
    }
  }

  /** The guard passes, into an open compute pass before the update dispatches. */
  dispatch(pass: GPUComputePassEncoder): void {
    replay(pass, this.dispatches);
  }
}

/**
 * The guard passes of a step (shaders/grad-stats.wgsl): `stats` (f32 gradients) or `stats_f16` per window
 * with work, `stats_tail` per tail piece, each writing its own slot of `partials` (statsPlan), then one
 * `finalize`. Run before the update dispatches.
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
  plan: ReturnType<typeof statsPlan>;
}): { dispatches: Dispatch[]; checks: Promise<void>[] } {
  const { device, label, layout, tensors, tables, pipelines, partials, plan } = ctx;
  const dispatches: Dispatch[] = [];
  const checks: Promise<void>[] = [];
  const bind = (what: string, make: () => Dispatch) => {
    const { value, errors } = inErrorScopes(device, `${label}: ${what}`, make);
    dispatches.push(value);
    checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
  };
  const control = { buffer: ctx.control };
  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const first = tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    const table = { buffer: tables.buffer, offset: tables.windowAt[k]!, size: tables.windowBytes[k]! };
    const grad = { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes };
    const groups = plan.groups.get(k)!;
    const slot = {
      buffer: partials,
      offset: plan.windowAt.get(k)!,
      size: alignUp(groups * 8, BINDING_ALIGNMENT),
    };
    const f16 = w.elementBytes === 2;
    const { pipeline, layout: bgl } = f16 ? pipelines.statsF16 : pipelines.stats;
    const entries = f16
      ? bindGroupEntries(['stats_f16'], { control, table, grad_units: grad, partials: slot })
      : bindGroupEntries(['stats'], { control, table, grad, partials: slot });
    bind(`grad stats of ${describeWindow(layout, tensors, w)}`, () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/stats-window${k}`, layout: bgl, entries }),
      workgroups: groups,
    }));
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    const t = tensors[p.tensor]!;
    const words = Math.ceil((p.count * t.elementBytes) / 4) * 4;
    const entries = bindGroupEntries(['stats_tail'], {
      control,
      partials: { buffer: partials, offset: plan.tailAt.get(i)!, size: 16 },
      tail_piece: { buffer: tables.buffer, offset: tables.tailAt.get(i)!, size: TAIL_PIECE.size },
      grad_tail: { buffer: t.grad.buffer, offset: p.gradOffset, size: words },
    });
    const { pipeline, layout: bgl } = pipelines.statsTail(t.elementBytes === 2);
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
