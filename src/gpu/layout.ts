/**
 * How parameter tensors map onto dispatches, bindings and state buffers. Pure: no GPU objects.
 *
 * - A tensor is cut into pieces of at most `maxChunkElements` (the largest multiple of 64 elements whose
 *   bytes fit one binding), so each piece starts 256 bytes after a multiple of the previous one and stays
 *   aligned for `minStorageBufferOffsetAlignment`.
 * - Pieces whose param and grad live in the same pair of buffers share a *window*: one binding of each
 *   buffer (at most one binding's size), one state slot, one dispatch. The kernel finds a vec4's piece
 *   through the window's table (`encodeWindowTable`). So a model whose tensors share buffers (see
 *   ParamArena) costs one dispatch per binding-sized window, however many tensors it has.
 * - A piece's last, partial vec4 is read whole and written element by element when the bytes to the next
 *   16-byte boundary exist in both buffers; otherwise (a buffer ending right after the tensor) the last
 *   `count % 4` elements go to a small `tail` dispatch that reads them through scalar views.
 * - Packed tensors (the lower-precision modes, see precision.ts) go to the kernel's packed entry points,
 *   which update 8 elements (a pair of work vec4s) per invocation with 16-byte accesses: a packed piece spans
 *   an even number of work vec4s, 2 ceil(count / 8), and its state as many. Its last, partial pair is loaded
 *   whole when both buffers hold the bytes up to its 16-byte boundary; otherwise its last count % 8 elements
 *   go to a tail dispatch (`tail_packed`, through word views of the piece). Their state is one region per
 *   window (all slots, `stateGroupBytes` per vec4 of work; f32 arrays in the kernel's split order, see
 *   state-store.ts splitIndex). Windows never mix element sizes.
 */

import { BLOCK_VEC4, PIECE, PIECE_WORDS, TABLE } from './abi.js';

/** Alignment of storage-buffer binding offsets we rely on (the WebGPU default and maximum). */
export const BINDING_ALIGNMENT = 256;
const ELEMENTS_PER_ALIGNMENT = BINDING_ALIGNMENT / 4;
export { BLOCK_VEC4, PIECE_WORDS };
/** u32 words of a window table's header (the fixed part of abi.ts TABLE). */
export const TABLE_HEADER_WORDS = TABLE.size / 4;

