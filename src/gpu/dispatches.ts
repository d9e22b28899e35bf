/**
 * The GPU side of a layout (layout.ts): the static table buffer the kernel reads, and one recorded
 * dispatch (pipeline, bind group, grid) per window and per tail piece. Built once, when the optimizer is
 * constructed; a step only replays them.
 */
import type { Tensor } from './entries.js';
import { TAIL_PARTIALS_BYTES, WINDOW_PARTIALS_BYTES } from '../core/guard.js';
import { Usage, inErrorScopes } from './device.js';
import type { KernelPipelines, PackedPipelines, StatsPipelines } from './pipelines.js';
import { BINDING_ALIGNMENT, alignUp, encodeWindowTable, type Layout, type Window } from './layout.js';
import type { Slot } from '../core/rules.js';

/** One recorded dispatch of a step: a window's vec4s (`main`) or a piece's last count % 4 elements (`tail`). */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
}

/** Where each window's table and each tail piece's record sit in the one table buffer. */
export interface Tables {
  buffer: GPUBuffer;
  windowAt: number[];
  windowBytes: number[];
  tailAt: Map<number, number>;
}

/** Records `dispatches` into an open compute pass, in order. */
export function replay(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups);
  }
}

/**
 * Builds the one static table buffer: every window's piece table and every tail piece's record
 * (tensor, rest, state vec4, first element), each at a 256-byte-aligned offset. Written once, here.
 */
export function writeTables(
  layout: Layout,
  label: string,
  own: (d: GPUBufferDescriptor) => GPUBuffer,
): Tables {
  const tables = layout.windows.map((_, k) => encodeWindowTable(layout, k));
  const tails = layout.pieces.flatMap((p, i) => (p.tail ? [[i, p] as const] : []));
  let bytes = 0;
  const windowAt = tables.map((t) => {
    const at = bytes;
    bytes = alignUp(at + t.byteLength, BINDING_ALIGNMENT);
    return at;
  });
  const tailAt = new Map<number, number>();
  for (const [i] of tails) {
    tailAt.set(i, bytes);
    bytes += BINDING_ALIGNMENT;
  }
  const buffer = own({
    label: `${label}/tables`,
    size: Math.max(bytes, 16),
    usage: Usage.STORAGE,
    mappedAtCreation: true,
  });
  const words = new Uint32Array(buffer.getMappedRange());
  tables.forEach((t, k) => words.set(t, windowAt[k]! / 4));
  for (const [i, p] of tails) {
    const whole = Math.floor(p.count / 4);
    words.set([p.tensor, p.count - whole * 4, p.stateIndex + whole, whole * 4], tailAt.get(i)! / 4);
  }
  buffer.unmap();
  return { buffer, windowAt, windowBytes: tables.map((t) => t.byteLength), tailAt };
}

/** Size of the placeholder buffer for unkept state slots: one 16-byte range per slot binding (4, 5, 6). */
export const UNUSED_STATE_BYTES = 2 * BINDING_ALIGNMENT + 16;

export interface DispatchContext {
  device: GPUDevice;
  label: string;
  layout: Layout;
  tensors: Tensor[];
  /** The f32 entry points (needed unless every window is packed). */
  kernel: KernelPipelines | undefined;
  /** The state buffers of each slot the rule keeps; a slot it does not keep is bound to `unused`. */
  state: Partial<Record<Slot, GPUBuffer[]>>;
  hyper: GPUBuffer;
  /** The step's guard decision (shaders/grad-stats.wgsl `Control`), read by the update kernel. */
  control: GPUBuffer;
  tables: Tables;
  /** Workgroups for a window of `vec4s` work items. */
  grid: (vec4s: number) => number;
  /** Placeholder (UNUSED_STATE_BYTES) bound for the slots the rule does not keep (never touched: see AMSGRAD, VARIANCE). */
  unused: GPUBuffer;
  /**
   * The lower-precision modes (layout windows with `packed`): the state region buffers (every slot of a
   * window in one region, see shaders/adabelief.wgsl) and the pipelines of a window.
   */
  packed?: { state: GPUBuffer[]; pipelines: (w: Window) => PackedPipelines };
}

