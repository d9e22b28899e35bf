/** The demo index page: shows the WebGPU adapter this browser offers (or what to do without one). */
import { openGpu } from './lib/adapter.js';
import { byId, publish, setState, showError } from './lib/page.js';

async function main(): Promise<void> {
  const gpu = await openGpu(byId('adapter'));
  if (!gpu) return;
  publish({ page: 'index', adapter: gpu.summary });
  gpu.device.destroy();
  setState('done');
}

main().catch((e: unknown) => showError('The page failed to start', e));