export interface LayoutLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** Where one tensor lives: buffers are identified by small integers (the caller's buffer identity). */
export interface TensorPlacement {
  size: number;
  param: { buffer: number; offset: number; bufferSize: number };
  grad: { buffer: number; offset: number; bufferSize: number };
  /** Bytes per param / grad element: 4 (f32, default) or 2 (f16; needs `packed`). */
  elementBytes?: 2 | 4;
  /** Updated by the packed entry points (words, no tail). Default false. */
  packed?: boolean;
  /** State bytes per vec4 of work (all slots together for packed tensors). Default 16 (one f32 slot). */
  stateGroupBytes?: number;
}

export interface Piece {
  tensor: number;
  /** First element of the piece within its tensor, and its element count. */
  start: number;
  count: number;
  window: number;
  /** First vec4 of the piece in its window's work range (the kernel's loop index). */
  workStart: number;
  /** Vec4s the main dispatch updates (the last one may be partial); the rest goes to a tail dispatch. */
  vec4s: number;
  /** Whether the packed entry points update it (pairs of work vec4s; a tail of count % 8 elements). */
  packed: boolean;
  /** Vec4 index of the piece's element 0 in the window's param / grad binding and state slot. */
  paramIndex: number;
  gradIndex: number;
  stateIndex: number;
  /** Byte offsets of element 0 in the caller's buffers. */
  paramOffset: number;
  gradOffset: number;
  /** The last `count % 4` elements are updated by a tail dispatch. */
  tail: boolean;
}

export interface Window {
  paramBuffer: number;
  gradBuffer: number;
  /** The window's bindings into the caller's buffers (bytes; offsets 256-aligned). */
  paramOffset: number;
  paramBytes: number;
  gradOffset: number;
  gradBytes: number;
  /** The window's state slot: which state buffer, where, how many bytes. */
  stateBuffer: number;
  stateOffset: number;
  stateBytes: number;
  /** Work vec4s of the window's state (tails included): a packed region's stride between its moments. */
  stateVec4: number;
  /** Indices into `Layout.pieces`, in work order. */
  pieces: number[];
  /** Vec4s the main dispatch loops over. */
  totalVec4: number;
  /** Bytes per param / grad element (4 or 2) and whether the packed entry points update it. */
  elementBytes: 2 | 4;
  packed: boolean;
}

export interface Layout {
  pieces: Piece[];
  windows: Window[];
  /** Byte size of each state buffer (one set each for m, s and, with AMSGrad, smax). */
  stateBufferBytes: number[];
  maxChunkElements: number;
}

export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** Largest piece (elements, a multiple of 64) whose bytes fit one binding and one buffer. */
export function maxChunkElements(limits: LayoutLimits): number {
  const bytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const elements = Math.floor(bytes / BINDING_ALIGNMENT) * ELEMENTS_PER_ALIGNMENT;
  if (elements < ELEMENTS_PER_ALIGNMENT)
    throw new RangeError(`device limits too small for one chunk: ${bytes} bytes`);
  return elements;
}

/**
 * Largest piece of a packed tensor: a multiple of 128 elements (256 bytes at 2 bytes each, so every piece
 * starts 256-byte aligned) whose param, grad and state region each fit one binding.
 */
function packedChunkElements(limits: LayoutLimits, elementBytes: number, stateGroupBytes: number): number {
  const bytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perElement = Math.max(elementBytes, stateGroupBytes / 4);
  const elements = Math.floor(bytes / perElement / 128) * 128;
  if (elements < 128) throw new RangeError(`device limits too small for one chunk: ${bytes} bytes`);
  return elements;
}

interface Draft {
  window: Window;
  /** The window's index in the layout. */
  index: number;
  paramEnd: number;
  gradEnd: number;
}

/** Plans pieces, windows and state buffers for `tensors` under `limits`. */
export function planLayout(tensors: readonly TensorPlacement[], limits: LayoutLimits): Layout {
  const chunkMax = maxChunkElements(limits);
  const bindingMax = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 16) * 16;
  const pieces: Piece[] = [];
  const drafts: Draft[] = [];
  const open = new Map<string, Draft>();

  tensors.forEach((t, tensor) => {
    if (t.param.offset % BINDING_ALIGNMENT !== 0 || t.grad.offset % BINDING_ALIGNMENT !== 0) {
      throw new RangeError(`tensor ${tensor}: offsets must be multiples of ${BINDING_ALIGNMENT}`);
    }
    const { elementBytes = 4, packed = false, stateGroupBytes = 16 } = t;
    if (elementBytes !== 4 && !packed) throw new RangeError(`tensor ${tensor}: f16 elements need packed`);
    const chunk = packed ? packedChunkElements(limits, elementBytes, stateGroupBytes) : chunkMax;
    for (let start = 0; start < t.size; start += chunk) {
      const count = Math.min(chunk, t.size - start);
      const paramOffset = t.param.offset + start * elementBytes;
      const gradOffset = t.grad.offset + start * elementBytes;
      // Elements per step of the main dispatch: a vec4 (f32 path) or a pair of vec4s (packed).
      const unit = packed ? 8 : 4;
      // The last partial unit is loaded whole when the buffers hold the bytes up to its 16-byte boundary.
      const whole = alignUp(count * elementBytes, 16);
      const tail =
        count % unit !== 0 &&
        (paramOffset + whole > t.param.bufferSize || gradOffset + whole > t.grad.bufferSize);
      const units = tail ? Math.floor(count / unit) : Math.ceil(count / unit);
      const vec4s = (units * unit) / 4;
      // Bytes of the binding the piece's main dispatch touches.
      const span = tail ? units * unit * elementBytes : whole;
      const stateVec4 = packed ? 2 * Math.ceil(count / 8) : Math.ceil(count / 4);
      const stateBytes = stateVec4 * stateGroupBytes;
      const key = `${t.param.buffer}/${t.grad.buffer}/${elementBytes}/${packed}/${stateGroupBytes}`;
      let d = open.get(key);
      const fits = (x: Draft) => {
        const w = x.window;
        const spanP = Math.max(x.paramEnd, paramOffset + span) - Math.min(w.paramOffset, paramOffset);
        const spanG = Math.max(x.gradEnd, gradOffset + span) - Math.min(w.gradOffset, gradOffset);
        return spanP <= bindingMax && spanG <= bindingMax && w.stateBytes + stateBytes <= bindingMax;
      };
      if (!d || !fits(d)) {
        d = {
          window: {
            paramBuffer: t.param.buffer,
            gradBuffer: t.grad.buffer,
            paramOffset,
            paramBytes: 0,
            gradOffset,
            gradBytes: 0,
            stateBuffer: -1,
            stateOffset: 0,
            stateBytes: 0,
            stateVec4: 0,
            pieces: [],
            totalVec4: 0,
            elementBytes,
            packed,
          },
          index: drafts.length,
          paramEnd: paramOffset,
          gradEnd: gradOffset,
        };
        drafts.push(d);
        open.set(key, d);
      }
      const w = d.window;
      w.paramOffset = Math.min(w.paramOffset, paramOffset);
      w.gradOffset = Math.min(w.gradOffset, gradOffset);
      d.paramEnd = Math.max(d.paramEnd, paramOffset + span);
      d.gradEnd = Math.max(d.gradEnd, gradOffset + span);
      pieces.push({
        tensor,
        start,
        count,
        window: d.index,
        workStart: w.totalVec4,
        vec4s,
        packed,
        paramIndex: 0, // relative to the window's final binding offset, set below
        gradIndex: 0,
        stateIndex: w.stateVec4,
        paramOffset,
        gradOffset,
        tail,
      });
      w.pieces.push(pieces.length - 1);
      w.totalVec4 += vec4s;
      w.stateBytes += stateBytes;
      w.stateVec4 += stateVec4;
    }
  });

  // Bindings need at least one vec4; a window of tail-only pieces has no main dispatch (nothing is bound).
  for (const d of drafts) {
    d.window.paramBytes = Math.max(16, d.paramEnd - d.window.paramOffset);
    d.window.gradBytes = Math.max(16, d.gradEnd - d.window.gradOffset);
  }
  for (const p of pieces) {
    const w = drafts[p.window]!.window;
    p.paramIndex = (p.paramOffset - w.paramOffset) / 16;
    p.gradIndex = (p.gradOffset - w.gradOffset) / 16;
  }

  // Pack each window's state slot into state buffers of at most maxBufferSize.
  const stateCap = Math.floor(limits.maxBufferSize / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
  const stateBufferBytes: number[] = [];
  for (const { window: w } of drafts) {
    const last = stateBufferBytes.length - 1;
    const offset = last < 0 ? Infinity : alignUp(stateBufferBytes[last]!, BINDING_ALIGNMENT);
    if (offset + w.stateBytes <= stateCap) {
      w.stateBuffer = last;
      w.stateOffset = offset;
    } else {
      stateBufferBytes.push(0);
      w.stateBuffer = last + 1;
      w.stateOffset = 0;
    }
    stateBufferBytes[w.stateBuffer] = w.stateOffset + w.stateBytes;
  }
  return { pieces, windows: drafts.map((d) => d.window), stateBufferBytes, maxChunkElements: chunkMax };
}

/**
 * The table the kernel reads for a window (u32 words, the WGSL struct `Table` of abi.ts): the header
 * (piece_count, total_vec4, blocks_at), then per piece PIECE_WORDS words (abi.ts PIECE: workStart, count,
 * paramIndex, gradIndex, stateIndex, tensor), then the block map: for each run of BLOCK_VEC4 work vec4s, the
 * piece holding its first vec4.
 */
export function encodeWindowTable(layout: Layout, window: number): Uint32Array {
  const w = layout.windows[window]!;
  const blocks = Math.ceil(w.totalVec4 / BLOCK_VEC4);
  const blocksAt = w.pieces.length * PIECE_WORDS;
  const words = new Uint32Array(TABLE_HEADER_WORDS + blocksAt + Math.max(blocks, 1));
  words[TABLE.at('piece_count') / 4] = w.pieces.length;
  words[TABLE.at('total_vec4') / 4] = w.totalVec4;
  words[TABLE.at('blocks_at') / 4] = blocksAt;
  words[TABLE.at('state_vec4') / 4] = w.stateVec4;
  const body = words.subarray(TABLE.at('words') / 4);
  w.pieces.forEach((pi, j) => {
    const p = layout.pieces[pi]!;
    const at = j * PIECE_WORDS;
    body[at + PIECE.PIECE_WORK_START] = p.workStart;
    body[at + PIECE.PIECE_COUNT] = p.count;
    body[at + PIECE.PIECE_PARAM_INDEX] = p.paramIndex;
    body[at + PIECE.PIECE_GRAD_INDEX] = p.gradIndex;
    body[at + PIECE.PIECE_STATE_INDEX] = p.stateIndex;
    body[at + PIECE.PIECE_TENSOR] = p.tensor;
  });
  let j = 0;
  for (let b = 0; b < blocks; b++) {
    const first = b * BLOCK_VEC4;
    while (j + 1 < w.pieces.length && layout.pieces[w.pieces[j + 1]!]!.workStart <= first) j++;
    body[blocksAt + b] = j;
  }
  return words;
}

/**
 * The piece of a window holding work vec4 `v`, from the window's `table` (encodeWindowTable): the lookup
 * shaders/common.wgsl `find_piece` does, for the host's tests.
 */
export function findPiece(table: Uint32Array, v: number): number {
  const body = table.subarray(TABLE.at('words') / 4);
  const pieceCount = table[TABLE.at('piece_count') / 4]!;
  let j = body[table[TABLE.at('blocks_at') / 4]! + Math.floor(v / BLOCK_VEC4)]!;
  while (j + 1 < pieceCount && body[(j + 1) * PIECE_WORDS + PIECE.PIECE_WORK_START]! <= v) j++;
  return j;
}

/** Workgroups for `vec4s` work items: one per invocation, at least one workgroup, capped at `maxWorkgroups`. */
export function workgroupsFor(vec4s: number, workgroupSize: number, maxWorkgroups: number): number {
  return Math.max(1, Math.min(Math.ceil(vec4s / workgroupSize), maxWorkgroups));
}

/** Why `next` cannot reuse the tables and state placement of `prev` (undefined when it can). */
export function layoutMismatch(prev: Layout, next: Layout): string | undefined {
  if (prev.windows.length !== next.windows.length)
    return `${prev.windows.length} windows before, ${next.windows.length} now`;
  for (let k = 0; k < prev.windows.length; k++) {
    const a = encodeWindowTable(prev, k);
    const b = encodeWindowTable(next, k);
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) return `window ${k} holds other pieces`;
  }
  for (let i = 0; i < prev.pieces.length; i++) {
    if (prev.pieces[i]!.tail !== next.pieces[i]!.tail)
      return `piece ${i} of tensor ${prev.pieces[i]!.tensor} changes its tail`;
  }
  return undefined;
}
