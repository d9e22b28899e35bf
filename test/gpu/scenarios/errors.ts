/**
 * In-page bad-input scenarios. Each runs one wrong call against a working optimizer that has taken a
 * step, and reports the error message and whether the parameters and the optimizer state are unchanged.
 */
import { AdaBelief, type AdaBeliefState } from '../../../src/index.js';
import { freshDevice, randomArray, rng, withGpu, type Gpu } from './harness.js';

export interface Rejection {
  name: string;
  /** The message thrown (or the promise's rejection); '' when nothing was thrown. */
  message: string;
  /** True when it was thrown synchronously by the call (before any GPU work). */
  sync: boolean;
  /** Params and exported state identical before and after. */
  unchanged: boolean;
}

const N = 37;
const STORAGE_RW = 0x80 | 0x4 | 0x8;

function sameState(a: AdaBeliefState, b: AdaBeliefState): boolean {
  if (a.step !== b.step || JSON.stringify(a.options) !== JSON.stringify(b.options)) return false;
  return a.tensors.every((t, k) =>
    (['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const).every((q) => {
      const x = t[q];
      const y = b.tensors[k]![q];
      return (!x && !y) || (!!x && !!y && x.every((v, i) => Object.is(v, y[i])));
    }),
  );
}

type Scenario = (ctx: { gpu: Gpu; opt: AdaBelief; param: GPUBuffer; grad: GPUBuffer }) => unknown;

const scenarios: Record<string, Scenario> = {
  'size mismatch': ({ gpu }) =>
    new AdaBelief(gpu.device, [
      { param: gpu.buffer(new Float32Array(8)), grad: gpu.buffer(new Float32Array(6)) },
    ]),
  'grad buffer too small': ({ gpu, param }) =>
    new AdaBelief(gpu.device, [{ param, grad: gpu.buffer(new Float32Array(N - 1)), size: N }]),
  'param too small at offset': ({ gpu, grad }) =>
    new AdaBelief(gpu.device, [
      { param: { buffer: gpu.buffer(new Float32Array(N + 10)), offset: 256 }, grad, size: N },
    ]),
  'missing STORAGE usage': ({ gpu, grad }) =>
    new AdaBelief(gpu.device, [
      { param: gpu.buffer(new Float32Array(N), { usage: 0x4 | 0x8 }), grad, size: N },
    ]),
  'misaligned offset': ({ gpu, grad }) =>
    new AdaBelief(gpu.device, [
      { param: { buffer: gpu.buffer(new Float32Array(N + 64)), offset: 4 }, grad, size: N },
    ]),
  'grad is the param buffer': ({ gpu }) => {
    const b = gpu.buffer(new Float32Array(2 * 64 + N));
    return new AdaBelief(gpu.device, [{ param: b, grad: { buffer: b, offset: 256 }, size: N }]);
  },
  'overlapping params': ({ gpu, grad }) => {
    const b = gpu.buffer(new Float32Array(200));
    return new AdaBelief(gpu.device, [
      { param: b, grad, size: N },
      { param: { buffer: b, offset: 0 }, grad: gpu.buffer(new Float32Array(N)), size: N },
    ]);
  },
  'zero size': ({ gpu, param, grad }) => new AdaBelief(gpu.device, [{ param, grad, size: 0 }]),
  'empty parameter list': ({ gpu }) => new AdaBelief(gpu.device, []),
  'parameter list not an array': ({ gpu, param, grad }) =>
    new AdaBelief(gpu.device, { param, grad, size: N } as never),
  'mapped buffer': ({ gpu, grad }) => {
    const b = gpu.track(
      gpu.device.createBuffer({ label: 'mapped', size: N * 4, usage: STORAGE_RW, mappedAtCreation: true }),
    );
    return new AdaBelief(gpu.device, [{ param: b, grad, size: N }]);
  },
  'invalid lr at construction': ({ gpu, param, grad }) =>
    new AdaBelief(gpu.device, [{ param, grad, size: N }], { lr: -0.1 }),
  'invalid per-param eps': ({ gpu, param, grad }) =>
    new AdaBelief(gpu.device, [{ param, grad, size: N, eps: -1 }]),
  'unknown option': ({ gpu, param, grad }) =>
    new AdaBelief(gpu.device, [{ param, grad, size: N }], { learningRate: 1 } as unknown as { lr: number }),
  'invalid lr setter': ({ opt }) => (opt.lr = Number.NaN),
  'invalid beta1 setter': ({ opt }) => (opt.betas = [1, 0.999]),
  'invalid beta2 setter': ({ opt }) => (opt.betas = [0.9, -0.5]),
  'invalid weight decay setter': ({ opt }) => (opt.weightDecay = -1e-4),
  'invalid eps setter': ({ opt }) => (opt.eps = -1e-8),
  'amsgrad change': ({ opt }) => opt.set({ amsgrad: true } as never),
  'importState wrong size': async ({ opt }) => {
    const s = await opt.exportState();
    s.tensors[0]!.exp_avg = new Float32Array(N + 1);
    opt.importState(s);
  },
  'importState missing max_exp_avg_var': async ({ opt }) => {
    const s = await opt.exportState();
    s.options.amsgrad = true;
    opt.importState(s);
  },
  'buffer of another device': async ({ gpu, param }) => {
    const adapter = await navigator.gpu.requestAdapter();
    const other = await adapter!.requestDevice({ label: 'other-device' });
    const foreign = other.createBuffer({ label: 'foreign-grad', size: N * 4, usage: STORAGE_RW });
    try {
      await AdaBelief.create(gpu.device, [{ param, grad: foreign, size: N }]);
    } finally {
      other.destroy();
    }
  },
  'destroyed optimizer': ({ gpu, param, grad }) => {
    const o = new AdaBelief(gpu.device, [{ param, grad, size: N }]);
    o.destroy();
    return o.step();
  },
  'caller destroyed its param buffer': async ({ gpu, grad }) => {
    const p = gpu.buffer(new Float32Array(N));
    const o = gpu.track(await AdaBelief.create(gpu.device, [{ param: p, grad, size: N }]));
    p.destroy();
    await o.step().catch(async (e: Error) => {
      // The optimizer now refuses to run, and says why.
      try {
        o.step();
      } catch (again) {
        throw new Error(`${e.message} || then: ${(again as Error).message}`, { cause: again });
      }
      throw e;
    });
  },
  'device lost': async () => {
    const device = await freshDevice();
    const p = device.createBuffer({ label: 'lost-param', size: N * 4, usage: STORAGE_RW });
    const g = device.createBuffer({ label: 'lost-grad', size: N * 4, usage: STORAGE_RW });
    const o = await AdaBelief.create(device, [{ param: p, grad: g, size: N }]);
    await o.step();
    device.destroy();
    const messages: string[] = [];
    // Within two calls the loss must be reported, with its cause; exportState too.
    for (let i = 0; i < 2; i++) {
      try {
        await o.step();
      } catch (e) {
        messages.push((e as Error).message);
      }
    }
    await o.exportState().catch((e: Error) => messages.push(e.message));
    throw new Error(messages.join(' || '));
  },
};

