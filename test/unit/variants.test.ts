/**
 * Adam, AdamW and SGD: the CPU mirrors of the kernel (AdamCPU, AdamWCPU, SGDCPU in f64) against
 * textbook implementations of torch.optim's update rules written here from PyTorch's documentation, and
 * torch.optim's validation messages.
 */
import { describe, expect, test } from 'vitest';
import { AdamCPU, AdamWCPU, SGDCPU, type AdamOptions, type SGDOptions } from '../../src/index.js';
import { rng, randomArray } from '../gpu/scenarios/harness.js';

/** torch.optim.Adam / AdamW (single tensor, f64), as documented. */
function torchAdam(o: AdamOptions, decoupled: boolean, p: Float64Array, grads: Float64Array[]) {
  const [b1, b2] = o.betas;
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const vmax = new Float64Array(p.length);
  grads.forEach((grad, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      let g = grad[i]!;
      if (decoupled) p[i]! *= 1 - o.lr * o.weightDecay;
      else g += o.weightDecay * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      vmax[i] = Math.max(vmax[i]!, v[i]!);
      const denom = Math.sqrt(o.amsgrad ? vmax[i]! : v[i]!) / Math.sqrt(1 - b2 ** t) + o.eps;
      p[i] = p[i]! - (o.lr / (1 - b1 ** t)) * (m[i]! / denom);
    }
  });
  return { p, m, v, vmax };
}

/** torch.optim.SGD (single tensor, f64), as documented. */
function torchSGD(o: SGDOptions, p: Float64Array, grads: Float64Array[]) {
  let buf: Float64Array<ArrayBufferLike> | undefined;
  for (const grad of grads) {
    const d = grad.map((g, i) => g + o.weightDecay * p[i]!);
    let step: Float64Array<ArrayBufferLike> = d;
    if (o.momentum !== 0) {
      buf = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * d[i]!) : d.slice();
      step = o.nesterov ? d.map((x, i) => x + o.momentum * buf![i]!) : buf;
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - o.lr * step[i]!;
  }
  return { p, buf };
}

