/**
 * The WASM CPU optimizer's timings: AdaBeliefWasmCPU on one thread ('wasm-1') and on N threads ('wasm-N'),
 * and the copy roofline in the same WebAssembly SIMD on the same N threads, moving the same bytes over the
 * same memory layout ('cpu-copy-N'). `measureWasm(spec)` is what the main benchmark calls (same `Samples`
 * as bench/cpu.ts's measureCpu); run this file alone for the figures of docs/cpu.md:
 *
 *   npx tsx bench/cpu-wasm.ts [--threads N] [--quick]
 */
import { availableParallelism } from 'node:os';
import { AdaBeliefFastCPU } from '../src/cpu/fast.js';
import { AdaBeliefWasmCPU } from '../src/cpu/wasm-optimizer.js';
import { WasmEngine } from '../src/cpu/wasm/engine.js';
import { VARIANTS, median, repsFor, stepsFor, type MeasureSpec, type Samples } from './common.js';

/** The rows this file measures. */
export type WasmImpl = 'wasm-1' | 'wasm-N' | 'cpu-copy-N';

export interface WasmMeasureSpec extends Omit<MeasureSpec, 'impl'> {
  impl: WasmImpl;
  /** N (default: the cores available). */
  threads?: number;
}

function noise(n: number, scale: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x / 2147483648) * scale;
  }
  return a;
}

/** A step function for `spec` and its cleanup. */
async function stepper(spec: WasmMeasureSpec): Promise<{ step: () => void; close: () => void }> {
  const n = spec.size;
  const threads = spec.impl === 'wasm-1' ? 1 : (spec.threads ?? availableParallelism());
  if (spec.impl === 'cpu-copy-N') {
    const engine = new WasmEngine([n], true, spec.variant === 'amsgrad', { threads });
    const { regions } = engine.plan;
    engine.view(regions.p, n).set(noise(n, 1, 1));
    engine.view(regions.g, n).set(noise(n, 0.01, 2));
    await engine.ready;
    return { step: () => engine.run('copy'), close: () => engine.destroy() };
  }
  const opt = new AdaBeliefWasmCPU([noise(n, 1, 1)], { ...VARIANTS[spec.variant], threads });
  opt.grads[0]!.set(noise(n, 0.01, 2));
  await opt.ready;
  return { step: () => opt.step(), close: () => opt.destroy() };
}

/** Times one row: warm-up steps, then `reps` repetitions of K steps; ms per step each (as measureCpu). */
export async function measureWasm(spec: WasmMeasureSpec): Promise<Samples> {
  const { step, close } = await stepper(spec);
  try {
    const run = (count: number) => {
      const t0 = performance.now();
      for (let k = 0; k < count; k++) step();
      return performance.now() - t0;
    };
    run(1);
    const stepMs = run(1);
    const K = stepsFor(spec, stepMs);
    const reps = repsFor(spec, stepMs);
    run(Math.max(spec.warmupSteps - 2, K));
    const wallMs: number[] = [];
    for (let r = 0; r < reps; r++) wallMs.push(run(K) / K);
    return { stepsPerRep: K, reps, wallMs };
  } finally {
    close();
  }
}

/** AdaBeliefFastCPU (one JavaScript thread), for the speedup figure. */
function measureFast(spec: Omit<WasmMeasureSpec, 'impl'>): Samples {
  const opt = new AdaBeliefFastCPU([noise(spec.size, 1, 1)], VARIANTS[spec.variant]);
  const g = noise(spec.size, 0.01, 2);
  const run = (count: number) => {
    const t0 = performance.now();
    for (let k = 0; k < count; k++) opt.step([g]);
    return performance.now() - t0;
  };
  const stepMs = run(2) / 2;
  const K = stepsFor(spec, stepMs);
  run(Math.max(spec.warmupSteps - 2, K));
  const wallMs: number[] = [];
  for (let r = 0; r < repsFor(spec, stepMs); r++) wallMs.push(run(K) / K);
  return { stepsPerRep: K, reps: wallMs.length, wallMs };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const ti = args.indexOf('--threads');
  const threads = ti >= 0 ? Number(args[ti + 1]) : availableParallelism();
  const rep = {
    reps: quick ? 3 : 7,
    stepsPerRep: 0,
    minRepMs: quick ? 100 : 300,
    maxStepsPerRep: 2000,
    warmupSteps: 10,
  };
  const gbs = (size: number, bytes: number, s: Samples) => (size * bytes) / median(s.wallMs) / 1e6;
  console.log(`node ${process.version}, ${availableParallelism()} cores available, N = ${threads} threads\n`);

  // Where threads start to pay: one thread against N with the split forced down to 16 elements per thread.
  console.log('threshold: ms per step, 1 thread vs N threads (minElementsPerThread 16)');
  for (const log2 of [12, 13, 14, 15, 16, 17, 18]) {
    const size = 2 ** log2;
    const t1 = median((await measureWasm({ impl: 'wasm-1', size, variant: 'default', ...rep })).wallMs);
    const opt = new AdaBeliefWasmCPU([noise(size, 1, 1)], { threads, minElementsPerThread: 16 });
    await opt.ready;
    const tn = median(
      (() => {
        const t: number[] = [];
        for (let k = 0; k < 2000; k++) opt.step();
        for (let r = 0; r < 5; r++) {
          const t0 = performance.now();
          for (let k = 0; k < 500; k++) opt.step();
          t.push((performance.now() - t0) / 500);
        }
        return t;
      })(),
    );
    opt.destroy();
    console.log(
      `  2^${log2}: ${t1.toFixed(4)} ms  vs  ${tn.toFixed(4)} ms  (N/1 speed ${(t1 / tn).toFixed(2)}x)`,
    );
  }

  console.log('\nGB/s (28 B/element, 36 with AMSGrad), median of repetitions');
  for (const log2 of quick ? [20] : [20, 24]) {
    const size = 2 ** log2;
    for (const variant of ['default', 'amsgrad'] as const) {
      const bytes = variant === 'amsgrad' ? 36 : 28;
      const base = { size, variant, threads, ...rep };
      const fast = gbs(size, bytes, measureFast(base));
      const w1 = gbs(size, bytes, await measureWasm({ ...base, impl: 'wasm-1' }));
      const wn = gbs(size, bytes, await measureWasm({ ...base, impl: 'wasm-N' }));
      const c1 = gbs(size, bytes, await measureWasm({ ...base, impl: 'cpu-copy-N', threads: 1 }));
      const cn = gbs(size, bytes, await measureWasm({ ...base, impl: 'cpu-copy-N' }));
      console.log(
        `  2^${log2} ${variant.padEnd(8)} fast-js ${fast.toFixed(2)} | wasm-1 ${w1.toFixed(2)} | wasm-${threads} ${wn.toFixed(2)} | copy-1 ${c1.toFixed(2)} | copy-${threads} ${cn.toFixed(2)}` +
          `  → best/copy-${threads} ${(Math.max(w1, wn) / cn).toFixed(2)}, wasm-${threads}/fast ${(wn / fast).toFixed(1)}x, N/1 ${(wn / w1).toFixed(2)}x`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
