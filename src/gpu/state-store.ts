/**
 * Where a GPU optimizer's state lives and how it moves in and out: the state buffers (one set per kept slot
 * in f32 mode; one packed region per window with bf16 state or f16 parameters, see shaders/adabelief.wgsl),
 * the byte region of each piece's moments and master copy, and the readback / upload behind
 * `exportState()` / `importState()`. The layout's state placement never changes after construction
 * (`rebind` keeps it), so regions are computed from whichever layout the optimizer holds.
 */
import type { Tensor } from './entries.js';
import { Usage } from './device.js';
import type { Layout, Piece } from './layout.js';
import { fromBf16Array, toBf16Array, type MasterWeightsState, type Precision } from '../core/precision.js';
import type { Slot } from '../core/rules.js';
import { describe } from './entries.js';

/** A byte range of a GPU buffer. */
export interface Region {
  buffer: GPUBuffer;
  offset: number;
  bytes: number;
}

export class StateStore {
  /** f32 mode: per kept slot, its state buffers (indexed like layout.stateBufferBytes). */
  readonly bySlot: Partial<Record<Slot, GPUBuffer[]>> = {};
  /** Packed mode: the state buffers holding every window's packed region. */
  readonly packedBuffers: GPUBuffer[] = [];

  constructor(
    readonly slots: readonly { slot: Slot; name: string }[],
    readonly precision: Precision,
    /** Packed mode: bf16 state or an f16 tensor (the packed entry point runs every window). */
    readonly packed: boolean,
  ) {}

  /** Creates the state buffers `layout` plans (zero-filled, as WebGPU creates them). */
  allocate(layout: Layout, label: string, own: (d: GPUBufferDescriptor) => GPUBuffer): void {
    const usage = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;
    if (this.packed) {
      layout.stateBufferBytes.forEach((size, k) =>
        this.packedBuffers.push(own({ label: `${label}/state#${k}`, size, usage })),
      );
    } else {
      for (const { slot, name } of this.slots) {
        this.bySlot[slot] = layout.stateBufferBytes.map((size, k) =>
          own({ label: `${label}/${name}#${k}`, size, usage }),
        );
      }
    }
  }

  /**
   * Records into `encoder` the copy of tensor `from`'s state in `source` (laid out by `sourceLayout`) to tensor
   * `to`'s here (f32 state only: each piece's elements are contiguous, 4 bytes each), piece range by piece range.
   */
  copyTensorState(
    encoder: GPUCommandEncoder,
    source: { store: StateStore; layout: Layout; tensor: number },
    target: { layout: Layout; tensor: number },
  ): void {
    const src = source.layout.pieces.filter((p) => p.tensor === source.tensor);
    const dst = target.layout.pieces.filter((p) => p.tensor === target.tensor);
    for (const { slot } of this.slots) {
      for (const a of src) {
        for (const b of dst) {
          const lo = Math.max(a.start, b.start);
          const hi = Math.min(a.start + a.count, b.start + b.count);
          if (hi <= lo) continue;
          const from = source.store.region(source.layout, slot, a);
          const to = this.region(target.layout, slot, b);
          encoder.copyBufferToBuffer(
            from.buffer,
            from.offset + 4 * (lo - a.start),
            to.buffer,
            to.offset + 4 * (lo - b.start),
            4 * (hi - lo),
          );
        }
      }
    }
  }

  /** Bytes of one moment (m, s or smax) per vec4 of work: 16 in f32, 8 in bf16. */
  get momentBytes(): number {
    return this.bf16 ? 8 : 16;
  }

  /** Whether an f16 tensor's update runs on an f32 master copy. */
  hasMaster(t: Tensor): boolean {
    return t.dtype === 'f16' && this.precision.masterWeights;
  }

  /** Packed state region bytes per vec4 of work: every kept moment, plus the f32 master copy of an f16 tensor. */
  groupBytes(f16: boolean): number {
    return this.slots.length * this.momentBytes + (f16 && this.precision.masterWeights ? 16 : 0);
  }

  /**
   * Where piece `p`'s state of kind `slot` lives, and its bytes. Packed mode: the slot's part of the window's
   * region (see shaders/adabelief.wgsl), `k`-th kept moment, bf16 or f32.
   */
  region(layout: Layout, slot: Slot, p: Piece): Region {
    const w = layout.windows[p.window]!;
    if (!this.packed) {
      const buffer = this.bySlot[slot]![w.stateBuffer]!;
      return { buffer, offset: w.stateOffset + p.stateIndex * 16, bytes: p.count * 4 };
    }
    const k = this.slots.findIndex((s) => s.slot === slot);
    const mb = this.momentBytes;
    const offset = w.stateOffset + k * w.stateVec4 * mb + p.stateIndex * mb;
    const bytes = this.bf16 ? (p.count * mb) / 4 : splitBytes(p.count);
    return { buffer: this.packedBuffers[w.stateBuffer]!, offset, bytes };
  }

  /** Where piece `p`'s f32 master copy lives (packed f16 tensors with master weights), in split order. */
  masterRegion(layout: Layout, p: Piece): Region {
    const w = layout.windows[p.window]!;
    const offset = w.stateOffset + this.slots.length * w.stateVec4 * this.momentBytes + p.stateIndex * 16;
    return { buffer: this.packedBuffers[w.stateBuffer]!, offset, bytes: splitBytes(p.count) };
  }

  /** bf16 moments (else f32). */
  private get bf16(): boolean {
    return this.precision.stateDtype === 'bf16';
  }

