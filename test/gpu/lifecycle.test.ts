/**
 * The optimizer's lifecycle on Dawn in Node: un-awaited steps meeting a device loss or a destroyed buffer
 * (run in a child process: an unhandled rejection would make it exit 1), destroy() with steps in flight,
 * encoders dropped or held (child process with --expose-gc), encode() into several encoders, guarded steps and
 * the host's expected count against the GPU's own, step counts past 2^32, a rejected step not counted, in-flight
 * readbacks at device loss, and garbage collection of destroyed optimizers. test/gpu/step-count.test.ts has the
 * count's parity with the CPU reference.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AdaBelief } from '../../src/index.js';
import { requestNodeDevice } from '../../src/node/index.js';
import { readFloat32Buffer } from '../helpers/read-buffer.js';

const N = 1024;
const STORAGE = 0x80 | 0x4 | 0x8;
let device: GPUDevice;

beforeAll(async () => {
  device = await requestNodeDevice({ label: 'lifecycle-device' });
});
afterAll(() => device?.destroy());

function buffer(data: Float32Array, label: string, on = device): GPUBuffer {
  const b = on.createBuffer({ label, size: data.byteLength, usage: STORAGE, mappedAtCreation: true });
  new Float32Array(b.getMappedRange()).set(data);
  b.unmap();
  return b;
}
const grads = () => Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 0.1);
const params = () => Float32Array.from({ length: N }, (_, i) => Math.cos(i));

const read = (b: GPUBuffer): Promise<Float32Array> => readFloat32Buffer(device, b);

async function make(options = {}) {
  const param = buffer(params(), 'param');
  const grad = buffer(grads(), 'grad');
  const opt = await AdaBelief.create(device, [{ param, grad, size: N }], options);
  return { param, grad, opt };
}

const run = promisify(execFile);
/** Runs a scenario of scenarios/lifecycle-child.ts in a child Node process; returns its result and stderr. */
async function child(scenario: string): Promise<{ result: Record<string, unknown>; stderr: string }> {
  const args = [
    '--expose-gc',
    '--import',
    'tsx',
    '--import',
    './test/helpers/raw-register.mjs',
    'test/gpu/scenarios/lifecycle-child.ts',
    scenario,
  ];
  const { stdout, stderr } = await run(process.execPath, args, { timeout: 120_000 }).catch(
    (e: { code?: number; stdout?: string; stderr?: string }) => {
      throw new Error(`child '${scenario}' exited ${e.code}: ${e.stderr?.slice(-2000)}`);
    },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`child '${scenario}' printed no result: ${stdout}\n${stderr}`);
  return { result: JSON.parse(line.slice(7)) as Record<string, unknown>, stderr };
}

describe('un-awaited promises never crash the process (child process: exit code and stderr)', () => {
  test('steps never awaited, then the device destroyed: exit 0, and the next call throws the loss', async () => {
    const { result, stderr } = await child('unawaitedDeviceLoss');
    expect(stderr).not.toMatch(/Unhandled|unhandled/);
    expect(result.message).toMatch(/AdaBelief\.step: the GPUDevice was lost \(destroyed\)/);
  });

  test('the caller destroyed its param buffer, steps never awaited: exit 0; the next call throws the cause; no step counted', async () => {
    const { result, stderr } = await child('unawaitedDestroyedBuffer');
    expect(stderr).not.toMatch(/Unhandled|unhandled/);
    expect(result.message).toMatch(/unusable after an earlier error: .*step 1: WebGPU validation error/);
    expect(result.step).toBe(0);
    expect(result.stepCount).toBe(0);
  });

  test('destroyed optimizers are garbage-collected while their device lives (WeakRef + --expose-gc)', async () => {
    const { result } = await child('gc');
    expect(result.created).toBe(40);
    expect(result.alive, `still alive: ${JSON.stringify(result.aliveIndices)}`).toBe(0);
  });
});

describe('encode() into encoders dropped without a submit (child process, --expose-gc)', () => {
  test('a dropped encoder costs exactly its steps (they never run, nothing refuses); held command buffers run when submitted', async () => {
    const { result } = await child('droppedEncoders');
    for (const name of ['unfinished', 'finished']) {
      // 8 steps dropped, then 2 step() calls: the GPU's count is 2.
      expect(result[`${name}Read`]).toBe(2);
      expect(result[`${name}Step`]).toBe(2);
    }
    // 8 command buffers held through collections, a step(), then the 8 submitted: 9 steps.
    expect(result.heldStep).toBe(9);
  });
});

