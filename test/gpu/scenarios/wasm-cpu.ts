/**
 * In the page: AdaBeliefWasmCPU against the f32 reference AdaBeliefCPU (bit for bit, as in Node:
 * test/unit/wasm-cpu.test.ts), on Web Workers where the page is cross-origin isolated and on the main
 * thread alone where it is not. test/gpu/wasm-browser.test.ts runs it and asserts.
 */
import { AdaBeliefCPU } from '../../../src/cpu/reference.js';
import { AdaBeliefWasmCPU } from '../../../src/cpu/wasm-optimizer.js';

export interface WasmPageResult {
  crossOriginIsolated: boolean;
  threads: number;
  /** Threads each step ran on. */
  stepThreads: number[];
  reason: string | null;
  /** Elements (params and state, all tensors, all steps) that differ from the reference. */
  mismatches: number;
  compared: number;
}

function values(n: number, seed: number, scale: number): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9) | 0;
    a[i] = (x / 2147483648) * scale;
  }
  return a;
}

function differ(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(a[i] !== a[i] && b[i] !== b[i])) bad++;
  return bad;
}

/** Steps both optimizers `steps` times over tensors of `sizes` with `threads` threads (amsgrad, L2 decay). */
export async function wasmParity(sizes: number[], threads: number, steps: number): Promise<WasmPageResult> {
  const o = { amsgrad: true, weightDecay: 0.01, weightDecouple: false, lr: 0.01 };
  const init = sizes.map((n, i) => values(n, i + 1, 1));
  const w = new AdaBeliefWasmCPU(
    init.map((a) => a.slice()),
    { ...o, threads, minElementsPerThread: 16, tuneThreads: false },
  );
  const r = new AdaBeliefCPU(
    init.map((a) => a.slice()),
    o,
  );
  await w.ready;
  let mismatches = 0;
  let compared = 0;
  const stepThreads: number[] = [];
  for (let t = 0; t < steps; t++) {
    const grads = sizes.map((n, i) => values(n, 100 * t + i, 0.1));
    w.step(grads);
    r.step(grads);
    stepThreads.push(w.lastStepThreads);
    const ws = w.exportState().tensors;
    const rs = r.exportState().tensors;
    sizes.forEach((n, i) => {
      mismatches += differ(w.params[i]!, r.params[i]!);
      for (const k of ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const) {
        mismatches += differ(ws[i]![k]!, rs[i]![k]!);
      }
      compared += 4 * n;
    });
  }
  const result = {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    threads: w.threads,
    stepThreads,
    reason: w.singleThreadReason ?? null,
    mismatches,
    compared,
  };
  w.destroy();
  return result;
}
