/**
 * ParamArena: parameters and gradients for a list of shapes, packed into a few large buffers.
 *
 *   const arena = new ParamArena(device, [[64, 3, 7, 7], [64], [1000, 2048]]);
 *   arena.writeParam(0, weights);                        // or let your framework write arena.param(0)
 *   const opt = new AdaBelief(device, arena.entries);    // one dispatch per arena buffer
 *
 * Each tensor gets a slot aligned to 256 bytes (minStorageBufferOffsetAlignment) and padded to it, in
 * buffers no larger than one storage binding, so the optimizer updates a whole arena buffer — every
 * tensor in it — with one dispatch, and never needs a tail dispatch. A tensor larger than one binding
 * gets a buffer of its own. Param and grad buffers have the same layout.
 */
import type { ParamEntry } from './entries.js';
import { BINDING_ALIGNMENT, alignUp } from './layout.js';
import { Usage, checkDevice } from './device.js';
import { definedOptions, describeValue, rejectUnknownKeys } from '../core/options.js';

/** A tensor of the arena: its shape (or element count), and an optional name for labels. */
export type ArenaTensor = number | readonly number[] | { shape: readonly number[] | number; name?: string };

export interface ArenaOptions {
  /** Prefix of the buffers' labels. Default 'arena'. */
  label?: string;
  /** Usage flags added to STORAGE | COPY_SRC | COPY_DST (e.g. for a framework's own use). */
  usage?: number;
  /** Bytes per shared buffer. Default: the device's largest storage binding (and at most maxBufferSize). */
  bufferBytes?: number;
}

/** A tensor's region: `size` f32 elements at byte `offset` of `buffer`. */
export interface ArenaView {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

function elementsOf(t: ArenaTensor, i: number): { size: number; name: string } {
  const shape = typeof t === 'object' && !Array.isArray(t) ? (t as { shape: number[] | number }).shape : t;
  const name = (typeof t === 'object' && !Array.isArray(t) && (t as { name?: string }).name) || `tensor${i}`;
  const dims = typeof shape === 'number' ? [shape] : (shape as number[]);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new RangeError(`ParamArena: tensor ${i} has an invalid shape ${JSON.stringify(shape)}`);
  }
  return { size: dims.reduce((a, b) => a * b, 1), name };
}

/** `data` in a message: a typed array with its length (a DataView with its bytes), else describeValue. */
function describeData(data: unknown): string {
  if (data instanceof DataView) return `a DataView of ${data.byteLength} bytes`;
  if (ArrayBuffer.isView(data)) {
    return `${describeValue(data)} of ${(data as unknown as ArrayLike<number>).length} elements`;
  }
  return describeValue(data);
}

export class ParamArena {
  readonly device: GPUDevice;
  /** One entry per tensor, ready for `new AdaBelief(device, arena.entries)`. */
  readonly entries: (ParamEntry & { size: number; name: string })[];
  readonly paramBuffers: GPUBuffer[] = [];
  readonly gradBuffers: GPUBuffer[] = [];
  private isDestroyed = false;

