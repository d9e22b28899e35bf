/**
 * ONNX Runtime Web as a source of gradients (docs/interop.md), in headless Chromium: a least-squares
 * gradient graph on ORT's WebGPU execution provider, outputs kept on the GPU, AdaBelief stepping the weights
 * in place on ORT's device for 50 steps (20 with JSEP), against AdaBeliefCPU fed the same gradients; and what the docs say
 * about ORT's device (getting it, giving ORT ours, what session.release() does). The scenarios run in the
 * page (test/gpu/scenarios/onnx.ts); the assertions and printed figures are here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, REPO_ROOT, type BrowserSession } from '../../sessions/chromium.js';
import { ULP_PER_STEP } from '../helpers/tolerance.js';
import type { LoopResult, OrtBuild, OwnDeviceResult } from './scenarios/onnx.js';

const PAGE = '/test/gpu/scenarios/onnx.ts';
/** Steps per build: 50 with the native EP (the build docs/interop.md imports); JSEP's runs cost about 1 s each on SwiftShader. */
const STEPS: Record<OrtBuild, number> = { webgpu: 50, jsep: 20 };
const ORT_VERSION = '1.31.1';
let session: BrowserSession;

beforeAll(async () => {
  session = await openBrowser('/sessions/index.html');
});
afterAll(async () => session?.close());

/**
 * A fresh page (a new tab): ORT keeps the device (and the wasm instance) of its first session for the page's
 * life. Not a navigation of the old tab: once, in a clean-clone CI run, navigating away from a page ORT's JSEP
 * build had used waited past 30 s.
 */
async function freshPage(): Promise<void> {
  await session.reopen();
}

test('onnxruntime-web is the pinned version', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
  const installed = JSON.parse(
    readFileSync(join(REPO_ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8'),
  ).version;
  console.log(
    `onnxruntime-web installed ${installed}, devDependency ${pkg.devDependencies['onnxruntime-web']}`,
  );
  expect(pkg.devDependencies['onnxruntime-web']).toBe(ORT_VERSION);
  expect(installed).toBe(ORT_VERSION);
});

describe.each<OrtBuild>(['webgpu', 'jsep'])('ORT build %s', (build) => {
  const name =
    build === 'webgpu' ? "'onnxruntime-web/webgpu' (native WebGPU EP)" : "'onnxruntime-web' (JSEP)";

  test(`${name}: the documented loop, ${STEPS[build]} steps on ORT's device, against AdaBeliefCPU fed ORT's gradients`, async () => {
    await freshPage();
    const r = await session.call<LoopResult>(PAGE, 'trainLoop', build, STEPS[build]);
    console.log(
      `ORT ${r.ort} ${name} on ${r.adapter}: grad_w location '${r.location}', GPUBuffer ${r.gradBufferBytes} bytes ` +
        `for a ${r.gradTensorBytes}-byte tensor; ${r.distinctGradBuffers} distinct output buffers over ${r.steps} steps, ${r.rebinds} rebinds`,
    );
    console.log(
      `${name}: ORT's gradient vs the f64 gradient at the weights the previous step left: max |Δ| ${r.gradMaxAbs.toExponential(2)}, ` +
        `${(r.gradWorstOfBound * 100).toFixed(2)}% of the f32 dot-product bound γ(n+d+3)·(2/n)·Σ|x|(|xw|+|y|)`,
    );
    console.log(
      `${name}: weights vs AdaBeliefCPU after every step: max |Δ| ${r.param.maxAbs.toExponential(2)}, ${r.param.maxUlp.toFixed(1)} ulp, ` +
        `${(r.param.worst * 100).toFixed(1)}% of the tolerance (${ULP_PER_STEP} ulp/step × step + 1 ulp of p per step, test/helpers/tolerance.ts); ` +
        `|grad|² ${r.lossFirst.toExponential(3)} → ${r.lossLast.toExponential(3)}`,
    );
    console.log(`${name}: after session.release(): ${JSON.stringify(r.release)}`);
    expect(r.ort).toBe(ORT_VERSION);
    expect(r.deviceIsGPUDevice).toBe(true);
    expect(r.location).toBe('gpu-buffer');
    // ORT rounds its output buffers up: the buffer's size is not the tensor's (120 → 128 bytes here).
    expect(r.gradBufferBytes).toBeGreaterThan(r.gradTensorBytes);
    expect(r.gradBufferBytes % 16).toBe(0);
    // ORT alternates output buffers between runs: rebind() is needed (and exercised) every step.
    expect(r.distinctGradBuffers).toBeGreaterThan(1);
    expect(r.rebinds).toBeGreaterThan(0);
    expect(r.param.nanMismatch).toBe(0);
    expect(r.param.worst).toBeLessThanOrEqual(1);
    expect(r.gradWorstOfBound).toBeLessThanOrEqual(1);
    expect(r.lossLast).toBeLessThan(r.lossFirst * 0.5);
    if (build === 'webgpu') {
      // The native EP destroys its device on release(): the optimizer and the weights go with it.
      expect(r.release.lost?.reason).toBe('destroyed');
      expect(r.release.stepAfter).toContain('the GPUDevice was lost');
      expect(r.release.readAfter).not.toBe('ok');
    } else {
      // JSEP keeps its device after release(): the optimizer and the weights stay usable.
      expect(r.release).toEqual({ lost: null, stepAfter: 'ok', readAfter: 'ok' });
    }
  });

  test.each(['env', 'option'] as const)(`${name}: giving ORT our device (%s)`, async (how) => {
    await freshPage();
    const r = await session.call<OwnDeviceResult>(PAGE, 'ownDevice', build, how);
    console.log(
      `${name}, our device through ${how === 'env' ? 'ort.env.webgpu.device = device' : "{ name: 'webgpu', device }"}: ${JSON.stringify(r)}`,
    );
    // Neither way makes ORT use our device in this version: get ORT's instead (await ort.env.webgpu.device).
    expect(r.ortUsesOurs).toBe(false);
    if (build === 'webgpu' && how === 'option') expect(r.outcome).toContain('Failed to find allocator');
    else expect(r.outcome).toBe('ok');
  });
});
