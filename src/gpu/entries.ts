/**
 * Parameter entries: what a caller hands the GPU optimizer, and every check that can be made on it
 * synchronously, before any GPU work. Each message names the entry and the offending value.
 */
import { BINDING_ALIGNMENT } from './layout.js';
import type { Overrides } from '../core/rules.js';
import { Usage, toRef, type BufferLike } from './device.js';
import { describeValue, isPlainObject } from '../core/options.js';
import { checkDtype, dtypeBytes, type ParamDtype } from '../core/precision.js';

/** One parameter tensor: `param` updated in place from `grad`, both `size` elements of `dtype`. */
export interface ParamEntry extends Overrides {
  param: BufferLike;
  grad: BufferLike;
  /** Elements. May be left out when `param` and `grad` are whole GPUBuffers of the same size. */
  size?: number;
  /** Element type of param and grad: 'f32' (default) or 'f16' (see precision.ts). */
  dtype?: ParamDtype;
  /** Used in labels and error messages. */
  name?: string;
}

export interface Tensor {
  name: string;
  size: number;
  dtype: ParamDtype;
  /** Bytes per element of param and grad (4 or 2). */
  elementBytes: 2 | 4;
  param: Required<{ buffer: GPUBuffer; offset: number }>;
  grad: Required<{ buffer: GPUBuffer; offset: number }>;
  overrides: Overrides;
  /** Whether `overrides` sets anything (tensors without share one scalar record per step). */
  hasOverrides: boolean;
}

export function describe(x: unknown): string {
  return typeof x === 'string' ? `'${x}'` : String(x);
}

/** Checks one entry against the device's rules; every message names the entry and the value. */
export function checkEntry(
  entry: ParamEntry,
  i: number,
  validateOverrides: (overrides: Overrides, where: string) => void,
): Tensor {
  const where = `params[${i}]${entry?.name ? ` ('${entry.name}')` : ''}`;
  if (entry === null || typeof entry !== 'object')
    throw new TypeError(`${where}: expected { param, grad, size }`);
  const { param, grad, name, size: given, dtype: givenDtype, ...overrides } = entry;
  const dtype = checkDtype(givenDtype, where);
  const bytes = dtypeBytes(dtype);
  let size = given;
  const whole = (b: BufferLike): b is GPUBuffer => !!b && typeof b === 'object' && !('buffer' in b);
  if (size === undefined && whole(param) && whole(grad)) {
    if (param.size !== grad.size) {
      throw new RangeError(
        `${where}: size mismatch: param buffer '${param.label}' has ${param.size} bytes, grad buffer '${grad.label}' has ${grad.size}`,
      );
    }
    size = Math.floor(param.size / bytes);
  }
  if (size === undefined || !Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(`${where}: size must be a positive integer, got ${describe(size)}`);
  }
  const elements = size;
  validateOverrides(overrides, where);
  const refs = { param, grad };
  const out = {} as { param: Tensor['param']; grad: Tensor['grad'] };
  for (const role of ['param', 'grad'] as const) {
    const b = refs[role];
    if (!b || typeof b !== 'object')
      throw new TypeError(`${where}.${role}: expected a GPUBuffer or { buffer, offset }`);
    const ref = toRef(b);
    const buf = ref.buffer;
    if (!buf || typeof buf.size !== 'number' || typeof buf.usage !== 'number') {
      throw new TypeError(`${where}.${role}: expected a GPUBuffer, got ${describe(buf)}`);
    }
    if ((buf.usage & Usage.STORAGE) === 0) {
      throw new TypeError(
        `${where}.${role}: buffer '${buf.label}' lacks GPUBufferUsage.STORAGE (usage ${buf.usage})`,
      );
    }
    if (buf.mapState !== 'unmapped') {
      throw new Error(`${where}.${role}: buffer '${buf.label}' is ${buf.mapState}; unmap it first`);
    }
    if (!Number.isSafeInteger(ref.offset) || ref.offset < 0 || ref.offset % BINDING_ALIGNMENT !== 0) {
      throw new RangeError(
        `${where}.${role}: offset ${describe(ref.offset)} is not a non-negative multiple of ${BINDING_ALIGNMENT} bytes`,
      );
    }
    // f16: whole 4-byte words (the kernel reads words; an odd count's last word keeps its other half).
    const needed = ref.offset + Math.ceil((elements * bytes) / 4) * 4;
    if (needed > buf.size) {
      throw new RangeError(
        `${where}.${role}: ${elements} ${dtype} elements at offset ${ref.offset} need ${needed} bytes${dtype === 'f16' && elements % 2 ? ' (whole 4-byte words)' : ''}; buffer '${buf.label}' has ${buf.size}`,
      );
    }
    out[role] = ref;
  }
  if (out.param.buffer === out.grad.buffer) {
    throw new Error(
      `${where}: grad is in the same GPUBuffer as param; WebGPU cannot bind one buffer as read-only and read-write in one dispatch`,
    );
  }
  return {
    name: name ?? `param${i}`,
    size: elements,
    dtype,
    elementBytes: bytes,
    param: out.param,
    grad: out.grad,
    overrides,
    hasOverrides: Object.keys(overrides).length > 0,
  };
}