  /**
   * The regions exportState() reads: every kept moment of every piece, then (with `masters`) the master
   * copies. `decode` turns the bytes read back (in that order) into per-tensor f32 arrays.
   */
  exportPlan(
    layout: Layout,
    tensors: readonly Tensor[],
    masters: boolean,
  ): {
    regions: Region[];
    decode(bytes: ArrayBuffer[]): { tensors: Record<string, Float32Array>[] } & MasterWeightsState;
  } {
    const pieces = layout.pieces;
    const regions = this.slots.flatMap(({ slot }) => pieces.map((p) => this.region(layout, slot, p)));
    const masterPieces = masters ? pieces.filter((p) => this.hasMaster(tensors[p.tensor]!)) : [];
    regions.push(...masterPieces.map((p) => this.masterRegion(layout, p)));
    const decode = (bytes: ArrayBuffer[]) => {
      const out = tensors.map((t) => {
        const st: Record<string, Float32Array> = {};
        for (const s of this.slots) st[s.name] = new Float32Array(t.size);
        return st;
      });
      // A piece's moment: bf16 in element order; f32 in the packed split order, or (f32 mode) in element order.
      const values = (b: ArrayBuffer, p: Piece) =>
        this.bf16
          ? fromBf16Array(new Uint16Array(b))
          : this.packed
            ? joinPairs(new Float32Array(b), p.count)
            : new Float32Array(b);
      this.slots.forEach((s, k) =>
        pieces.forEach((p, j) =>
          out[p.tensor]![s.name]!.set(values(bytes[k * pieces.length + j]!, p), p.start),
        ),
      );
      if (masterPieces.length === 0) return { tensors: out };
      const masterParams = tensors.map((t) => (this.hasMaster(t) ? new Float32Array(t.size) : undefined));
      const at = this.slots.length * pieces.length;
      masterPieces.forEach((p, j) =>
        masterParams[p.tensor]!.set(joinPairs(new Float32Array(bytes[at + j]!), p.count), p.start),
      );
      return { tensors: out, masterParams };
    };
    return { regions, decode };
  }

  /**
   * Queues the writes of `state` (already validated: names and sizes) and of `masters` (see
   * checkMasterParams) into the state buffers; bf16 state is rounded to nearest even.
   */
  upload(
    device: GPUDevice,
    layout: Layout,
    state: readonly Record<string, Float32Array | Float64Array>[],
    masters: readonly (Float32Array | undefined)[] | undefined,
  ): void {
    const write = (region: Region, data: BufferSource) =>
      device.queue.writeBuffer(region.buffer, region.offset, data);
    for (const p of layout.pieces) {
      for (const { slot, name } of this.slots) {
        const part = state[p.tensor]![name]!.subarray(p.start, p.start + p.count);
        // bf16: rounded to nearest even, padded to whole 4-byte words (the region is padded to vec4s);
        // f32 packed: in split order; f32 mode: as it is.
        const data = this.bf16
          ? toBf16Array(part.length % 2 ? [...part, 0] : part)
          : this.packed
            ? splitPairs(part)
            : part instanceof Float32Array
              ? part
              : Float32Array.from(part);
        write(this.region(layout, slot, p), data as BufferSource);
      }
      const master = masters?.[p.tensor];
      if (master)
        write(this.masterRegion(layout, p), splitPairs(master.subarray(p.start, p.start + p.count)));
    }
  }

  /**
   * Checks importState()'s `masterParams` against `tensors` (undefined when absent or when no tensor keeps a
   * master copy); throws, naming the entry, on a wrong count or size.
   */
  checkMasterParams(
    tensors: readonly Tensor[],
    masters: MasterWeightsState['masterParams'],
  ): (Float32Array | undefined)[] | undefined {
    if (masters === undefined || !tensors.some((t) => this.hasMaster(t))) return undefined;
    if (!Array.isArray(masters) || masters.length !== tensors.length) {
      throw new RangeError(
        `importState: masterParams must have ${tensors.length} entries, got ${Array.isArray(masters) ? masters.length : describe(masters)}`,
      );
    }
    return masters.map((m, i) => {
      const t = tensors[i]!;
      if (!this.hasMaster(t)) return undefined;
      if (!(m instanceof Float32Array) || m.length !== t.size) {
        throw new TypeError(
          `importState: masterParams[${i}] must be a Float32Array of ${t.size} elements (params[${i}] is f16 with master weights), got ${m instanceof Float32Array ? `${m.length} elements` : describe(m)}`,
        );
      }
      return m;
    });
  }
}

/**
 * The packed kernel's *split* order of a piece's f32 state array (moments, master copy; shaders/adabelief.wgsl
 * PairState): of pair j (elements 8j .. 8j + 7), the first 4 elements at vec4 j and the last 4 at vec4
 * pairs + j, pairs = ceil(count / 8). Returns where element `e` lies, in f32 words.
 */
export function splitIndex(e: number, pairs: number): number {
  const pair = e >> 3;
  const lane = e & 7;
  return lane < 4 ? 4 * pair + lane : 4 * (pairs + pair) + lane - 4;
}

/** Bytes of a piece's split f32 array: 8 f32 per pair, the lanes past `count` included. */
export function splitBytes(count: number): number {
  return 32 * Math.ceil(count / 8);
}

/** `values` (a piece's elements) in split order; the lanes past values.length are 0. */
export function splitPairs(values: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const pairs = Math.ceil(values.length / 8);
  const out = new Float32Array(8 * pairs);
  for (let e = 0; e < values.length; e++) out[splitIndex(e, pairs)] = values[e]!;
  return out;
}

/** The first `count` elements of a split f32 array (the inverse of splitPairs). */
export function joinPairs(stored: Float32Array, count: number): Float32Array {
  const pairs = Math.ceil(count / 8);
  const out = new Float32Array(count);
  for (let e = 0; e < count; e++) out[e] = stored[splitIndex(e, pairs)]!;
  return out;
}
