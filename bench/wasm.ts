/**
 * The WASM CPU optimizer's rows of the benchmark: AdaBeliefWasmCPU on one thread ('wasm-1') and on N threads
 * ('wasm-N'), and the copy roofline in the same WebAssembly SIMD on the same N threads, moving the same bytes
 * over the same memory layout ('cpu-copy-N'). `measureWasm(spec)` is what the main benchmark calls (same
 * `Samples` as bench/cpu.ts's measureCpu); bench/cpu-wasm.ts is the standalone command built on it.
 */
import { availableParallelism } from 'node:os';
import { AdaBeliefWasmCPU } from '../src/cpu/wasm-optimizer.js';
import { WasmEngine } from '../src/cpu/wasm/engine.js';
import { VARIANTS, type MeasureSpec, type Samples } from './common.js';
import { noise, timeSteps } from './cpu.js';

/** The rows this file measures. */
export type WasmImpl = 'wasm-1' | 'wasm-N' | 'cpu-copy-N';

export interface WasmMeasureSpec extends Omit<MeasureSpec, 'impl'> {
  impl: WasmImpl;
  /** N (default: the cores available). */
  threads?: number;
}

/** A step function for `spec` and its cleanup. */
export async function stepper(spec: WasmMeasureSpec): Promise<{ step: () => void; close: () => void }> {
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
  // wasm-N: always the N threads (tuneThreads would fall back to one thread where that is faster).
  const opt = new AdaBeliefWasmCPU([noise(n, 1, 1)], {
    ...VARIANTS[spec.variant],
    threads,
    tuneThreads: false,
  });
  opt.grads[0]!.set(noise(n, 0.01, 2));
  await opt.ready;
  return { step: () => opt.step(), close: () => opt.destroy() };
}

/** Times one row (as measureCpu: bench/cpu.ts timeSteps), then stops its workers. */
export async function measureWasm(spec: WasmMeasureSpec): Promise<Samples> {
  const { step, close } = await stepper(spec);
  try {
    return timeSteps(spec, step);
  } finally {
    close();
  }
}
