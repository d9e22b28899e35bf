/**
 * The GPU side of a layout (layout.ts): the static table buffer the kernel reads, and one recorded
 * dispatch (pipeline, bind group, grid) per window and per tail piece. Built once, when the optimizer is
 * constructed; a step only replays them.
 */
import type { Tensor } from './entries.js';
import { TAIL_PIECE, bindGroupEntries } from './abi.js';
import { writeTailPiece } from './records.js';
import { Usage, inErrorScopes } from './device.js';
import type { KernelPipelines, PackedPipelines } from './pipelines.js';
import {
  BINDING_ALIGNMENT,
  alignUp,
  encodeWindowTable,
  type Layout,
  type Piece,
  type Window,
} from './layout.js';
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

/** The elements a tail piece's dispatch updates: the last count % 4 (f32 path) or count % 8 (packed). */
function tailOf(p: Piece): { first: number; rest: number } {
  const unit = p.packed ? 8 : 4;
  const first = Math.floor(p.count / unit) * unit;
  return { first, rest: p.count - first };
}

/**
 * Builds the one static table buffer: every window's piece table and every tail piece's record
 * (abi.ts TAIL_PIECE), each at a 256-byte-aligned offset. Written once, here.
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
    bytes += alignUp(TAIL_PIECE.size, BINDING_ALIGNMENT);
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
    const { first, rest } = tailOf(p);
    writeTailPiece(words, tailAt.get(i)!, {
      tensor: p.tensor,
      rest,
      stateIndex: p.packed ? p.stateIndex : p.stateIndex + first / 4,
      first,
      stateVec4: layout.windows[p.window]!.stateVec4,
    });
  }
  buffer.unmap();
  return { buffer, windowAt, windowBytes: tables.map((t) => t.byteLength), tailAt };
}

/** Where each unkept slot's 16-byte placeholder range sits in `unused` (writable bindings may not alias). */
const UNUSED_AT: Record<Slot, number> = {
  exp_avg: 0,
  exp_avg_var: BINDING_ALIGNMENT,
  max_exp_avg_var: 2 * BINDING_ALIGNMENT,
};

