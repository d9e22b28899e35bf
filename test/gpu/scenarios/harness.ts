/**
 * In-page helpers for the GPU tests: one device per page, a wrapper that runs each test inside a
 * validation error scope and destroys every buffer it created, and small buffer utilities.
 */
import { isFallbackDevice } from '../../../src/index.js';

let devicePromise: Promise<GPUDevice> | undefined;

/**
 * A new device on the page's adapter, with the adapter's own maximum for each limit named in `raise`.
 * Throws — never skips — when the browser has no WebGPU adapter.
 */
export async function freshDevice(raise: (keyof GPUSupportedLimits)[] = []): Promise<GPUDevice> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new Error(
      'navigator.gpu is missing: this browser has no WebGPU (need --enable-unsafe-webgpu and a localhost page)',
    );
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null: no WebGPU adapter');
  const requiredLimits = Object.fromEntries(raise.map((k) => [k, adapter.limits[k] as number]));
  return adapter.requestDevice({
    label: raise.length ? 'test-device-raised-limits' : 'test-device',
    requiredLimits,
  });
}

/** The page's shared WebGPU device (see freshDevice). */
export function getDevice(): Promise<GPUDevice> {
  if (!devicePromise) {
    const p = freshDevice();
    devicePromise = p;
    p.then(
      (device) =>
        device.lost.then((info) => {
          if (devicePromise === p) devicePromise = undefined;
          console.error(`WebGPU device lost: ${info.reason} ${info.message}`);
        }),
      () => (devicePromise = undefined),
    );
  }
  return devicePromise;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  fallback: boolean;
}

export async function adapterSummary(): Promise<AdapterSummary> {
  const device = await getDevice();
  const info = device.adapterInfo;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    fallback: isFallbackDevice(device),
  };
}

export interface Gpu {
  device: GPUDevice;
  /** A STORAGE | COPY_SRC | COPY_DST buffer holding `data` (zero-filled up to `bytes`). Destroyed after the test. */
  buffer(
    data: Float32Array,
    opts?: { bytes?: number; offset?: number; usage?: number; label?: string },
  ): GPUBuffer;
  /** Reads `count` f32 values at byte `offset`. */
  read(buffer: GPUBuffer, count: number, offset?: number): Promise<Float32Array<ArrayBuffer>>;
  /** Registers something to destroy after the test. */
  track<T extends { destroy(): void }>(x: T): T;
}

const STORAGE_RW = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

/**
 * Runs `fn` with a device inside a validation error scope; destroys what it tracked; throws if WebGPU
 * reported an error the test did not consume itself.
 */
export async function withGpu<T>(fn: (gpu: Gpu) => Promise<T>, onDevice?: GPUDevice): Promise<T> {
  const device = onDevice ?? (await getDevice());
  const owned: { destroy(): void }[] = [];
  const gpu: Gpu = {
    device,
    track: (x) => (owned.push(x), x),
    buffer(data, opts = {}) {
      const offset = opts.offset ?? 0;
      const bytes = Math.max(opts.bytes ?? offset + data.byteLength, offset + data.byteLength);
      const b = gpu.track(
        device.createBuffer({
          label: opts.label ?? 'test-buffer',
          size: Math.ceil(bytes / 4) * 4,
          usage: opts.usage ?? STORAGE_RW,
          mappedAtCreation: true,
        }),
      );
      new Float32Array(b.getMappedRange(), offset, data.length).set(data);
      b.unmap();
      return b;
    },
    async read(buffer, count, offset = 0) {
      const staging = device.createBuffer({
        label: 'test-readback',
        size: Math.max(4, count * 4),
        usage: 0x1 | 0x8,
      });
      try {
        const enc = device.createCommandEncoder({ label: 'test-readback' });
        enc.copyBufferToBuffer(buffer, offset, staging, 0, count * 4);
        device.queue.submit([enc.finish()]);
        await staging.mapAsync(0x1);
        return new Float32Array(staging.getMappedRange().slice(0));
      } finally {
        staging.destroy();
      }
    },
  };
  device.pushErrorScope('validation');
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await fn(gpu) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const scopeError = await device.popErrorScope();
  owned.forEach((x) => x.destroy());
  if (!outcome.ok) throw outcome.error;
  if (scopeError) throw new Error(`WebGPU validation error during the test: ${scopeError.message}`);
  return outcome.value;
}

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
export function rng(seed: number): { next(): number; normal(): number; int(lo: number, hi: number): number } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}

export function randomArray(r: ReturnType<typeof rng>, n: number, scale: number): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.normal() * scale;
  return a;
}
