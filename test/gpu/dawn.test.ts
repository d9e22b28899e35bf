/**
 * The library in Node.js on Dawn (the optional `webgpu` package), on this machine's WebGPU implementation
 * (without a GPU: Chromium's SwiftShader, set up by src/node/index.ts). The GPU scenarios are the browser tests'
 * own (test/gpu/scenarios/*.ts), run here with Dawn installed as `navigator.gpu`; the assertions are here.
 * A missing `webgpu` package or Vulkan driver fails every test with the helper's message: nothing skips.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AdaBelief, isFallbackDevice, type AdaBeliefOptions } from '../../src/index.js';
import { getNodeGPU, loadDawn, requestNodeDevice } from '../../src/node/index.js';
import { reject } from './scenarios/errors.js';
import { getDevice } from './scenarios/harness.js';
import { parity } from './scenarios/parity.js';
import { installDawnNavigator, type DawnNavigator } from '../../sessions/dawn.js';
import { expectWithin } from '../helpers/expect-report.js';

let dawn: DawnNavigator;
let fallbackAdapter = false;

beforeAll(async () => {
  dawn = await installDawnNavigator();
  const adapter = await dawn.gpu.requestAdapter();
  if (!adapter) throw new Error(`${dawn.setup}: requestAdapter() returned null`);
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  fallbackAdapter = info.isFallbackAdapter === true;
  console.log(`Node ${process.version}, ${dawn.setup}`);
  console.log(
    `WebGPU adapter: ${info.vendor} / ${info.architecture} / ${info.description}` +
      (fallbackAdapter ? ' (CPU fallback adapter: not a GPU)' : ''),
  );
});
afterAll(async () => {
  // The scenarios' shared device (test/gpu/scenarios/harness.ts); its loss is logged there, as expected here.
  if (dawn) (await getDevice()).destroy();
  dawn?.restore();
});

describe('Dawn device from adabelief-webgpu/node', () => {
  test("requestNodeDevice(): a labelled device with the adapter's storage-buffer limits", async () => {
    const device = await requestNodeDevice({ label: 'dawn-test-device' });
    try {
      const adapter = await dawn.gpu.requestAdapter();
      expect(device.label).toBe('dawn-test-device');
      expect(device.limits.maxStorageBufferBindingSize).toBe(adapter!.limits.maxStorageBufferBindingSize);
      expect(device.limits.maxBufferSize).toBe(adapter!.limits.maxBufferSize);
      expect(typeof GPUBufferUsage.STORAGE, 'WebGPU globals installed').toBe('number');
      expect(isFallbackDevice(device)).toBe(fallbackAdapter);
      console.log(
        `device limits: maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}, ` +
          `maxBufferSize ${device.limits.maxBufferSize}`,
      );
    } finally {
      device.destroy();
    }
  });

  test('where the software fallback was needed, turning it off gives the clear no-adapter error', async () => {
    const off = getNodeGPU({ swiftShader: 'off' });
    if (dawn.setup.includes('SwiftShader')) {
      await expect(off).rejects.toThrow(/found no WebGPU adapter .*sudo apt-get install -y chromium/);
    } else {
      console.log(`this machine needs no fallback (${dawn.setup}): 'off' must find the same adapter`);
      await expect(off).resolves.toBeDefined();
    }
    await expect(getNodeGPU({ swiftShader: '/nonexistent-chromium' })).rejects.toThrow(
      /swiftShader: '\/nonexistent-chromium' has no vk_swiftshader_icd\.json/,
    );
  });

  test("a missing 'webgpu' package is reported with the install line", async () => {
    const missing = 'webgpu-package-that-is-not-installed';
    await expect(loadDawn(() => import(/* @vite-ignore */ missing))).rejects.toThrow(
      /needs the optional package 'webgpu' .*could not be loaded: .*Install it with: npm install webgpu/,
    );
  });
});

describe('AdaBelief on Dawn against AdaBeliefCPU (f32), params and every state buffer', () => {
  const combos: { label: string; options: Partial<AdaBeliefOptions> }[] = [];
  for (const semantics of ['adabelief-pytorch', 'torch-optimizer'] as const)
    for (const amsgrad of [false, true])
      combos.push({
        label: `${semantics} amsgrad=${amsgrad}`,
        options: {
          semantics,
          amsgrad,
          lr: 1e-2,
          weightDecay: 1e-2,
          rectify: semantics === 'adabelief-pytorch',
        },
      });

  test.each(combos.map((c, i) => ({ ...c, i })))(
    'sizes 1, 5, 1023, 65537 in buffers of their own at offsets, 7 steps: $label',
    async ({ options, i, label }) => {
      const r = await parity({
        seed: 700 + i,
        sizes: [1, 5, 1023, 65537],
        offsets: [0, 256, 512, 768],
        steps: 7,
        options,
      });
      expectWithin(label, r.report);
      console.log(`${label}: ${r.neighboursChanged} values outside the tensors changed`);
      expect(r.neighboursChanged).toBe(0);
    },
  );

  test('tensors sharing one param buffer and one grad buffer at offsets (one dispatch), 7 steps', async () => {
    const r = await parity({
      seed: 77,
      sizes: [5, 1, 1023, 3, 65537, 2],
      offsets: [0, 256, 0, 512, 0, 0],
      shared: true,
      steps: 7,
      options: { amsgrad: true, rectify: false, weightDecay: 1e-3 },
    });
    expectWithin('shared buffer', r.report);
    console.log(`shared buffer: ${r.neighboursChanged} values outside the tensors changed`);
    expect(r.neighboursChanged).toBe(0);
  });
});

describe('errors on Dawn', () => {
  test.each([
    [
      'size mismatch',
      /params\[0\]: size mismatch: param buffer .* has 32 bytes, grad buffer .* has 24/,
      true,
    ],
    ['buffer of another device', /params\[0\].*WebGPU validation error/s, false],
  ] as const)('%s: rejected with a clear message, nothing changed', async (name, pattern, sync) => {
    const r = await reject(name);
    console.log(`${name}: ${r.message}`);
    expect(r.message).toMatch(pattern);
    expect(r.sync, 'thrown synchronously, before any GPU work').toBe(sync);
    expect(r.unchanged, 'params and optimizer state unchanged').toBe(true);
  });

  test('device.destroy(): the next step rejects naming the cause, and so does exportState', async () => {
    const device = await requestNodeDevice({ label: 'dawn-lost-device' });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const param = device.createBuffer({ label: 'dawn-lost-param', size: 64 * 4, usage });
    const grad = device.createBuffer({ label: 'dawn-lost-grad', size: 64 * 4, usage });
    const opt = await AdaBelief.create(device, [{ param, grad }], { label: 'dawn-lost' });
    try {
      await opt.step();
      device.destroy();
      const messages: string[] = [];
      // Within two calls the loss must be reported (it arrives asynchronously), with its cause.
      for (let i = 0; i < 2 && messages.length === 0; i++) {
        try {
          await opt.step();
        } catch (e) {
          messages.push((e as Error).message);
        }
      }
      await opt.exportState().catch((e: Error) => messages.push(e.message));
      console.log(`device lost: ${messages.join(' || ')}`);
      expect(messages[0]).toMatch(/^AdaBelief(\.step)?: the GPUDevice was lost \(destroyed\): .*importState/);
      expect(messages.at(-1)).toMatch(/AdaBelief\.exportState: the GPUDevice was lost \(destroyed\)/);
    } finally {
      opt.destroy();
      param.destroy();
      grad.destroy();
    }
  });
});
