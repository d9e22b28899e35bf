/**
 * AdaBeliefWasmCPU and its Adam / AdamW / SGD variants (src/cpu/wasm-optimizer.ts) against the f32 CPU
 * references (src/cpu/reference.ts, Float32Array).
 *
 * Tolerance: none. The kernel performs the reference's f32 operations in the reference's order, and every
 * one of them (f32x4 / f32 add, sub, mul, div, sqrt, max) is a correctly rounded IEEE operation, as
 * Math.fround of the f64 result is in the reference (f64 has more than 2 × 24 + 2 bits, so that double
 * rounding is exact); no fused multiply-add, no reassociation, no flushed subnormals. So params and every
 * state array must be equal bit for bit, NaN for NaN (NaN payloads are not compared). The guard's global norm
 * is the one exception (its f64 sum runs in another order): within one f32 ulp, derived at its test.
 */
import { describe, expect, test } from 'vitest';
import { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU } from '../../src/cpu/reference.js';
import { AdaBeliefWasmCPU, AdamWasmCPU, AdamWWasmCPU, SGDWasmCPU } from '../../src/cpu/wasm-optimizer.js';
import { kernelModule } from '../../src/cpu/wasm/module.js';
import { CTRL, REC } from '../../src/cpu/wasm/layout.js';
import type { CPUGuard, CPUGuardResult } from '../../src/cpu/cpu-optimizer.js';
import { guardDecision } from '../../src/core/guard.js';

/** What a reference and a WASM optimizer share for these tests. */
interface Stepper {
  readonly params: Float32Array[];
  readonly stepCount: number;
  step(grads: Float32Array[], guard?: CPUGuard): CPUGuardResult | undefined;
  exportState(): { step: number; tensors: Record<string, Float32Array>[] };
}
interface WasmStepper extends Stepper {
  readonly threads: number;
  readonly lastStepThreads: number;
  readonly singleThreadReason: string | undefined;
  readonly ready: Promise<void>;
  destroy(): void;
}

type Pair = {
  make: (params: (Float32Array | { param: Float32Array; lr?: number })[], threads: number) => WasmStepper;
  ref: (params: (Float32Array | { param: Float32Array; lr?: number })[]) => Stepper;
};

/** Every option combination of every rule. */
function cases(): [string, Pair][] {
  const out: [string, Pair][] = [];
  // Threads forced: every step split down to 16 elements per thread, never tuned back to one thread.
  const wasmOpts = (threads: number) => ({ threads, minElementsPerThread: 16, tuneThreads: false });
  // Seeded hyperparameters, different for every combination (as the GPU parity suite picks them).
  let seed = 2024;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (const semantics of ['adabelief-pytorch', 'torch-optimizer'] as const)
    for (const rectify of [true, false])
      for (const degeneratedToSgd of rectify ? [true, false] : [true])
        for (const amsgrad of [false, true])
          for (const decay of ['decoupled', 'fixed', 'l2', 'none'] as const) {
            const o = {
              semantics,
              rectify,
              degeneratedToSgd,
              amsgrad,
              lr: 10 ** (-3 + 2 * rand()),
              betas: [pick([0, 0.5, 0.9]), pick([0.9, 0.99, 0.999])] as const,
              eps: pick([1e-16, 1e-8, 1e-3]),
              weightDecay: decay === 'none' ? 0 : 10 ** (-3 + 2 * rand()),
              weightDecouple: decay !== 'l2',
              fixedDecay: decay === 'fixed',
            };
            out.push([
              `AdaBelief ${semantics} rectify=${rectify} sgd=${degeneratedToSgd} amsgrad=${amsgrad} decay=${decay}`,
              {
                make: (p, t) => new AdaBeliefWasmCPU(p, { ...o, ...wasmOpts(t) }),
                ref: (p) => new AdaBeliefCPU(p, o),
              },
            ]);
          }
  for (const amsgrad of [false, true])
    for (const weightDecay of [0, 0.05]) {
      const o = { amsgrad, weightDecay, lr: 0.02 };
      out.push([
        `Adam amsgrad=${amsgrad} wd=${weightDecay}`,
        { make: (p, t) => new AdamWasmCPU(p, { ...o, ...wasmOpts(t) }), ref: (p) => new AdamCPU(p, o) },
      ]);
      out.push([
        `AdamW amsgrad=${amsgrad} wd=${weightDecay}`,
        { make: (p, t) => new AdamWWasmCPU(p, { ...o, ...wasmOpts(t) }), ref: (p) => new AdamWCPU(p, o) },
      ]);
    }
  for (const [momentum, dampening, nesterov] of [
    [0, 0, false],
    [0.9, 0, false],
    [0.9, 0.1, false],
    [0.9, 0, true],
  ] as const)
    for (const weightDecay of [0, 0.01]) {
      const o = { lr: 0.1, momentum, dampening, nesterov, weightDecay };
      out.push([
        `SGD momentum=${momentum} dampening=${dampening} nesterov=${nesterov} wd=${weightDecay}`,
        { make: (p, t) => new SGDWasmCPU(p, { ...o, ...wasmOpts(t) }), ref: (p) => new SGDCPU(p, o) },
      ]);
    }
  return out;
}