/** Rejects a parameter region that overlaps another parameter's or gradient's region. */
export function checkOverlaps(tensors: Tensor[]): void {
  const regions = tensors.flatMap((t, i) => [
    { i, role: 'param', ...t.param, end: t.param.offset + t.size * t.elementBytes },
    { i, role: 'grad', ...t.grad, end: t.grad.offset + t.size * t.elementBytes },
  ]);
  for (const a of regions) {
    if (a.role !== 'param') continue;
    for (const b of regions) {
      if (a === b || a.buffer !== b.buffer) continue;
      if (a.offset < b.end && b.offset < a.end) {
        throw new RangeError(
          `params[${a.i}].param overlaps params[${b.i}].${b.role} in buffer '${a.buffer.label}'`,
        );
      }
    }
  }
}

/**
 * `rebind(buffers)`'s entries checked against `tensors` (same count; each { param, grad }, a region checked like
 * the constructor's; no overlaps): the new tensors, or undefined when every buffer and offset is the same.
 * Throws naming `name` and the entry.
 */
export function checkRebind(
  name: string,
  tensors: readonly Tensor[],
  buffers: unknown,
  validateOverrides: (overrides: Overrides, where: string) => void,
): Tensor[] | undefined {
  if (!Array.isArray(buffers) || buffers.length !== tensors.length) {
    throw new RangeError(
      `${name}.rebind: expected ${tensors.length} { param, grad } entries, got ${Array.isArray(buffers) ? buffers.length : describeValue(buffers)}`,
    );
  }
  const given = buffers.map((b: unknown, i) => {
    const e = b as { param?: unknown; grad?: unknown };
    if (
      !isPlainObject(b) ||
      !e.param ||
      !e.grad ||
      typeof e.param !== 'object' ||
      typeof e.grad !== 'object'
    ) {
      throw new TypeError(
        `${name}.rebind: entry ${i} must be { param, grad } (GPUBuffers or { buffer, offset }), got ${describeValue(b)}`,
      );
    }
    return e as { param: BufferLike; grad: BufferLike };
  });
  const same = given.every((b, i) => {
    const t = tensors[i]!;
    const p = toRef(b.param);
    const g = toRef(b.grad);
    return (
      p.buffer === t.param.buffer &&
      p.offset === t.param.offset &&
      g.buffer === t.grad.buffer &&
      g.offset === t.grad.offset
    );
  });
  if (same) return undefined;
  const next = given.map((b, i) => {
    const t = tensors[i]!;
    return checkEntry(
      { ...t.overrides, name: t.name, size: t.size, dtype: t.dtype, param: b.param, grad: b.grad },
      i,
      validateOverrides,
    );
  });
  checkOverlaps(next);
  return next;
}
