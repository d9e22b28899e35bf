/**
 * The one step count (issue 20), on Dawn in Node: the count lives on the GPU in the optimizer's step record,
 * advanced by the step kernel when a step is applied. Each reproduction below parted the host's count from the
 * state before; each is now compared with the CPU reference (params, every state buffer, the count), bit for bit
 * on SwiftShader and within the stated tolerance on a real GPU.
 *
 * Tolerance: the parity suites' (test/helpers/tolerance.ts, derived from WGSL's accuracy rules: 16 ulp per step
 * for state, plus the distance each param travelled), printed per case as the worst fraction of it. SwiftShader
 * gives 0.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AdaBelief, AdaBeliefCPU } from '../../src/index.js';
import { requestNodeDevice } from '../../src/node/index.js';
import { readFloat32Buffer } from '../helpers/read-buffer.js';
import { MAX_STEP } from '../../src/core/step-count.js';
import { paramTolerance, stateTolerance } from '../helpers/tolerance.js';
import { compareArrays } from '../helpers/compare.js';

const N = 1030; // a tail (1030 % 4 = 2) as well as whole vec4s
const STORAGE = 0x80 | 0x4 | 0x8;
let device: GPUDevice;

beforeAll(async () => {
  device = await requestNodeDevice({ label: 'step-count-device' });
});
afterAll(() => device?.destroy());

function buffer(data: Float32Array, label: string): GPUBuffer {
  const b = device.createBuffer({ label, size: data.byteLength, usage: STORAGE, mappedAtCreation: true });
  new Float32Array(b.getMappedRange()).set(data);
  b.unmap();
  return b;
}
const params0 = () => Float32Array.from({ length: N }, (_, i) => Math.cos(i));
const gradsAt = (t: number) => Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.37 + t) * 0.1);

/** A GPU optimizer and its CPU reference on the same params, the grad buffer written per step. */
async function pair(options: Record<string, unknown> = {}) {
  const param = buffer(params0(), 'param');
  const grad = buffer(gradsAt(0), 'grad');
  const opt = await AdaBelief.create(device, [{ param, grad, size: N }], { lr: 1e-2, ...options });
  const { gradScale, skipNonFinite, maxGradNorm, ...hyper } = options;
  const reference = new AdaBeliefCPU([params0()], { lr: 1e-2, ...hyper });
  // The CPU reference, recording how far each param travelled (for the param tolerance).
  const travel = new Float64Array(N);
  const cpu = Object.assign(reference, {
    travel,
    stepWith(g: Float32Array<ArrayBuffer>, guard?: Parameters<AdaBeliefCPU['step']>[1]) {
      const before = reference.params[0]!.slice();
      reference.step([g], guard);
      reference.params[0]!.forEach((v, i) => (travel[i]! += Math.abs(v - before[i]!)));
    },
  });
  const guard =
    gradScale !== undefined || skipNonFinite !== undefined || maxGradNorm !== undefined
      ? {
          ...(gradScale !== undefined && { gradScale: gradScale as number }),
          ...(skipNonFinite !== undefined && { skipNonFinite: skipNonFinite as boolean }),
          ...(maxGradNorm !== undefined && { maxGradNorm: maxGradNorm as number }),
        }
      : undefined;
  return { param, grad, opt, cpu, guard };
}

/** Asserts `got` within `tol` of `want` (no non-finite value anywhere); prints the worst fraction of it. */
function within(what: string, got: Float32Array, want: Float32Array, tol: (i: number) => number): void {
  const r = compareArrays(got, want, tol);
  console.log(`${what}: worst ${(100 * r.worst).toFixed(1)}% of tolerance, max ${r.maxUlp.toFixed(1)} ulp`);
  expect(r.worst, `${what}: element ${r.worstIndex}`).toBeLessThanOrEqual(1);
}

/** Params, every state buffer and the count of `gpu` against the CPU reference. */
async function expectSame(what: string, p: Awaited<ReturnType<typeof pair>>, steps: number) {
  const state = await p.opt.exportState();
  const want = p.cpu.exportState();
  expect(state.step, `${what}: exported step`).toBe(want.step);
  expect(await p.opt.readStepCount(), `${what}: GPU count`).toBe(want.step);
  const param = p.cpu.params[0]!;
  within(
    `${what} param`,
    await readFloat32Buffer(device, p.param),
    param,
    paramTolerance(param, p.cpu.travel, steps),
  );
  for (const q of ['exp_avg', 'exp_avg_var'] as const) {
    const ref = want.tensors[0]![q];
    within(`${what} ${q}`, state.tensors[0]![q], ref, stateTolerance(ref, steps));
  }
}