/** Deterministic values with the awkward ones in: zeros of both signs, subnormals, large and tiny magnitudes. */
function values(n: number, seed: number, scale: number): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  let x = seed * 2654435761 + 1;
  const special = [0, -0, 1e-40, -3e-39, 1e30, -1e-30, 1, -1];
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9) | 0;
    a[i] = i % 97 === 5 ? special[((i / 97) % special.length) | 0]! : (x / 2147483648) * scale;
  }
  return a;
}

/** Indices where two arrays differ bit for bit (NaN equals NaN). */
function mismatches(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(a[i] !== a[i] && b[i] !== b[i])) bad++;
  return bad;
}

/** Expects params and every state array of `w` equal to `r`'s, bit for bit. */
function expectSame(w: Stepper, r: Stepper, where: string): void {
  expect(w.stepCount, where).toBe(r.stepCount);
  w.params.forEach((p, i) => expect(mismatches(p, r.params[i]!), `${where} params[${i}]`).toBe(0));
  const ws = w.exportState();
  const rs = r.exportState();
  expect(ws.step).toBe(rs.step);
  ws.tensors.forEach((st, i) => {
    expect(Object.keys(st).sort()).toEqual(Object.keys(rs.tensors[i]!).sort());
    for (const k of Object.keys(st))
      expect(mismatches(st[k]!, rs.tensors[i]![k]!), `${where} ${k}[${i}]`).toBe(0);
  });
}

const SIZES = [1, 2, 3, 4, 5, 7, 1023];

/** Steps a WASM optimizer and its reference side by side over tensors of `sizes`, comparing after each step. */
async function runPair(pair: Pair, sizes: number[], threads: number, steps: number, label: string) {
  const init = sizes.map((n, i) => values(n, 100 + i, 1));
  // Per-parameter overrides on every other tensor (param groups).
  const entries = (arrays: Float32Array[]) => arrays.map((p, i) => (i % 2 ? { param: p, lr: 0.03 } : p));
  const w = pair.make(entries(init.map((a) => a.slice())), threads);
  const r = pair.ref(entries(init.map((a) => a.slice())));
  await w.ready;
  try {
    for (let t = 0; t < steps; t++) {
      const grads = sizes.map((n, i) => values(n, 1000 * t + i, t % 3 === 2 ? 1e-3 : 0.5));
      w.step(grads);
      r.step(grads);
      expect(w.lastStepThreads).toBe(threads); // the split is forced down to 16 elements per thread
      expectSame(w, r, `${label} step ${t + 1}`);
    }
  } finally {
    w.destroy();
  }
}