/** Size of the placeholder buffer for unkept state slots: one 16-byte range per slot. */
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
  /** The step record (shaders/common.wgsl `Steps`): the step's decision and scalars, read by every update. */
  steps: GPUBuffer;
  tables: Tables;
  /** Workgroups for `items` work items (vec4s; pairs of vec4s in packed windows), one per invocation. */
  grid: (items: number) => number;
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
  const { dispatches, checks, bind } = dispatchList(device, label);
  const inits: Dispatch[] = [];

  /** The state bindings of a window (its slot of each kept state buffer; a placeholder for the others). */
  const stateBindings = (w: Window): Record<Slot, GPUBufferBinding> => {
    const state = (slot: Slot): GPUBufferBinding => {
      const buffers = ctx.state[slot];
      if (!buffers) return { buffer: ctx.unused, offset: UNUSED_AT[slot], size: 16 };
      return { buffer: buffers[w.stateBuffer]!, offset: w.stateOffset, size: w.stateBytes };
    };
    return {
      exp_avg: state('exp_avg'),
      exp_avg_var: state('exp_avg_var'),
      max_exp_avg_var: state('max_exp_avg_var'),
    };
  };
  // The master-weight entry points use a subset of their update entry point's variables and share its bind group.
  const steps = { buffer: ctx.steps };

  layout.windows.forEach((w, k) => {
    if (w.totalVec4 === 0) return;
    const first = tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    const table = { buffer: tables.buffer, offset: tables.windowAt[k]!, size: tables.windowBytes[k]! };
    const param = { buffer: first.param.buffer, offset: w.paramOffset, size: w.paramBytes };
    const grad = { buffer: first.grad.buffer, offset: w.gradOffset, size: w.gradBytes };
    if (w.packed) {
      const packed = ctx.packed!;
      const pipelines = packed.pipelines(w);
      const entries = bindGroupEntries(['main_packed'], {
        steps,
        table,
        param_units: param,
        grad_units: grad,
        state: { buffer: packed.state[w.stateBuffer]!, offset: w.stateOffset, size: w.stateBytes },
      });
      bind(describeWindow(layout, tensors, w), () => {
        const bindGroup = device.createBindGroup({
          label: `${label}/window${k}`,
          layout: pipelines.layout,
          entries,
        });
        const workgroups = ctx.grid(w.totalVec4 / 2);
        if (pipelines.init) inits.push({ pipeline: pipelines.init, bindGroup, workgroups });
        return { pipeline: pipelines.body, bindGroup, workgroups };
      });
      return;
    }
    const { pipeline, layout: bgl } = kernel!.body;
    const entries = bindGroupEntries(['main'], {
      steps,
      table,
      param,
      grad,
      ...stateBindings(w),
    });
    bind(describeWindow(layout, tensors, w), () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/window${k}`, layout: bgl, entries }),
      workgroups: ctx.grid(w.totalVec4),
    }));
  });
  layout.pieces.forEach((p, i) => {
    if (!p.tail) return;
    const t = tensors[p.tensor]!;
    const w = layout.windows[p.window]!;
    const words = Math.ceil((p.count * w.elementBytes) / 4) * 4;
    const tailEntries = {
      steps,
      tail_piece: { buffer: tables.buffer, offset: tables.tailAt.get(i)!, size: TAIL_PIECE.size },
      param_tail: { buffer: t.param.buffer, offset: p.paramOffset, size: words },
      grad_tail: { buffer: t.grad.buffer, offset: p.gradOffset, size: words },
    };
    const what = `params[${p.tensor}] ('${t.name}')`;
    const bindGroupLabel = `${label}/${t.name}@${p.start}-tail`;
    if (p.packed) {
      const packed = ctx.packed!;
      const pipelines = packed.pipelines(w);
      const entries = bindGroupEntries(['tail_packed'], {
        ...tailEntries,
        state: { buffer: packed.state[w.stateBuffer]!, offset: w.stateOffset, size: w.stateBytes },
      });
      bind(what, () => {
        const bindGroup = device.createBindGroup({
          label: bindGroupLabel,
          layout: pipelines.tailLayout,
          entries,
        });
        if (pipelines.initTail) inits.push({ pipeline: pipelines.initTail, bindGroup, workgroups: 1 });
        return { pipeline: pipelines.tail, bindGroup, workgroups: 1 };
      });
      return;
    }
    const { pipeline, layout: bgl } = kernel!.tail;
    const entries = bindGroupEntries(['tail'], {
      ...tailEntries,
      ...stateBindings(w),
    });
    bind(what, () => ({
      pipeline,
      bindGroup: device.createBindGroup({ label: bindGroupLabel, layout: bgl, entries }),
      workgroups: 1,
    }));
  });
  return { dispatches, inits, checks };
}

/**
 * A list of dispatches being recorded: `bind(what, make)` makes one in its own error scope and adds it; its
 * bind-group errors reject a promise of `checks`, naming `what` and the likely cause.
 */
export function dispatchList(
  device: GPUDevice,
  label: string,
): {
  dispatches: Dispatch[];
  checks: Promise<void>[];
  bind: (what: string, make: () => Dispatch) => void;
} {
  const dispatches: Dispatch[] = [];
  const checks: Promise<void>[] = [];
  const bind = (what: string, make: () => Dispatch) => {
    const { value, errors } = inErrorScopes(device, `${label}: ${what}`, make);
    dispatches.push(value);
    checks.push(errors.catch((e: Error) => Promise.reject(explainBindError(e))));
  };
  return { dispatches, checks, bind };
}

/** "params[0] ('w'), params[1] ('b') and 3 more": the tensors of a window, for error messages. */
export function describeWindow(layout: Layout, tensors: Tensor[], w: Window): string {
  const ids = [...new Set(w.pieces.map((i) => layout.pieces[i]!.tensor))];
  const names = ids.slice(0, 3).map((t) => `params[${t}] ('${tensors[t]!.name}')`);
  return names.join(', ') + (ids.length > 3 ? ` and ${ids.length - 3} more` : '');
}

/** Adds what most likely went wrong to a bind-group error WebGPU reported. */
export function explainBindError(e: Error): Error {
  const foreign = /device|associated/i.test(e.message);
  const hint = foreign
    ? ' (is a buffer from another GPUDevice?)'
    : ' (is a buffer destroyed or too large for this device?)';
  return new Error(`${e.message}${hint}`);
}