/**
 * Bind groups for every window with work and every tail piece, each created in its own error scope:
 * `checks` reject with a message naming the tensors when WebGPU refuses one (e.g. a buffer of another
 * device). `inits`: the master-weight initialisation dispatches (packed f16 windows with master weights),
 * run before a step's update when the master copies must be taken from the params.
 */
export function recordDispatches(ctx: DispatchContext): {
  dispatches: Dispatch[];
  inits: Dispatch[];
  checks: Promise<void>[];
} {
  const { device, label, layout, tensors, kernel, tables } = ctx;
  const dispatches: Dispatch[] = [];
  const inits: Dispatch[] = [];
  const checks: Promise<void>[] = [];

  /** Bindings both entry points share: the per-tensor scalars and the window's state slot. */
  const sharedEntries = (w: Window): GPUBindGroupEntry[] => {
    const state = (binding: number, slot: Slot): GPUBindGroupEntry => {
      const buffers = ctx.state[slot];
      // Each unkept slot gets its own 16 bytes of `unused`: writable bindings may not alias.
      if (!buffers)
        return {
          binding,
          resource: { buffer: ctx.unused, offset: (binding - 4) * BINDING_ALIGNMENT, size: 16 },
        };
      return {
        binding,
        resource: { buffer: buffers[w.stateBuffer]!, offset: w.stateOffset, size: w.stateBytes },
      };
    };
    return [
      { binding: 0, resource: { buffer: ctx.hyper } },
      state(4, 'exp_avg'),
      state(5, 'exp_avg_var'),
      state(6, 'max_exp_avg_var'),
      { binding: 10, resource: { buffer: ctx.control } },
    ];
  };
  const bind = (what: string, make: () => Dispatch) => {
    const { value, errors } = inErrorScopes(device, `${label}: ${what}`, make);
    dispatches.push(value);
    checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
  };

  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const first = tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    const table = {
      binding: 1,
      resource: { buffer: tables.buffer, offset: tables.windowAt[k]!, size: tables.windowBytes[k]! },
    };
    if (w.packed) {
      const packed = ctx.packed!;
      const pipelines = packed.pipelines(w);
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: ctx.hyper } },
        table,
        { binding: 10, resource: { buffer: ctx.control } },
        { binding: 11, resource: { buffer: first.param.buffer, offset: w.paramOffset, size: w.paramBytes } },
        { binding: 12, resource: { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes } },
        {
          binding: 13,
          resource: { buffer: packed.state[w.stateBuffer]!, offset: w.stateOffset, size: w.stateBytes },
        },
      ];
      bind(describeWindow(layout, tensors, w), () => {
        const bindGroup = device.createBindGroup({
          label: `${label}/window${k}`,
          layout: pipelines.layout,
          entries,
        });
        const workgroups = ctx.grid(w.totalVec4);
        if (pipelines.init) inits.push({ pipeline: pipelines.init, bindGroup, workgroups });
        return { pipeline: pipelines.body, bindGroup, workgroups };
      });
      return;
    }
    const { pipeline, layout: bgl } = kernel!.body;
    const entries = [
      ...sharedEntries(w),
      table,
      { binding: 2, resource: { buffer: first.param.buffer, offset: w.paramOffset, size: w.paramBytes } },
      { binding: 3, resource: { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes } },
    ];
    bind(describeWindow(layout, tensors, w), () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/window${k}`, layout: bgl, entries }),
      workgroups: ctx.grid(w.totalVec4),
    }));
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    const t = tensors[p.tensor]!;
    const { pipeline, layout: bgl } = kernel!.tail;
    const entries = [
      ...sharedEntries(layout.windows[p.window]!),
      { binding: 7, resource: { buffer: tables.buffer, offset: tables.tailAt.get(i)!, size: 16 } },
      { binding: 8, resource: { buffer: t.param.buffer, offset: p.paramOffset, size: p.count * 4 } },
      { binding: 9, resource: { buffer: t.grad.buffer, offset: p.gradOffset, size: p.count * 4 } },
    ];
    bind(`params[${p.tensor}] ('${t.name}')`, () => ({
      pipeline,
      bindGroup: device.createBindGroup({
        label: `${label}/${t.name}@${p.start}-tail`,
        layout: bgl,
        entries,
      }),
      workgroups: 1,
    }));
  });
  return { dispatches, inits, checks };
}

/** "params[0] ('w'), params[1] ('b') and 3 more": the tensors of a window, for error messages. */
function describeWindow(layout: Layout, tensors: Tensor[], w: Window): string {
  const ids = [...new Set(w.pieces.map((i) => layout.pieces[i]!.tensor))];
  const names = ids.slice(0, 3).map((t) => `params[${t}] ('${tensors[t]!.name}')`);
  return names.join(', ') + (ids.length > 3 ? ` and ${ids.length - 3} more` : '');
}

/** Adds what most likely went wrong to a bind-group error WebGPU reported. */
function explainBindError(e: Error): Error {
  const foreign = /device|associated/i.test(e.message);
  const hint = foreign
    ? ' (is a buffer from another GPUDevice?)'
    : ' (is a buffer destroyed or too large for this device?)';
  return new Error(`${e.message}${hint}`);
}

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
export function recordGuardDispatches(
  ctx: Pick<DispatchContext, 'device' | 'label' | 'layout' | 'tensors' | 'control' | 'tables'> & {
    pipelines: StatsPipelines;
    partials: GPUBuffer;
    statsGroups: number;
  },
): { dispatches: Dispatch[]; checks: Promise<void>[] } {
  const { device, label, layout, tensors, tables, pipelines, partials } = ctx;
  const dispatches: Dispatch[] = [];
  const checks: Promise<void>[] = [];
  const bind = (what: string, make: () => Dispatch) => {
    const { value, errors } = inErrorScopes(device, `${label}: ${what}`, make);
    dispatches.push(value);
    checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
  };
  const control = { binding: 0, resource: { buffer: ctx.control } };
  let at = 0;
  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const first = tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    // Packed windows (lower precision) read their gradients as words: `stats_packed` at binding 6.
    const entries = [
      control,
      {
        binding: 1,
        resource: { buffer: tables.buffer, offset: tables.windowAt[k]!, size: tables.windowBytes[k]! },
      },
      {
        binding: w.packed ? 6 : 2,
        resource: { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes },
      },
      { binding: 3, resource: { buffer: partials, offset: at, size: WINDOW_PARTIALS_BYTES } },
    ];
    at += WINDOW_PARTIALS_BYTES;
    const { pipeline, layout: bgl } = w.packed
      ? pipelines.statsPacked(w.elementBytes === 2)
      : pipelines.stats;
    bind(`grad stats of ${describeWindow(layout, tensors, w)}`, () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/stats-window${k}`, layout: bgl, entries }),
      workgroups: ctx.statsGroups,
    }));
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    const t = tensors[p.tensor]!;
    const entries = [
      control,
      { binding: 3, resource: { buffer: partials, offset: at, size: 16 } },
      { binding: 4, resource: { buffer: tables.buffer, offset: tables.tailAt.get(i)!, size: 16 } },
      { binding: 5, resource: { buffer: t.grad.buffer, offset: p.gradOffset, size: p.count * 4 } },
    ];
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
  bind('guard finalize', () => ({
    pipeline,
    bindGroup: device.createBindGroup({
      label: `${label}/finalize`,
      layout: bgl,
      entries: [control, { binding: 3, resource: { buffer: partials } }],
    }),
    workgroups: 1,
  }));
  return { dispatches, checks };
}