describe('WASM CPU optimizers: bit-exact with the f32 references', () => {
  test('the module exports the record layout of layout.ts', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const ex = new WebAssembly.Instance(kernelModule(false), { env: { memory } }).exports;
    const get = (name: string) => (ex[name] as WebAssembly.Global).value as number;
    expect([get('REC_BYTES'), get('REC_N'), get('REC_START'), get('REC_P')]).toEqual([
      REC.BYTES,
      REC.N,
      REC.START,
      REC.P,
    ]);
    expect([get('REC_UPDATE'), get('REC_FLAGS'), get('REC_SCALARS')]).toEqual([
      REC.UPDATE,
      REC.FLAGS,
      REC.SCALARS,
    ]);
  });

  // Every combination, one thread, sizes 1 … 1023 as tensors of one optimizer, 8 steps (through the rectified
  // SGD phase of both semantics).
  test.each(cases())('%s', async (name, pair) => {
    await runPair(pair, SIZES, 1, 8, name);
  });

  // Threads: the split at ALIGN-element bounds across tensors, 1 … 4 threads (more threads than cores too).
  const some = cases().filter(([n]) =>
    /adabelief-pytorch rectify=true sgd=true amsgrad=false decay=none|torch-optimizer rectify=false sgd=true amsgrad=true decay=l2|Adam amsgrad=true wd=0.05|SGD momentum=0.9 dampening=0 nesterov=true wd=0.01/.test(
      n,
    ),
  );
  test.each(some.flatMap(([n, p]) => [2, 3, 4].map((t) => [`${n}, ${t} threads`, p, t] as const)))(
    '%s',
    async (name, pair, threads) => {
      await runPair(pair, [...SIZES, 65537], threads, 7, name);
    },
  );

  test('10^6 elements, default options, 2 threads', async () => {
    const pair = cases().find(([n]) =>
      n.includes('adabelief-pytorch rectify=true sgd=true amsgrad=false decay=decoupled'),
    )![1];
    await runPair(pair, [1_000_000], 2, 3, '1e6 2 threads');
  });
});

