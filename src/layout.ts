/**
 * How parameter tensors map onto bindings, dispatches and state buffers. Pure: no GPU objects.
 *
 * A tensor is cut into chunks of at most `maxChunkElements` (the largest multiple of 64 elements whose
 * bytes fit one storage binding), so every chunk of a tensor starts 256 bytes after the previous one and
 * stays aligned for `minStorageBufferOffsetAlignment` when the tensor itself starts aligned. Each chunk is
 * one dispatch with one bind group and one uniform slot. Optimizer state (m, s, smax) is packed into
 * state buffers of at most `maxStateBufferBytes`, each chunk's slot padded to whole vec4s and aligned.
 */

/** Alignment of storage-buffer binding offsets we rely on (the WebGPU default and maximum). */
export const BINDING_ALIGNMENT = 256;
const ELEMENTS_PER_ALIGNMENT = BINDING_ALIGNMENT / 4;

export interface LayoutLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface TensorPlacement {
  /** Number of f32 elements. */
  size: number;
  /** Byte offset of element 0 in the parameter buffer (a multiple of 256). */
  paramOffset: number;
  /** Byte offset of element 0 in the gradient buffer (a multiple of 256). */
  gradOffset: number;
}

export interface Chunk {
  /** Index of the tensor this chunk belongs to. */
  tensor: number;
  /** First element of the chunk within its tensor. */
  start: number;
  /** Number of elements. */
  count: number;
  paramOffset: number;
  gradOffset: number;
  /** Which state buffer holds this chunk's m / s / smax, and where (bytes, 256-aligned). */
  stateBuffer: number;
  stateOffset: number;
  /** Bytes of the state slot: `count` rounded up to whole vec4s. */
  stateBytes: number;
}

export interface Layout {
  chunks: Chunk[];
  /** Byte size of each state buffer (one set each for m, s and, with AMSGrad, smax). */
  stateBufferBytes: number[];
  maxChunkElements: number;
}

export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** Largest chunk (elements, a multiple of 64) whose bytes fit one binding and one state buffer. */
export function maxChunkElements(limits: LayoutLimits): number {
  const bytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const elements = Math.floor(bytes / BINDING_ALIGNMENT) * ELEMENTS_PER_ALIGNMENT;
  if (elements < ELEMENTS_PER_ALIGNMENT)
    throw new RangeError(`device limits too small for one chunk: ${bytes} bytes`);
  return elements;
}

/** Plans chunks and state buffers for `tensors` under `limits`. */
export function planLayout(tensors: readonly TensorPlacement[], limits: LayoutLimits): Layout {
  const chunkMax = maxChunkElements(limits);
  const stateCap = Math.floor(limits.maxBufferSize / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
  const chunks: Chunk[] = [];
  const stateBufferBytes: number[] = [];
  let used = Infinity; // bytes used in the current state buffer; Infinity: open a new one first

  tensors.forEach((t, tensor) => {
    if (t.paramOffset % BINDING_ALIGNMENT !== 0 || t.gradOffset % BINDING_ALIGNMENT !== 0) {
      throw new RangeError(`tensor ${tensor}: offsets must be multiples of ${BINDING_ALIGNMENT}`);
    }
    for (let start = 0; start < t.size; start += chunkMax) {
      const count = Math.min(chunkMax, t.size - start);
      const stateBytes = alignUp(count, 4) * 4;
      const offset = alignUp(used, BINDING_ALIGNMENT);
      if (offset + stateBytes > stateCap) {
        stateBufferBytes.push(0);
        used = 0;
      }
      const stateOffset = alignUp(used, BINDING_ALIGNMENT);
      used = stateOffset + stateBytes;
      stateBufferBytes[stateBufferBytes.length - 1] = used;
      chunks.push({
        tensor,
        start,
        count,
        paramOffset: t.paramOffset + start * 4,
        gradOffset: t.gradOffset + start * 4,
        stateBuffer: stateBufferBytes.length - 1,
        stateOffset,
        stateBytes,
      });
    }
  });
  return { chunks, stateBufferBytes, maxChunkElements: chunkMax };
}

/** Workgroups for a chunk of `count` elements: one vec4 per invocation, capped at `maxWorkgroups`. */
export function workgroupsFor(count: number, workgroupSize: number, maxWorkgroups: number): number {
  const vec4s = Math.floor(count / 4);
  return Math.max(1, Math.min(Math.ceil(vec4s / workgroupSize), maxWorkgroups));
}
