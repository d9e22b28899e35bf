/**
 * The kernel as WebAssembly modules: decoded from the committed base64 (kernel-wasm.ts, built by
 * `npm run build:wasm` from assembly/kernel.ts) and compiled once per process, in its shared-memory build
 * (threads) and its unshared one (where SharedArrayBuffer is unavailable).
 */
import { KERNEL_WASM_PLAIN, KERNEL_WASM_SHARED } from './kernel-wasm.js';

/** The kernel's exports. */
export interface KernelExports {
  /** One fused step of global elements [lo, hi) of the `count` tensors whose records start at `table`. */
  stepRange(table: number, count: number, lo: number, hi: number): void;
  /** The copy roofline over the same elements (no math: p = m, m = s, s = p + g, smax += g). */
  copyRange(table: number, count: number, lo: number, hi: number): void;
  /** The guard's statistics of the gradients in [lo, hi): f64 sum of squares at `out`, i32 non-finite flag at out + 8. */
  statsRange(table: number, count: number, lo: number, hi: number, out: number): void;
}

const compiled = new Map<boolean, WebAssembly.Module>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** The compiled kernel importing shared (`shared`) or unshared memory. */
export function kernelModule(shared: boolean): WebAssembly.Module {
  let module = compiled.get(shared);
  if (!module) {
    module = new WebAssembly.Module(decode(shared ? KERNEL_WASM_SHARED : KERNEL_WASM_PLAIN));
    compiled.set(shared, module);
  }
  return module;
}

/** The kernel instantiated on `memory`. */
export function instantiateKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
}