export const scenarioNames = (): string[] => Object.keys(scenarios);

/** Runs scenario `name` and reports how it was rejected. */
export async function reject(name: string): Promise<Rejection> {
  return withGpu(async (gpu) => {
    const r = rng(7);
    const param = gpu.buffer(randomArray(r, N, 1), { label: 'param' });
    const grad = gpu.buffer(randomArray(r, N, 0.1), { label: 'grad' });
    const opt = gpu.track(await AdaBelief.create(gpu.device, [{ param, grad, size: N }]));
    await opt.step();
    const before = { p: await gpu.read(param, N), s: await opt.exportState() };

    let message = '';
    let sync = true;
    try {
      const out = scenarios[name]!({ gpu, opt, param, grad });
      sync = false;
      if (out instanceof Promise) await out;
    } catch (e) {
      message = (e as Error).message;
    }
    const after = { p: await gpu.read(param, N), s: await opt.exportState() };
    const unchanged = before.p.every((v, i) => Object.is(v, after.p[i])) && sameState(before.s, after.s);
    return { name, message, sync, unchanged };
  });
}

/** What a page without a WebGPU adapter reports: getDevice() must reject, not resolve. */
export async function withoutAdapter(): Promise<string> {
  const gpu = navigator.gpu;
  const original = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async () => null;
  try {
    const harness = await import('./harness.js');
    await harness.freshDevice();
    return 'resolved';
  } catch (e) {
    return (e as Error).message;
  } finally {
    gpu.requestAdapter = original;
  }
}