describe('reproductions of issue 20: the count stays with the state', () => {
  test('guarded encode() with a readback between encode and submit (a GradScaler loop), 3 rounds, then step()', async () => {
    const p = await pair({ skipNonFinite: true });
    for (let t = 1; t <= 3; t++) {
      device.queue.writeBuffer(p.grad, 0, gradsAt(t));
      const encoder = device.createCommandEncoder();
      p.opt.encode(encoder);
      // Read before the submit: the encoded step has not run; the report says so, nothing is folded in.
      expect(await p.opt.lastStepSkipped()).toBe(false);
      await p.opt.exportState();
      device.queue.submit([encoder.finish()]);
      p.cpu.stepWith(gradsAt(t), p.guard);
    }
    device.queue.writeBuffer(p.grad, 0, gradsAt(4));
    await p.opt.step();
    p.cpu.stepWith(gradsAt(4), p.guard);
    expect(p.opt.stepCount).toBe(4);
    await expectSame('encode + readback + submit', p, 4);
  });

  test('step(); step(); e = exportState(); step(): e holds step 2 and the state after 2 steps', async () => {
    const p = await pair();
    const after2 = new AdaBeliefCPU([params0()], { lr: 1e-2 });
    for (let t = 1; t <= 2; t++) {
      device.queue.writeBuffer(p.grad, 0, gradsAt(t));
      void p.opt.step();
      after2.step([gradsAt(t)]);
    }
    const e = p.opt.exportState();
    device.queue.writeBuffer(p.grad, 0, gradsAt(3));
    void p.opt.step();
    const exported = await e;
    expect(exported.step).toBe(2);
    const want2 = after2.exportState().tensors[0]!.exp_avg;
    within('export after 2 exp_avg', exported.tensors[0]!.exp_avg, want2, stateTolerance(want2, 2));
    // exportState() then importState({ step: 0 }) in the same tick: the export is still step 3's state.
    const zeros = { exp_avg: new Float32Array(N), exp_avg_var: new Float32Array(N) };
    const e3 = p.opt.exportState();
    p.opt.importState({ step: 0, options: p.opt.options, tensors: [zeros] });
    const third = await e3;
    expect(third.step).toBe(3);
    expect(third.tensors[0]!.exp_avg.some((v) => v !== 0)).toBe(true);
    const now = await p.opt.exportState();
    expect(now.step).toBe(0);
    expect(now.tensors[0]!.exp_avg.every((v) => v === 0)).toBe(true);
  });

  test('unguarded encode(): an export before the submit is step N with the moments of N', async () => {
    const p = await pair();
    device.queue.writeBuffer(p.grad, 0, gradsAt(1));
    await p.opt.step();
    p.cpu.stepWith(gradsAt(1));
    const encoder = device.createCommandEncoder();
    p.opt.encode(encoder);
    const before = await p.opt.exportState();
    expect(before.step).toBe(1);
    const want1 = p.cpu.exportState().tensors[0]!.exp_avg;
    within('before submit exp_avg', before.tensors[0]!.exp_avg, want1, stateTolerance(want1, 1));
    device.queue.submit([encoder.finish()]);
    p.cpu.stepWith(gradsAt(1));
    await expectSame('after submit', p, 2);
  });

  test('unguarded encode(): an import before the submit; the encoded step runs on the imported state and count', async () => {
    const p = await pair();
    const encoder = device.createCommandEncoder();
    p.opt.encode(encoder);
    // Import the state of 5 CPU steps (the params too: written into the param buffer).
    for (let t = 1; t <= 5; t++) p.cpu.stepWith(gradsAt(t));
    const imported = p.cpu.exportState();
    device.queue.writeBuffer(p.param, 0, p.cpu.params[0]!);
    p.opt.importState(imported);
    device.queue.writeBuffer(p.grad, 0, gradsAt(6));
    device.queue.submit([encoder.finish()]);
    p.cpu.stepWith(gradsAt(6));
    await expectSame('import before submit', p, 6);
  });

  test('encode() into an encoder whose compute pass is still open: that step never runs and never counts', async () => {
    const p = await pair();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    p.opt.encode(encoder); // Dawn reports it at finish(), outside the optimizer's error scope
    pass.end();
    device.pushErrorScope('validation');
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    expect(error, 'the caller sees the invalid encoder').not.toBeNull();
    device.queue.writeBuffer(p.grad, 0, gradsAt(1));
    await p.opt.step();
    p.cpu.stepWith(gradsAt(1));
    await expectSame('after the invalid encoder', p, 1);
  });
});