/** Largest |a - b| / max(|b|, tiny) over the elements. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-300));
  }
  return worst;
}

// f64 against f64: the mirror reorders a few operations (p*decay before the step, 1-b computed once), so
// each step may differ by a few f64 roundings per element; 20 steps × ~8 operations × 2^-53 ≈ 2e-14,
// and cancellation in p - step can amplify a relative error: 1e-10 leaves room for that, not for a wrong rule.
const TOL = 1e-10;

const data = (seed: number, n: number, steps: number) => {
  const r = rng(seed);
  const p0 = Float64Array.from(randomArray(r, n, 1));
  const grads = Array.from({ length: steps }, () => Float64Array.from(randomArray(r, n, 0.5)));
  return { p0, grads };
};

describe('Adam / AdamW mirror torch.optim', () => {
  const cases: [string, Partial<AdamOptions>][] = [
    ['defaults', {}],
    ['weight decay', { weightDecay: 0.05, lr: 1e-2 }],
    ['amsgrad', { amsgrad: true, betas: [0.8, 0.99] }],
    ['amsgrad + decay + eps', { amsgrad: true, weightDecay: 0.1, eps: 1e-3 }],
  ];
  for (const decoupled of [false, true]) {
    for (const [label, options] of cases) {
      test(`${decoupled ? 'AdamW' : 'Adam'}: ${label}`, () => {
        const { p0, grads } = data(7, 257, 20);
        const cpu = decoupled ? new AdamWCPU([p0.slice()], options) : new AdamCPU([p0.slice()], options);
        for (const g of grads) cpu.step([g]);
        const want = torchAdam(cpu.options, decoupled, p0.slice(), grads);
        const st = cpu.exportState().tensors[0]!;
        const errs = {
          param: maxRel(cpu.params[0]!, want.p),
          exp_avg: maxRel(st.exp_avg!, want.m),
          exp_avg_sq: maxRel(st.exp_avg_sq!, want.v),
          ...(options.amsgrad ? { max_exp_avg_sq: maxRel(st.max_exp_avg_sq!, want.vmax) } : {}),
        };
        console.log(
          `${decoupled ? 'AdamW' : 'Adam'} ${label}: max rel error vs torch rule`,
          errs,
          `(tol ${TOL})`,
        );
        for (const e of Object.values(errs)) expect(e).toBeLessThanOrEqual(TOL);
        expect(Object.keys(st).sort()).toEqual(
          options.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'],
        );
      });
    }
  }

  test('defaults are torch.optim: AdamW decays by 1e-2, Adam does not', () => {
    expect(new AdamCPU([new Float32Array(1)]).options).toEqual({
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
    });
    expect(new AdamWCPU([new Float32Array(1)]).options.weightDecay).toBe(1e-2);
  });
});

describe('SGD mirrors torch.optim.SGD', () => {
  const cases: [string, Partial<SGDOptions>][] = [
    ['plain', { lr: 0.1 }],
    ['momentum', { lr: 0.05, momentum: 0.9 }],
    ['momentum + dampening + decay', { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01 }],
    ['nesterov', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }],
    ['dampening without momentum (ignored, as torch does)', { lr: 0.1, dampening: 0.5 }],
  ];
  for (const [label, options] of cases) {
    test(label, () => {
      const { p0, grads } = data(11, 129, 15);
      const cpu = new SGDCPU([p0.slice()], options);
      for (const g of grads) cpu.step([g]);
      const want = torchSGD(cpu.options, p0.slice(), grads);
      const st = cpu.exportState().tensors[0]!;
      const errs = {
        param: maxRel(cpu.params[0]!, want.p),
        ...(want.buf ? { momentum_buffer: maxRel(st.momentum_buffer!, want.buf) } : {}),
      };
      console.log(`SGD ${label}: max rel error vs torch rule`, errs, `(tol ${TOL})`);
      for (const e of Object.values(errs)) expect(e).toBeLessThanOrEqual(TOL);
      expect(Object.keys(st)).toEqual(['momentum_buffer']);
    });
  }
});

describe('validation uses torch.optim wording', () => {
  const p = () => [new Float32Array(4)];
  test.each([
    [() => new AdamCPU(p(), { lr: -1 }), 'Invalid learning rate: -1'],
    [() => new AdamCPU(p(), { eps: -1e-8 }), 'Invalid epsilon value: -1e-08'],
    [() => new AdamWCPU(p(), { betas: [1, 0.999] }), 'Invalid beta parameter at index 0: 1'],
    [() => new AdamWCPU(p(), { weightDecay: -0.1 }), 'Invalid weight_decay value: -0.1'],
    [() => new SGDCPU(p(), { momentum: -0.5 }), 'Invalid momentum value: -0.5'],
    [() => new SGDCPU(p(), { lr: NaN }), 'Invalid learning rate: nan'],
    [() => new SGDCPU(p(), { nesterov: true }), 'Nesterov momentum requires a momentum and zero dampening'],
    [
      () => new SGDCPU(p(), { nesterov: true, momentum: 0.9, dampening: 0.1 }),
      'Nesterov momentum requires a momentum and zero dampening',
    ],
    [() => new SGDCPU(p(), { betas: [0.9, 0.9] } as never), "Unknown SGD option: 'betas'"],
    [() => new SGDCPU([{ param: new Float32Array(2), eps: 1 }]), "'eps' cannot be set per parameter"],
    [() => new AdamCPU(p(), { rectify: true } as never), "Unknown Adam option: 'rectify'"],
  ])('%#: %s', (make, message) => {
    expect(make).toThrow(message);
  });

  test('amsgrad is fixed at construction', () => {
    const cpu = new AdamCPU(p(), { amsgrad: true });
    expect(() => cpu.set({ amsgrad: false })).toThrow('amsgrad is fixed at construction');
    cpu.set({ lr: 0.5 });
    expect(cpu.options.lr).toBe(0.5);
  });
});