  constructor(device: GPUDevice, tensors: readonly ArenaTensor[], options: ArenaOptions = {}) {
    checkDevice(device, 'ParamArena');
    if (!Array.isArray(tensors)) {
      throw new TypeError(
        `ParamArena: expected an array of tensors (element counts, shapes or { shape, name }), got ${describeValue(tensors)}`,
      );
    }
    const given = definedOptions<ArenaOptions>(options, 'ParamArena options');
    rejectUnknownKeys(given, ['label', 'usage', 'bufferBytes'], 'ParamArena');
    const { label = 'arena', usage = 0 } = given;
    if (typeof label !== 'string')
      throw new TypeError(`ParamArena: label must be a string, got ${describeValue(label)}`);
    if (!(Number.isSafeInteger(usage) && usage >= 0))
      throw new TypeError(
        `ParamArena: usage must be GPUBufferUsage flags (an integer >= 0), got ${describeValue(usage)}`,
      );
    const { maxStorageBufferBindingSize, maxBufferSize } = device.limits;
    const bufferBytes = given.bufferBytes ?? Math.min(maxStorageBufferBindingSize, maxBufferSize);
    if (
      !Number.isSafeInteger(bufferBytes) ||
      bufferBytes < BINDING_ALIGNMENT ||
      bufferBytes > maxBufferSize
    ) {
      throw new RangeError(
        `ParamArena: bufferBytes must be an integer in [256, maxBufferSize=${maxBufferSize}], got ${describeValue(bufferBytes)}`,
      );
    }
    if (tensors.length === 0) throw new RangeError('ParamArena: the tensor list is empty');
    this.device = device;

    // Plan first (nothing is allocated if a tensor cannot fit), then allocate.
    const sized = tensors.map(elementsOf);
    const capacity = Math.floor(bufferBytes / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
    const buffers: number[] = []; // bytes used per buffer
    const slots = sized.map(({ size }, i) => {
      const bytes = alignUp(size * 4, BINDING_ALIGNMENT);
      if (bytes > maxBufferSize) {
        throw new RangeError(
          `ParamArena: tensor ${i} has ${size} elements (${size * 4} bytes), more than this device's maxBufferSize (${maxBufferSize}); request a device with a larger maxBufferSize`,
        );
      }
      const last = buffers.length - 1;
      if (bytes <= capacity && last >= 0 && buffers[last]! + bytes <= capacity) {
        buffers[last]! += bytes;
        return { buffer: last, offset: buffers[last]! - bytes };
      }
      buffers.push(bytes);
      return { buffer: buffers.length - 1, offset: 0 };
    });

    const flags = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST | usage;
    buffers.forEach((size, k) => {
      this.paramBuffers.push(device.createBuffer({ label: `${label}/param#${k}`, size, usage: flags }));
      this.gradBuffers.push(device.createBuffer({ label: `${label}/grad#${k}`, size, usage: flags }));
    });
    this.entries = sized.map(({ size, name }, i) => {
      const { buffer, offset } = slots[i]!;
      return {
        name,
        size,
        param: { buffer: this.paramBuffers[buffer]!, offset },
        grad: { buffer: this.gradBuffers[buffer]!, offset },
      };
    });
  }

  /** Tensor `i`'s parameter region. */
  param(i: number): ArenaView {
    const e = this.entry(i, 'param');
    return { ...(e.param as { buffer: GPUBuffer; offset: number }), size: e.size };
  }

  /** Tensor `i`'s gradient region. */
  grad(i: number): ArenaView {
    const e = this.entry(i, 'grad');
    return { ...(e.grad as { buffer: GPUBuffer; offset: number }), size: e.size };
  }

  /**
   * Writes tensor `i`'s parameters (queued with `writeBuffer`): `data` must be a Float32Array of exactly the
   * tensor's element count (the arena holds f32 tensors only); anything else is refused before any write.
   */
  writeParam(i: number, data: Float32Array): void {
    this.write('writeParam', 'param', i, data);
  }

  /** Writes tensor `i`'s gradient (queued with `writeBuffer`), on writeParam's terms. */
  writeGrad(i: number, data: Float32Array): void {
    this.write('writeGrad', 'grad', i, data);
  }

  /** Whether destroy() was called: then param(), grad(), writeParam() and writeGrad() throw. */
  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Destroys the arena's buffers (a second call does nothing). */
  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    for (const b of [...this.paramBuffers, ...this.gradBuffers]) b.destroy();
  }

  /** Tensor `i`'s entry; `method` names the call in messages. */
  private entry(i: number, method: string) {
    if (this.isDestroyed) {
      throw new Error(`ParamArena.${method}: the arena was destroyed (its buffers are freed)`);
    }
    const n = this.entries.length;
    if (!(Number.isInteger(i) && i >= 0 && i < n)) {
      throw new RangeError(
        `ParamArena.${method}: no tensor ${describeValue(i)} (the arena has ${n}: indices 0 to ${n - 1})`,
      );
    }
    return this.entries[i]!;
  }

  private write(method: 'writeParam' | 'writeGrad', role: 'param' | 'grad', i: number, data: unknown): void {
    const e = this.entry(i, method);
    const { buffer, offset } = e[role] as { buffer: GPUBuffer; offset: number };
    const tensor = `tensor ${i} ('${e.name}')`;
    const wanted = `a Float32Array of ${e.size} elements`;
    if (!(data instanceof Float32Array)) {
      throw new TypeError(
        `ParamArena.${method}: ${tensor} takes ${wanted} (the arena holds f32 tensors), got ${describeData(data)}`,
      );
    }
    if (data.length !== e.size) {
      throw new RangeError(
        `ParamArena.${method}: ${tensor} takes ${wanted}, got a Float32Array of ${data.length} elements`,
      );
    }
    this.device.queue.writeBuffer(buffer, offset, data as Float32Array<ArrayBuffer>);
  }
}