describe('any number of steps in flight, exact', () => {
  test('1000 encode() into one encoder, one submit: 1000 CPU steps', async () => {
    const p = await pair();
    const encoder = device.createCommandEncoder();
    for (let t = 0; t < 1000; t++) p.opt.encode(encoder);
    expect(p.opt.stepCount).toBe(1000);
    device.queue.submit([encoder.finish()]);
    for (let t = 0; t < 1000; t++) p.cpu.stepWith(gradsAt(0));
    await expectSame('1000 encoded', p, 1000);
  }, 120_000);

  test('200 un-awaited guarded steps with inf at chosen steps, one await: as the CPU with the same skips', async () => {
    const p = await pair({ skipNonFinite: true, gradScale: 4 });
    const infAt = new Set([3, 4, 50, 199]);
    for (let t = 1; t <= 200; t++) {
      const g = gradsAt(t).map((v) => v * 4);
      if (infAt.has(t)) g[t % N] = t % 2 ? Infinity : Number.NaN;
      device.queue.writeBuffer(p.grad, 0, g);
      void p.opt.step();
      p.cpu.stepWith(g, p.guard);
    }
    expect(p.cpu.stepCount).toBe(196);
    expect(p.opt.stepCount, 'before any read: the count if none was skipped').toBe(200);
    await expectSame('200 guarded', p, 196);
    expect(p.opt.stepCount, 'after a read').toBe(196);
  }, 120_000);

  test('encoders submitted in another order than encoded, some never: each step runs at the count it finds', async () => {
    const p = await pair();
    const encoders = Array.from({ length: 6 }, () => device.createCommandEncoder());
    for (const e of encoders) p.opt.encode(e);
    // Submit 4 of 6, out of order; drop two (never submitted: their steps never run, nothing else changes).
    device.queue.submit([encoders[3]!.finish(), encoders[0]!.finish()]);
    device.queue.submit([encoders[5]!.finish(), encoders[1]!.finish()]);
    for (let t = 0; t < 4; t++) p.cpu.stepWith(gradsAt(0));
    await expectSame('4 of 6 encoders', p, 4);
    await p.opt.step();
    p.cpu.stepWith(gradsAt(0));
    await expectSame('then a step()', p, 5);
  });

  test('options changed between encode() and the submit: the step runs with the options in force then', async () => {
    const p = await pair();
    const encoder = device.createCommandEncoder();
    p.opt.encode(encoder);
    p.opt.lr = 0.05;
    p.opt.betas = [0.8, 0.99];
    device.queue.submit([encoder.finish()]);
    p.cpu.set({ lr: 0.05, betas: [0.8, 0.99] });
    p.cpu.stepWith(gradsAt(0));
    await expectSame('set() after encode()', p, 1);
    // setOverrides regroups the tensors: an encoded step submitted after it takes the override.
    const e2 = device.createCommandEncoder();
    p.opt.encode(e2);
    p.opt.setOverrides(0, { lr: 0.001 });
    device.queue.submit([e2.finish()]);
    p.cpu.set({ lr: 0.001 });
    p.cpu.stepWith(gradsAt(0));
    await expectSame('setOverrides() after encode()', p, 2);
  });

  test('past the ring: more unconfirmed steps than it holds is a clear error, and a read frees them', async () => {
    const p = await pair();
    const encoder = device.createCommandEncoder();
    let refused = '';
    let n = 0;
    try {
      for (; n < 5000; n++) p.opt.encode(encoder);
    } catch (e) {
      refused = (e as Error).message;
    }
    expect(n, 'encode() takes at least 1024 steps between submits').toBeGreaterThanOrEqual(1024);
    expect(refused).toMatch(/AdaBelief\.encode: \d+ steps may still run .* readStepCount\(\)/);
    device.queue.submit([encoder.finish()]);
    expect(await p.opt.readStepCount()).toBe(n);
    p.opt.encode(device.createCommandEncoder()); // room again (this one is dropped)
  }, 120_000);
});

