/**
 * The optimizer's lifecycle on Dawn in Node: un-awaited steps meeting a device loss or a destroyed buffer
 * (run in a child process: an unhandled rejection would make it exit 1), destroy() with steps in flight,
 * encode()'s limit, guarded steps confirmed by awaited step() promises, exact counts after bursts, step
 * counts past 2^32, a rejected step not counted, in-flight readbacks at device loss, and garbage collection
 * of destroyed optimizers (child process with --expose-gc).
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
  test('once collected, the optimizer refuses further calls, saying why; held command buffers run when submitted', async () => {
    const { result } = await child('droppedEncoders');
    for (const name of ['unfinished', 'finished']) {
      // Right after the drops (the collector cannot have run yet): the ring is full.
      expect(result[`${name}Before`]).toMatch(/AdaBelief\.encode: 8 encoded steps wait/);
      // After at most 20 collections: unusable, naming the first dropped step; its steps were counted.
      expect(result[`${name}Collections`]).toBeGreaterThan(0);
      expect(result[`${name}After`]).toMatch(
        /AdaBelief\.encode: the optimizer is unusable after an earlier error: AdaBelief\.encode: step \d was encoded into a command encoder that was garbage-collected without a submit/,
      );
      expect(result[`${name}Step`]).toBe(8);
    }
    // 5 collections while the 8 command buffers are held: only the full ring refuses; once submitted, a step
    // runs: 9 steps.
    expect(result.heldErrors).toEqual(Array(5).fill(expect.stringMatching(/8 encoded steps wait/)));
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

  test('encode(): 8 steps before a submit are right, the 9th is refused and records nothing', async () => {
    const a = await make();
    const b = await make();
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < 8; i++) a.opt.encode(encoder);
    expect(() => a.opt.encode(encoder)).toThrow(
      /AdaBelief\.encode: 8 encoded steps wait for their command encoders to be submitted/,
    );
    expect(a.opt.stepCount).toBe(8);
    device.queue.submit([encoder.finish()]);
    for (let i = 0; i < 8; i++) await b.opt.step();
    expect(Array.from(await read(a.param))).toEqual(Array.from(await read(b.param)));
    // After the submit the ring is free again: 8 encoders of one step each, submitted together.
    const encoders = Array.from({ length: 8 }, () => device.createCommandEncoder());
    for (const e of encoders) a.opt.encode(e);
    expect(() => a.opt.encode(device.createCommandEncoder())).toThrow(/8 encoded steps wait/);
    device.queue.submit(encoders.map((e) => e.finish()));
    for (let i = 0; i < 8; i++) await b.opt.step();
    expect(Array.from(await read(a.param))).toEqual(Array.from(await read(b.param)));
    expect((await a.opt.exportState()).step).toBe(16);
  });

  test('guarded: awaiting every 5th step() confirms the count (80 steps: past the 32 in-flight limit), exact at the end', async () => {
    const { opt } = await make({ skipNonFinite: true });
    for (let i = 1; i <= 80; i++) {
      const p = opt.step();
      if (i % 5 === 0) await p;
    }
    await opt.step();
    expect(opt.stepCount).toBe(81);
    expect((await opt.exportState()).step).toBe(81);
  });

  test('guarded: 6 steps in flight with NaN in the 5th, all awaited: stepCount 5, export 5', async () => {
    const { opt, grad } = await make({ skipNonFinite: true });
    const nan = grads();
    nan[7] = Number.NaN;
    const steps: Promise<void>[] = [];
    for (let i = 1; i <= 6; i++) {
      device.queue.writeBuffer(grad, 0, i === 5 ? nan : grads());
      steps.push(opt.step());
    }
    await Promise.all(steps);
    expect(opt.stepCount).toBe(5);
    expect((await opt.exportState()).step).toBe(5);
  });

  test('guarded: bursts of 30 un-awaited steps, exact counts after each; the 33rd unconfirmed step is refused', async () => {
    const { opt } = await make({ skipNonFinite: true });
    for (let burst = 1; burst <= 2; burst++) {
      const steps = Array.from({ length: 30 }, () => opt.step());
      await Promise.all(steps);
      expect(opt.stepCount).toBe(30 * burst);
    }
    for (let i = 0; i < 32; i++) void opt.step();
    expect(() => opt.step()).toThrow(
      /32 guarded steps are in flight and none has been confirmed \(at most 32\)/,
    );
    await opt.lastStepReport();
    expect(opt.stepCount).toBe(92);
  });

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
