/**
 * WebGPU for the demo pages: finds the adapter, shows which one the page runs on (and that a CPU fallback
 * such as SwiftShader is an emulation, not a GPU), or says plainly that there is no WebGPU and what to do
 * about it. Errors WebGPU reports outside any error scope are shown on the page and logged.
 */
import { isFallbackDevice } from 'adabelief-webgpu';
import { el, setState, showError } from './page.js';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU fallback adapter (SwiftShader, llvmpipe): a CPU emulating a GPU. */
  fallback: boolean;
}

export interface DemoGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
}

const WHAT_TO_DO = [
  'Use a browser with WebGPU: Chrome or Edge 113+ (Windows, macOS, ChromeOS, Android), Safari 26+, or Firefox 141+ on Windows.',
  'Chrome on Linux: enable chrome://flags/#enable-unsafe-webgpu, or start it with --enable-unsafe-webgpu.',
  'Open the page from http://localhost or https:// — WebGPU exists only in a secure context (not file://, not http:// to another host).',
  'Without a GPU: Chromium with --enable-unsafe-webgpu uses SwiftShader (a CPU implementation of Vulkan) where it ships it, as Debian’s chromium package does.',
];

/** Fills `banner` with the no-WebGPU message and sets the page's state; returns null for the caller. */
function noWebGpu(banner: HTMLElement, why: string): null {
  banner.className = 'adapter no-webgpu';
  banner.replaceChildren(
    el('p', {}, el('strong', {}, 'No WebGPU here: '), why),
    el(
      'p',
      {},
      'This page runs every optimizer step on the GPU through WebGPU, so it cannot run. What to do:',
    ),
    el('ul', {}, ...WHAT_TO_DO.map((t) => el('li', {}, t))),
  );
  console.warn(`demo: no WebGPU: ${why}`);
  setState('no-webgpu');
  return null;
}

export function describeAdapter(s: AdapterSummary): string {
  return (
    [s.vendor, s.architecture, s.description].filter(Boolean).join(' / ') || '(the adapter gives no name)'
  );
}

/**
 * Requests an adapter and a device (`descriptor` adds features and limits), shows the adapter in `banner`,
 * and reports uncaptured WebGPU errors and device loss on the page. Null (with the message shown) when the
 * browser has no WebGPU or no adapter.
 */
export async function openGpu(
  banner: HTMLElement,
  descriptor: GPUDeviceDescriptor = {},
): Promise<DemoGpu | null> {
  if (!window.isSecureContext) {
    return noWebGpu(banner, `this page is not a secure context (${location.protocol}//${location.host}).`);
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    return noWebGpu(banner, 'this browser has no navigator.gpu.');
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    return noWebGpu(
      banner,
      'navigator.gpu.requestAdapter() found no adapter (the GPU may be blocklisted or disabled: see chrome://gpu).',
    );
  }
  const device = await adapter.requestDevice({ label: 'demo-device', ...descriptor });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const summary: AdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    fallback: info.isFallbackAdapter === true || isFallbackDevice(device),
  };
  device.addEventListener('uncapturederror', (e) =>
    showError('Uncaught WebGPU error', (e as GPUUncapturedErrorEvent).error.message),
  );
  void device.lost.then((lost) => {
    if (lost.reason !== 'destroyed')
      showError('The WebGPU device was lost', `${lost.reason}: ${lost.message}`);
  });
  banner.className = `adapter${summary.fallback ? ' fallback' : ''}`;
  banner.replaceChildren(
    el('p', {}, 'WebGPU adapter: ', el('strong', { id: 'adapter-name' }, describeAdapter(summary))),
  );
  if (summary.fallback) {
    banner.append(
      el(
        'p',
        {},
        'This is a CPU fallback adapter (SwiftShader or similar): a CPU emulating a GPU, not a GPU. ' +
          'Everything runs, only slowly, and its timings say nothing about a real GPU.',
      ),
    );
  }
  return { adapter, device, summary };
}