describe('the count and what the library touches', () => {
  test("no own property on the caller's queue, encoders or command buffers after any use", async () => {
    const queueBefore = Reflect.ownKeys(device.queue);
    const deviceBefore = Reflect.ownKeys(device);
    const fresh = device.createCommandEncoder();
    const p = await pair({ skipNonFinite: true });
    const encoder = device.createCommandEncoder();
    p.opt.encode(encoder);
    p.opt.encode(encoder);
    expect(Reflect.ownKeys(encoder)).toEqual(Reflect.ownKeys(fresh));
    const cb = encoder.finish();
    expect(Reflect.ownKeys(cb)).toEqual(Reflect.ownKeys(fresh.finish()));
    device.queue.submit([cb]);
    await p.opt.step();
    await p.opt.lastStepReport();
    await p.opt.exportState();
    expect(Reflect.ownKeys(device.queue)).toEqual(queueBefore);
    expect(Reflect.ownKeys(device)).toEqual(deviceBefore);
  });

  test('counts near 2^53 - 1: the step that would pass it is refused; what is exported imports again', async () => {
    const p = await pair();
    const state = await p.opt.exportState();
    p.opt.importState({ ...state, step: MAX_STEP - 1 });
    await p.opt.step();
    expect(p.opt.stepCount).toBe(MAX_STEP);
    expect(() => p.opt.step()).toThrow(/AdaBelief\.step: the step count would pass 2\^53 - 1/);
    expect(() => p.opt.encode(device.createCommandEncoder())).toThrow(/would pass 2\^53 - 1/);
    const last = await p.opt.exportState();
    expect(last.step).toBe(MAX_STEP);
    p.opt.importState(last);
    expect(await p.opt.readStepCount()).toBe(MAX_STEP);
  });
});

describe('copyStateFrom: state and count move to a new optimizer on the GPU (adapters whose tensor set changes)', () => {
  test('two tensors stepped, then a new optimizer over one of them and a new one: as the CPU with that state', async () => {
    const a = await pair();
    for (let t = 1; t <= 3; t++) {
      device.queue.writeBuffer(a.grad, 0, gradsAt(t));
      void a.opt.step();
      a.cpu.stepWith(gradsAt(t));
    }
    // A new optimizer over [a new tensor, the old one]; the old tensor's state and the count come along.
    const fresh = buffer(params0(), 'fresh-param');
    const freshGrad = buffer(gradsAt(9), 'fresh-grad');
    const b = await AdaBelief.create(
      device,
      [
        { param: fresh, grad: freshGrad, size: N },
        { param: a.param, grad: a.grad, size: N },
      ],
      { lr: 1e-2 },
    );
    const encoder = device.createCommandEncoder();
    b.copyStateFrom(encoder, a.opt, [[0, 1]]);
    b.encode(encoder);
    device.queue.writeBuffer(a.grad, 0, gradsAt(4));
    device.queue.submit([encoder.finish()]);
    a.cpu.stepWith(gradsAt(4));
    const state = await b.exportState();
    expect(state.step).toBe(4);
    const want = a.cpu.exportState().tensors[0]!;
    within('moved exp_avg', state.tensors[1]!.exp_avg, want.exp_avg, stateTolerance(want.exp_avg, 4));
    within(
      'moved exp_avg_var',
      state.tensors[1]!.exp_avg_var,
      want.exp_avg_var,
      stateTolerance(want.exp_avg_var, 4),
    );
    const param = a.cpu.params[0]!;
    within(
      'moved param',
      await readFloat32Buffer(device, a.param),
      param,
      paramTolerance(param, a.cpu.travel, 4),
    );
    expect(() => b.copyStateFrom(device.createCommandEncoder(), a.opt, [[0, 5]])).toThrow(
      /AdaBelief\.copyStateFrom: cannot map source tensor 0 to tensor 5/,
    );
    b.destroy();
  });
});
