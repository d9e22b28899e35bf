/**
 * TF.js on the page's own GPUDevice: its webgpu backend is registered on the device the page opened (the one
 * whose adapter the banner shows), so TF.js' forward and backward passes and this library's optimizer steps
 * run on one device and one queue. Also loads TF.js' gradient functions, which tfjs-core alone does not
 * register (tfjs-layers and the tfjs bundle do).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { DemoGpu } from './adapter.js';

let registered: GPUDevice | undefined;

/** Makes TF.js' active backend 'webgpu' on `gpu.device` (once per page; a second device is refused). */
export async function useTfjsOn(gpu: DemoGpu): Promise<void> {
  if (registered && registered !== gpu.device)
    throw new Error('TF.js is already registered on another GPUDevice in this page');
  if (!registered) {
    // The package registered a 'webgpu' factory that would request an adapter and device of its own: replace
    // it, before it was ever instantiated, by one on the page's device.
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, gpu.adapter.info));
    registered = gpu.device;
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its webgpu backend');
  await tf.ready();
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (device !== gpu.device) throw new Error("TF.js' webgpu backend is not on the page's GPUDevice");
}

/** TF.js' version, for the page. */
export const TFJS_VERSION = tf.version_core;