describe('lifecycle on one device', () => {
  test('destroy() with steps in flight: every promise settles, later calls say destroyed', async () => {
    const { opt } = await make();
    const inFlight = Array.from({ length: 5 }, () => opt.step());
    opt.destroy();
    const settled = await Promise.allSettled(inFlight);
    for (const s of settled) {
      if (s.status === 'rejected') expect(String(s.reason)).toMatch(/AdaBelief\.step:|destroyed/);
    }
    expect(() => opt.step()).toThrow('AdaBelief.step: this optimizer was destroyed');
    await expect(opt.exportState()).rejects.toThrow('AdaBelief.exportState: this optimizer was destroyed');
  });

  test('encode(): one encoder of 8 steps, then 8 encoders of one submitted together, equal 16 step() calls', async () => {
    const a = await make();
    const b = await make();
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < 8; i++) a.opt.encode(encoder);
    expect(a.opt.stepCount).toBe(8);
    device.queue.submit([encoder.finish()]);
    for (let i = 0; i < 8; i++) await b.opt.step();
    expect(Array.from(await read(a.param))).toEqual(Array.from(await read(b.param)));
    const encoders = Array.from({ length: 8 }, () => device.createCommandEncoder());
    for (const e of encoders) a.opt.encode(e);
    device.queue.submit(encoders.map((e) => e.finish()));
    for (let i = 0; i < 8; i++) await b.opt.step();
    expect(Array.from(await read(a.param))).toEqual(Array.from(await read(b.param)));
    expect((await a.opt.exportState()).step).toBe(16);
  });

  test('guarded: stepCount assumes no skip until a read; readStepCount() is the GPU count and narrows it', async () => {
    const { opt, grad } = await make({ skipNonFinite: true });
    const nan = grads();
    nan[7] = Number.NaN;
    const steps: Promise<void>[] = [];
    for (let i = 1; i <= 6; i++) {
      device.queue.writeBuffer(grad, 0, i === 5 ? nan : grads());
      steps.push(opt.step());
    }
    await Promise.all(steps);
    expect(opt.stepCount, 'the count if none was skipped').toBe(6);
    expect(await opt.readStepCount()).toBe(5);
    expect(opt.stepCount).toBe(5);
    expect((await opt.exportState()).step).toBe(5);
  });

  test('guarded steps whose report nobody reads: a read starts by itself past half the ring, so no limit is met', async () => {
    const { opt } = await make({ skipNonFinite: true });
    // 2200 steps (more than the ring of 2048), never a report; every 100th the loop waits for the GPU (as
    // one that reads its loss does), so the host is never far ahead: the count's range is narrowed for it.
    for (let i = 1; i <= 2200; i++) {
      void opt.step();
      if (i % 100 === 0) await device.queue.onSubmittedWorkDone();
    }
    expect(await opt.readStepCount()).toBe(2200);
  }, 120_000);

  test('64-bit step counts: import 2^32 + 5, step, export 2^32 + 6 (guarded and not)', async () => {
    for (const options of [{}, { skipNonFinite: true }]) {
      const { opt } = await make(options);
      const state = await opt.exportState();
      opt.importState({ ...state, step: 2 ** 32 + 5 });
      expect((await opt.exportState()).step).toBe(2 ** 32 + 5);
      await opt.step();
      expect(opt.stepCount).toBe(2 ** 32 + 6);
      expect((await opt.exportState()).step).toBe(2 ** 32 + 6);
      if (Object.keys(options).length) expect((await opt.lastStepReport()).applied).toBe(2 ** 32 + 6);
    }
  });

  test('a step WebGPU rejected does not count (unguarded): export step 1, moments of step 1', async () => {
    const { opt, param } = await make();
    await opt.step();
    const after1 = await opt.exportState();
    const dead = buffer(grads(), 'destroyed-grad');
    dead.destroy();
    await opt.rebind([{ param, grad: dead }]).catch(() => undefined);
    await opt.step().catch(() => undefined);
    expect(opt.stepCount).toBe(1);
    const state = await opt.exportState();
    expect(state.step).toBe(1);
    expect(Array.from(state.tensors[0]!.exp_avg)).toEqual(Array.from(after1.tensors[0]!.exp_avg));
  });

  test('exportState() and lastStepReport() in flight at device loss reject with the clear message', async () => {
    const own = await requestNodeDevice({ label: 'lifecycle-lost' });
    const param = buffer(params(), 'param', own);
    const grad = buffer(grads(), 'grad', own);
    const opt = await AdaBelief.create(own, [{ param, grad, size: N }], { skipNonFinite: true });
    await opt.step();
    const calls = [opt.exportState(), opt.lastStepReport(), opt.step()];
    own.destroy();
    for (const r of await Promise.allSettled(calls)) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(
        /AdaBelief\.(exportState|lastStepReport|step): the GPUDevice was lost \(destroyed\)/,
      );
    }
    await expect(opt.exportState()).rejects.toThrow(/the GPUDevice was lost/);
  });
});
