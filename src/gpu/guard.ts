/**
 * The guard of a step on the GPU — loss-scale division, skipping on non-finite gradients, clipping by global norm
 * — its host side in one place (src/core/guard.ts has the pure parts): the settings (`gradScale`, `maxGradNorm`,
 * `skipNonFinite`), written into the step record's header (step-record.ts) when they change, and the guard passes
 * over the gradients (shaders/step-decision.wgsl `stats*`, then `finalize`, which decides the step), how they are
 * sized and recorded. Only an optimizer constructed with a guard option builds one; without it, each step is
 * decided by `advance` alone.
 *
 * Sizing: each window's `stats` dispatch gets as many workgroups as the window's update dispatch (so a large
 * GPU's memory stays busy: 64 workgroups of 256 invocations left an H200 at half its bandwidth), capped at
 * STATS_MAX_GROUPS so that `finalize`, one workgroup reading every partial, stays cheap.
 */
import { describeWindow, dispatchList, replay, type Dispatch, type Tables } from './dispatches.js';
import type { Tensor } from './entries.js';
import { Usage } from './device.js';
import { decisionPipelines, type DecisionPipelines } from './pipelines.js';
import { checkGradScale, checkMaxGradNorm } from '../core/guard.js';
import type { GuardSettings } from './construction.js';
import { TAIL_PIECE, bindGroupEntries } from './abi.js';
import type { GuardInputs, StepRecord } from './step-record.js';
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

export class Guard {
  /** Whether a step with an inf or NaN (unscaled) gradient is skipped (fixed at construction). */
  readonly skipNonFinite: boolean;
  private scale: number | { buffer: GPUBuffer; offset: number };
  private maxNorm: number;
  private partials: GPUBuffer | undefined;
  private dispatches: Dispatch[] = [];

  /** `settings`: checked before any GPU object exists (construction.ts checkGuard). */
  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    settings: GuardSettings,
    private readonly steps: StepRecord,
    private readonly own: (d: GPUBufferDescriptor) => GPUBuffer,
  ) {
    this.scale = settings.scale;
    this.maxNorm = settings.maxGradNorm;
    this.skipNonFinite = settings.skipNonFinite;
  }

  /** What the step record's header holds of the guard (a buffer's scale is copied in at each step). */
  static inputs(settings: Pick<GuardSettings, 'scale' | 'maxGradNorm' | 'skipNonFinite'>): GuardInputs {
    return {
      scale: typeof settings.scale === 'number' ? settings.scale : 1,
      maxNorm: settings.maxGradNorm,
      skipNonFinite: settings.skipNonFinite,
    };
  }

  private writeInputs(): void {
    this.steps.setGuard(
      Guard.inputs({ scale: this.scale, maxGradNorm: this.maxNorm, skipNonFinite: this.skipNonFinite }),
    );
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
      steps: this.steps.buffer,
      pipelines: decisionPipelines(this.device),
      partials: this.partials,
      plan,
    });
    this.dispatches = bound.dispatches;
    return bound.checks;
  }

  get gradScale(): number | GPUBuffer {
    return typeof this.scale === 'number' ? this.scale : this.scale.buffer;
  }

  /** A new loss scale, in force for every step that runs after this call (in queue order). */
  set gradScale(scale: number) {
    if (typeof this.scale !== 'number') {
      throw new Error('gradScale: this optimizer reads its scale from a GPUBuffer; write the buffer instead');
    }
    checkGradScale(scale);
    this.scale = scale;
    this.writeInputs();
  }

  get maxGradNorm(): number {
    return this.maxNorm;
  }

  /** A new clipping norm, in force for every step that runs after this call (in queue order). */
  set maxGradNorm(max: number) {
    checkMaxGradNorm(max);
    this.maxNorm = max;
    this.writeInputs();
  }

  /** Before the step's pass in `encoder`: the caller's scale, if it is a buffer, into the step record. */
  copyScale(encoder: GPUCommandEncoder): void {
    if (typeof this.scale !== 'number') {
      encoder.copyBufferToBuffer(this.scale.buffer, this.scale.offset, this.steps.buffer, 0, 4);
    }
  }

  /** Dispatches of the guard passes per step (`finalize` included). */
  get dispatchCount(): number {
    return this.dispatches.length;
  }

  /** The guard passes, into an open compute pass before the update dispatches (`finalize` decides the step). */
  dispatch(pass: GPUComputePassEncoder): void {
    replay(pass, this.dispatches);
  }
}

/**
 * The guard passes of a step (shaders/step-decision.wgsl): `stats` (f32 gradients) or `stats_f16` per window
 * with work, `stats_tail` per tail piece, each writing its own slot of `partials` (statsPlan), then one
 * `finalize`. Run before the update dispatches.
 */
function recordGuardDispatches(ctx: {
  device: GPUDevice;
  label: string;
  layout: Layout;
  tensors: Tensor[];
  steps: GPUBuffer;
  tables: Tables;
  pipelines: DecisionPipelines;
  partials: GPUBuffer;
  plan: ReturnType<typeof statsPlan>;
}): { dispatches: Dispatch[]; checks: Promise<void>[] } {
  const { device, label, layout, tensors, tables, pipelines, partials, plan } = ctx;
  const { dispatches, checks, bind } = dispatchList(device, label);
  const steps = { buffer: ctx.steps };
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
      ? bindGroupEntries(['stats_f16'], { steps, table, grad_units: grad, partials: slot })
      : bindGroupEntries(['stats'], { steps, table, grad, partials: slot });
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
      steps,
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
  const entries = bindGroupEntries(['finalize'], { steps, partials: { buffer: partials } });
  bind('guard finalize', () => ({
    pipeline,
    bindGroup: device.createBindGroup({ label: `${label}/finalize`, layout: bgl, entries }),
    workgroups: 1,
  }));
  return { dispatches, checks };
}
