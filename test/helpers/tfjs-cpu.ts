/** What the TF.js unit tests (TF.js' cpu backend in Node) share: deterministic values and a caught message. */
import { thrown } from './thrown.js';

/** Deterministic values in [-scale, scale) (xorshift32). */
export function values(seed: number, n: number, scale: number): Float32Array<ArrayBuffer> {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** What `f` throws, as 'Name: message', or 'no error'. */
export function caught(f: () => unknown): string {
  const e = thrown(f);
  return e ? `${e.name}: ${e.message}` : 'no error';
}
