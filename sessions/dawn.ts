/**
 * Dawn as `navigator.gpu` in this Node process, so that code written for a page (test/gpu/scenarios/*.ts,
 * bench/page.ts: they call `navigator.gpu.requestAdapter()`) runs unchanged in Node. Used by
 * test/gpu/dawn.test.ts and bench/node.ts.
 */
import { getNodeGPU, nodeGPUSetup, type NodeGPUOptions } from '../src/node/index.js';

export interface DawnNavigator {
  gpu: GPU;
  /** How the GPU was set up, in words (nodeGPUSetup). */
  setup: string;
  /** What `navigator.userAgent` says in this process. */
  userAgent: string;
  /** Removes `navigator.gpu` again (and `navigator` where this created it). */
  restore(): void;
}

/** Installs Dawn's GPU (from getNodeGPU(options), software fallback included) as `navigator.gpu`. */
export async function installDawnNavigator(options: NodeGPUOptions = {}): Promise<DawnNavigator> {
  const gpu = await getNodeGPU(options);
  const g = globalThis as { navigator?: { userAgent?: string } };
  // Node >= 21 has a `navigator` (without `gpu`); Node 20 has none.
  const existing = g.navigator;
  const userAgent = existing?.userAgent ?? `Node.js/${process.version}`;
  if (existing) {
    Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu, userAgent },
      configurable: true,
      writable: true,
    });
  }
  return {
    gpu,
    setup: nodeGPUSetup(gpu),
    userAgent,
    restore: () => {
      if (existing) delete (existing as { gpu?: GPU }).gpu;
      else delete g.navigator;
    },
  };
}