describe('AdaBeliefWasmCPU', () => {
  // The guard's statistics run in the kernel: the non-finite check and skip decision must equal the reference's;
  // the norm's f64 sum of n exact squares runs in another order, so the sums differ by at most 2(n-1) 2^-53
  // relative, their square roots by half that, which for n < 2^26 is below one f32 ulp (2^-24 relative): the
  // f32 norms are equal or adjacent. Given the same norm (CPUGuard.gradNorm), the step must be bit-exact.
  test.each([1, 2, 3])(
    'guard (%i threads): skips on inf/NaN, clips, unscales as the reference',
    async (threads) => {
      const sizes = [5, 1023, 4096, 7];
      const init = sizes.map((n, i) => values(n, 7 + i, 1));
      const w = new AdaBeliefWasmCPU(
        init.map((a) => a.slice()),
        { threads, minElementsPerThread: 16, tuneThreads: false },
      );
      const r = new AdaBeliefCPU(init.map((a) => a.slice()));
      await w.ready;
      const guards: CPUGuard[] = [
        { gradScale: 1024 },
        { gradScale: 1024, maxGradNorm: 0.5 },
        { maxGradNorm: 1e-3 },
        { gradScale: 8, skipNonFinite: false },
        { gradScale: 8, maxGradNorm: 2, skipNonFinite: false },
      ];
      let adjacent = 0;
      for (let t = 0; t < 20; t++) {
        const grads = sizes.map((n, i) => values(n, 50 * t + i, 100));
        // inf or NaN in a SIMD lane or in a tail, every third step.
        if (t % 3 === 1)
          grads[t % sizes.length]![(t * 7) % sizes[t % sizes.length]!] = t % 2 ? -Infinity : NaN;
        const guard = guards[t % guards.length]!;
        const before = w.stepCount;
        const dw = w.step(grads, guard)!;
        const own = guardDecision(grads, {
          scale: guard.gradScale ?? 1,
          maxNorm: guard.maxGradNorm ?? Infinity,
          skipNonFinite: guard.skipNonFinite ?? guard.gradScale !== undefined,
        });
        expect(dw.foundNonFinite).toBe(own.foundNonFinite);
        expect(dw.skipped).toBe(own.skipped);
        if (Number.isFinite(own.gradNorm)) {
          const ulp = Math.abs(Math.fround(own.gradNorm * (1 + 2 ** -23)) - own.gradNorm);
          expect(Math.abs(dw.gradNorm - own.gradNorm)).toBeLessThanOrEqual(ulp);
          if (dw.gradNorm !== own.gradNorm) adjacent++;
        } else {
          expect(dw.gradNorm).toBe(own.gradNorm); // NaN for NaN, inf for inf
        }
        const dr = r.step(grads, { ...guard, gradNorm: dw.gradNorm })!;
        expect(dw).toEqual(dr);
        if (dw.skipped) expect(w.stepCount).toBe(before);
        expectSame(w, r, `guarded step ${t}`);
      }
      console.log(
        `guard, ${threads} threads: ${adjacent} of 20 norms one f32 ulp from the reference's, the rest equal`,
      );
      w.destroy();
    },
  );

  test('tuneThreads: modes alternate 6 steps, then the faster runs, the slower every 64 steps; same results', async () => {
    const init = values(5000, 31, 1);
    const w = new AdaBeliefWasmCPU([init.slice()], { threads: 3, minElementsPerThread: 16 });
    const r = new AdaBeliefCPU([init.slice()]);
    await w.ready;
    const used: number[] = [];
    for (let t = 0; t < 140; t++) {
      const g = values(5000, 40 + t, 0.1);
      w.step([g]);
      r.step([g]);
      used.push(w.lastStepThreads);
    }
    expect(used.slice(0, 6)).toEqual([1, 3, 1, 3, 1, 3]);
    // Whichever mode is faster here (this machine may be busy), the other runs again at least at the probes
    // (steps 65 and 129): each mode at least 5 times, and nothing else.
    for (const mode of [1, 3]) expect(used.filter((u) => u === mode).length).toBeGreaterThanOrEqual(5);
    expect(used.every((u) => u === 1 || u === 3)).toBe(true);
    expectSame(w, r, 'tuned');
    w.destroy();
  });

  test('grads: the views need no copy; other arrays are copied in; checks lengths and types', () => {
    const init = values(37, 3, 1);
    const a = new AdaBeliefWasmCPU([init.slice()], { threads: 1 });
    const b = new AdaBeliefWasmCPU([init.slice()], { threads: 1 });
    expect(a.singleThreadReason).toBe('threads: 1');
    expect(a.threads).toBe(1);
    const g = values(37, 4, 0.1);
    a.grads[0]!.set(g);
    a.step();
    b.step([g]);
    expect(mismatches(a.params[0]!, b.params[0]!)).toBe(0);
    expect(() => a.step([new Float32Array(36)])).toThrow(/grads\[0\] has 36 elements/);
    expect(() => a.step([new Float64Array(37) as unknown as Float32Array])).toThrow(/Float32Array/);
    expect(() => a.step([])).toThrow(/expected 1 gradients/);
    expect(() => new AdaBeliefWasmCPU([init], { threads: 0 })).toThrow(/threads/);
    expect(() => new AdaBeliefWasmCPU([init], { lr: -1 })).toThrow(/^Invalid learning rate: -1$/);
    expect(a.stepCount).toBe(1);
  });

  test('exportState / importState round trip, with the reference both ways', async () => {
    const sizes = [3, 1000];
    const init = sizes.map((n, i) => values(n, 20 + i, 1));
    const o = { amsgrad: true, weightDecay: 0.01 };
    const w = new AdaBeliefWasmCPU(
      init.map((a) => a.slice()),
      { ...o, threads: 2, minElementsPerThread: 16, tuneThreads: false },
    );
    const r = new AdaBeliefCPU(
      init.map((a) => a.slice()),
      o,
    );
    await w.ready;
    const grads = (t: number) => sizes.map((n, i) => values(n, 300 + 10 * t + i, 0.3));
    for (let t = 0; t < 4; t++) w.step(grads(t));
    // The WASM state into the reference (params too), then both go on together.
    r.importState(w.exportState());
    r.params.forEach((p, i) => p.set(w.params[i]!));
    for (let t = 4; t < 7; t++) {
      w.step(grads(t));
      r.step(grads(t));
    }
    expectSame(w, r, 'after import into the reference');
    // And back: a fresh WASM optimizer from the reference's state.
    const w2 = new AdaBeliefWasmCPU(
      r.params.map((p) => p.slice()),
      { ...o, threads: 1 },
    );
    w2.importState(r.exportState());
    w.step(grads(7));
    w2.step(grads(7));
    expectSame(w2, w, 'after import into a new WASM optimizer');
    expect(() => w2.importState({ ...r.exportState(), step: -1 })).toThrow(/step/);
    w.destroy();
  });

  // Fault injection: the workers read the record table's address from the control words (the calling thread
  // uses its own copy), so pointing that word past the memory makes each worker's part trap.
  const poisonWorkers = (w: AdaBeliefWasmCPU) => {
    new Int32Array(w.params[0]!.buffer, 0, CTRL.BOUNDS)[CTRL.TABLE] = 0x7ffffff0;
  };

  /** A 70000-element WASM optimizer on 2 threads (started) and its f32 reference, from the same seeded params. */
  async function twoThreads(seed: number): Promise<{ w: AdaBeliefWasmCPU; r: AdaBeliefCPU }> {
    const init = values(70000, seed, 1);
    const w = new AdaBeliefWasmCPU([init.slice()], {
      threads: 2,
      minElementsPerThread: 16,
      tuneThreads: false,
    });
    await w.ready;
    return { w, r: new AdaBeliefCPU([init.slice()]) };
  }

  test('a worker thread that traps mid-step: the step throws (no hang), later steps are refused until importState()', async () => {
    const { w, r } = await twoThreads(11);
    const g = (t: number) => values(70000, 12 + t, 0.1);
    w.step([g(0)]);
    r.step([g(0)]);
    expect(w.lastStepThreads).toBe(2);
    const saved = { params: r.params.map((p) => p.slice()), state: r.exportState() };
    poisonWorkers(w);
    expect(() => w.step([g(1)])).toThrow(
      /^AdaBeliefWasmCPU\.step: the step job failed on worker thread 1 of 2 \(a trap in its part; the other parts ran\); the parameters and the state are partly stepped/,
    );
    expect(w.singleThreadReason).toBe('worker thread 1 failed during a step job');
    expect(() => w.step([g(1)])).toThrow(
      /^AdaBeliefWasmCPU\.step: the optimizer is unusable after an earlier error: AdaBeliefWasmCPU\.step: the step job failed/,
    );
    // The caller's way on: saved params and state back in; steps then run on this thread, exact again.
    w.params[0]!.set(saved.params[0]!);
    w.importState(saved.state);
    for (let t = 1; t < 4; t++) {
      w.step([g(t)]);
      r.step([g(t)]);
      expect(w.lastStepThreads).toBe(1);
    }
    expectSame(w, r, 'after the failure and importState()');
    w.destroy();
  });

  test('a worker thread that traps in the guard statistics: the step throws, nothing changed, later steps run on one thread', async () => {
    const { w, r } = await twoThreads(21);
    const g = values(70000, 22, 0.1);
    poisonWorkers(w);
    expect(() => w.step([g], { skipNonFinite: true })).toThrow(
      /^AdaBeliefWasmCPU\.step: the stats job failed on worker thread 1 of 2 .*; nothing was changed$/,
    );
    expectSame(w, r, 'after the failed statistics');
    expect(w.step([g], { skipNonFinite: true })?.skipped).toBe(false);
    r.step([g], { skipNonFinite: true });
    expect(w.lastStepThreads).toBe(1);
    expectSame(w, r, 'after the next step');
    w.destroy();
  });

  test('destroy(): later steps run on the calling thread, still exact', async () => {
    const { w, r } = await twoThreads(9);
    expect(w.threads).toBe(2);
    expect(w.singleThreadReason).toBeUndefined();
    const g = values(70000, 10, 0.1);
    w.step([g]);
    r.step([g]);
    expect(w.lastStepThreads).toBe(2);
    w.destroy();
    expect(w.singleThreadReason).toBe('destroyed');
    w.step([g]);
    r.step([g]);
    expect(w.lastStepThreads).toBe(1);
    expectSame(w, r, 'after destroy');
  });
});
