/**
 * The parts of TF.js' webgpu backend (@tensorflow/tfjs-backend-webgpu 4.22.x, `backend_webgpu.ts`) that the
 * in-place optimizer step relies on. TF.js has no public API for "update this variable's GPU buffer in
 * place": `tensor.dataToGPU()` copies. So, on the backend object itself:
 *
 *   device                         the GPUDevice every TF.js buffer lives on (the optimizer uses it too)
 *   tensorMap.get(dataId)          { resource: GPUBuffer | null, values: CPU copy | null, refCount, dtype }
 *                                  (`get` first moves data held by another backend onto this one)
 *   refCount(dataId)               how many tensors share the data (a Variable shares its initial tensor's)
 *   uploadToGPU(dataId)            gives CPU-resident data (small tensors run on the CPU) a GPU buffer
 *   ensureCommandEncoderReady()    TF.js records kernels into its own encoder and submits every 15 dispatches
 *   endComputePassEncoder()        or on a read; these three flush what it has recorded so far, so our
 *   submitQueue()                  submit comes after every kernel issued before the step
 *
 * After the step, `values` (the CPU copy cached by `data()` / `dataSync()`) must be dropped, or reads
 * return the values from before the step. `webgpuBackend()` checks that these members exist and fails with
 * the pinned version range when they do not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TESTED_TFJS_RANGE } from './versions.js';

/** TF.js's record for one data id on the webgpu backend (the fields read or written here). */
export interface WebGPUTensorData {
  values: unknown;
  resource: unknown;
  dtype: string;
  refCount: number;
}

export type DataId = tf.Tensor['dataId'];

/** The webgpu backend's members used by the adapter. */
export interface WebGPUBackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: DataId): WebGPUTensorData; has(dataId: DataId): boolean };
  refCount(dataId: DataId): number;
  uploadToGPU(dataId: DataId): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const METHODS = [
  'refCount',
  'uploadToGPU',
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'submitQueue',
] as const;

/**
 * The active backend when it is TF.js' webgpu backend, else undefined. Throws (naming what is missing) when
 * a backend registered as 'webgpu' lacks the internals listed above, e.g. after a TF.js upgrade.
 */
export function webgpuBackend(): WebGPUBackendInternals | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const backend = tf.backend() as unknown as Partial<Record<string, unknown>>;
  const missing: string[] = METHODS.filter((m) => typeof backend[m] !== 'function');
  const device = backend.device as Partial<GPUDevice> | undefined;
  if (!device || typeof device.createCommandEncoder !== 'function') missing.push('device');
  const map = backend.tensorMap as Partial<WebGPUBackendInternals['tensorMap']> | undefined;
  if (!map || typeof map.get !== 'function' || typeof map.has !== 'function') missing.push('tensorMap');
  if (missing.length) {
    throw new Error(
      `adabelief-webgpu/tfjs: the 'webgpu' backend lacks ${missing.join(', ')}; the in-place update relies on ` +
        `internals of @tensorflow/tfjs-backend-webgpu ${TESTED_TFJS_RANGE} (installed: tfjs-core ${tf.version_core})`,
    );
  }
  return backend as unknown as WebGPUBackendInternals;
}

/** Submits whatever TF.js has recorded but not yet submitted (kernels, uploads), so later work sees its results. */
export function flushTfjs(backend: WebGPUBackendInternals): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** The GPUBuffer holding `t`'s data on the webgpu backend, uploading CPU-resident data first. */
export function gpuBufferOf(backend: WebGPUBackendInternals, t: tf.Tensor, what: string): GPUBuffer {
  let data = backend.tensorMap.get(t.dataId);
  if (data.resource == null) {
    backend.uploadToGPU(t.dataId);
    data = backend.tensorMap.get(t.dataId);
  }
  const buffer = data.resource as GPUBuffer | null;
  if (
    !buffer ||
    typeof buffer.size !== 'number' ||
    typeof buffer.usage !== 'number' ||
    !('mapState' in buffer)
  ) {
    throw new Error(`adabelief-webgpu/tfjs: ${what} is not held in a GPUBuffer on the webgpu backend`);
  }
  if (buffer.size < t.size * 4) {
    throw new Error(
      `adabelief-webgpu/tfjs: ${what}'s GPUBuffer has ${buffer.size} bytes, the tensor needs ${t.size * 4}`,
    );
  }
  return buffer;
}

/**
 * Gives `v` a buffer of its own when its data is shared with another tensor (`tf.variable(x)` shares x's
 * data; so does `v.assign(y)` while y lives): writing in place must never change another tensor. The copy
 * is TF.js's own (`dataToGPU()`: a GPU copy into a pool buffer), byte for byte.
 */
export function ownData(backend: WebGPUBackendInternals, v: tf.Variable): void {
  if (backend.refCount(v.dataId) <= 1) return;
  if (backend.tensorMap.get(v.dataId).resource == null) backend.uploadToGPU(v.dataId);
  const { tensorRef } = v.dataToGPU();
  v.assign(tensorRef);
  tensorRef.dispose();
}

/** Drops the CPU copy of `t`'s values that `data()` / `dataSync()` cached: the GPU buffer changed under it. */
export function dropCpuCopy(backend: WebGPUBackendInternals, t: tf.Tensor): void {
  backend.tensorMap.get(t.dataId).values = null;
}
