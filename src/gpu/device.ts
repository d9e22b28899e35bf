/**
 * GPU plumbing shared by the optimizer: buffer references, usage flags, fallback-adapter detection, error
 * scopes and readback (pipelines: pipelines.ts). Nothing here knows the optimizer's math.
 */
import { describeValue } from '../core/options.js';

/** A buffer, or a region of one starting `offset` bytes in. */
export interface BufferRef {
  buffer: GPUBuffer;
  /** Byte offset of element 0; a multiple of 256. Default 0. */
  offset?: number;
}

export type BufferLike = GPUBuffer | BufferRef;

export function toRef(b: BufferLike): Required<BufferRef> {
  return 'buffer' in b ? { buffer: b.buffer, offset: b.offset ?? 0 } : { buffer: b, offset: 0 };
}

// GPUBufferUsage / GPUShaderStage values, spelled out so the module also loads where the globals are absent.
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80 } as const;

/** Throws unless `device` looks like a GPUDevice, naming `who` and what was given. */
export function checkDevice(device: unknown, who: string): asserts device is GPUDevice {
  if (!device || typeof device !== 'object' || typeof (device as GPUDevice).createBuffer !== 'function')
    throw new TypeError(`${who}: expected a GPUDevice, got ${describeValue(device)}`);
}

/** True when the device runs on a CPU fallback adapter (SwiftShader and the like). */
export function isFallbackDevice(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } })
    .adapterInfo;
  if (!info) return false;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter === true || text.includes('swiftshader') || text.includes('llvmpipe');
}

/**
 * Runs `body` inside validation and out-of-memory error scopes and returns a promise that rejects with
 * an Error carrying `what` and WebGPU's own message when either scope caught something.
 */
export function inErrorScopes<T>(
  device: GPUDevice,
  what: string,
  body: () => T,
): { value: T; errors: Promise<void> } {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T;
  try {
    value = body();
  } catch (err) {
    // Pop both scopes (in reverse order of pushing) before rethrowing, so the device's stack stays balanced.
    void device.popErrorScope();
    void device.popErrorScope();
    throw err;
  }
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  const errors = Promise.all([validation, oom]).then(([v, o]) => {
    const e = v ?? o;
    if (e) throw new Error(`${what}: WebGPU ${v ? 'validation' : 'out-of-memory'} error: ${e.message}`);
  });
  return { value, errors };
}

/**
 * Copies `[offset, offset + bytes)` of each source into mappable staging buffers (as few as fit under the
 * device's maxBufferSize) in ONE command buffer, submitted before this returns its promise (so the regions are
 * read after exactly the work queued before the call, whatever is queued after), and returns each region's bytes.
 */
export async function readBuffers(
  device: GPUDevice,
  regions: { buffer: GPUBuffer; offset: number; bytes: number }[],
  label: string,
): Promise<ArrayBuffer[]> {
  const padded = (r: { bytes: number }) => Math.ceil(r.bytes / 4) * 4;
  const batches: { size: number; at: number[] }[] = [];
  for (const r of regions) {
    let batch = batches.at(-1);
    if (!batch || batch.size + padded(r) > device.limits.maxBufferSize)
      batches.push((batch = { size: 0, at: [] }));
    batch.at.push(batch.size);
    batch.size += padded(r);
  }
  const { value: staging, errors } = inErrorScopes(device, label, () => {
    const staging: GPUBuffer[] = [];
    try {
      const enc = device.createCommandEncoder({ label: `${label}/encoder` });
      let next = 0;
      for (const [k, batch] of batches.entries()) {
        const buffer = device.createBuffer({
          label: `${label}/staging#${k}`,
          size: Math.max(batch.size, 4),
          usage: Usage.MAP_READ | Usage.COPY_DST,
        });
        staging.push(buffer);
        batch.at.forEach((at, i) => {
          const r = regions[next + i]!;
          enc.copyBufferToBuffer(r.buffer, r.offset, buffer, at, padded(r));
        });
        next += batch.at.length;
      }
      device.queue.submit([enc.finish()]);
    } catch (e) {
      for (const b of staging) b.destroy();
      throw e;
    }
    return staging;
  });
  try {
    await errors;
    await Promise.all(staging.map((b) => b.mapAsync(0x1 /* GPUMapMode.READ */)));
    const out: ArrayBuffer[] = [];
    let next = 0;
    staging.forEach((b, k) => {
      const mapped = b.getMappedRange();
      for (const at of batches[k]!.at) {
        const r = regions[next++]!;
        out.push(mapped.slice(at, at + r.bytes));
      }
    });
    return out;
  } finally {
    for (const b of staging) b.destroy();
  }
}
