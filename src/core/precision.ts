/**
 * Lower precision: f16 parameters / gradients (per entry, `dtype: 'f16'`) and bf16 optimizer state
 * (`stateDtype: 'bf16'`). Pure: the options and their checks, the bytes each mode keeps, and the rounding
 * the kernel (shaders/adabelief.wgsl `f16_bits`, `bf16_bits`, `f16_value`) does, bit for bit, in JavaScript.
 *
 * Both roundings are round-to-nearest, ties to even, done with integer operations on the f32 bits (WGSL's
 * own f32 → f16 conversion may round either way and is indeterminate out of range; see docs/lowp.md):
 *   f16:  |x| ≥ 65520 → ±inf (65504 is the largest finite), below 2^-14 → subnormal steps of 2^-24,
 *         NaN → quiet NaN (0x7e00 with the sign).
 *   bf16: the top 16 bits of the f32 after adding 0x7fff + (bit 16); NaN stays NaN (quiet bit set), ±inf
 *         stays ±inf, the f32 range is kept (so eps-sized values of `s` do not flush to zero, as in f16).
 */

/** Element type of a parameter entry's param and grad. */
export type ParamDtype = 'f32' | 'f16';
/** Element type of the optimizer state (exp_avg, exp_avg_var, max_exp_avg_var). */
export type StateDtype = 'f32' | 'bf16';

/** The optimizer-wide precision options (GPU optimizers and the CPU reference take the same). */
export interface PrecisionOptions {
  /** Storage type of m, s (and smax): 'f32' (default) or 'bf16' (half the bytes; math stays f32). */
  stateDtype?: StateDtype;
  /**
   * For f16 entries: keep an f32 master copy of the parameters that the update runs on, and write the
   * rounded f16 value back each step (default true). false: the update runs on the f16 values themselves
   * (adabelief-pytorch 0.2.1's behaviour for half parameters).
   */
  masterWeights?: boolean;
}

/** Validated precision options. */
export interface Precision {
  stateDtype: StateDtype;
  masterWeights: boolean;
}

/** Checks and completes the precision options; messages name the option and the value. */
export function resolvePrecision(o: PrecisionOptions): Precision {
  const { stateDtype = 'f32', masterWeights = true } = o;
  if (stateDtype !== 'f32' && stateDtype !== 'bf16') {
    throw new RangeError(
      `Option 'stateDtype' must be 'f32' or 'bf16', got ${typeof stateDtype === 'string' ? `'${stateDtype}'` : String(stateDtype)} (f16 state would flush eps-sized values of exp_avg_var to zero)`,
    );
  }
  if (typeof masterWeights !== 'boolean') {
    throw new TypeError(`Option 'masterWeights' must be a boolean, got ${String(masterWeights)}`);
  }
  return { stateDtype, masterWeights };
}

/** Checks an entry's `dtype` ('f32' when absent); `where` names the entry. */
export function checkDtype(dtype: unknown, where: string): ParamDtype {
  if (dtype === undefined || dtype === 'f32') return 'f32';
  if (dtype === 'f16') return 'f16';
  throw new RangeError(
    `${where}: dtype must be 'f32' or 'f16', got ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}`,
  );
}

/** Bytes of one element of a param / grad of `dtype`. */
export const dtypeBytes = (dtype: ParamDtype): 2 | 4 => (dtype === 'f16' ? 2 : 4);

/**
 * Bytes the optimizer keeps per parameter element: `moments` state tensors (2 for AdaBelief and Adam, 3
 * with AMSGrad, 1 for SGD) at 4 or 2 bytes each, plus 4 for the f32 master copy of an f16 parameter.
 */
export function stateBytesPerElement(moments: number, stateDtype: StateDtype, master: boolean): number {
  return moments * (stateDtype === 'bf16' ? 2 : 4) + (master ? 4 : 0);
}

// One scratch word for reading and writing f32 bits.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The bits of `x` as an f32 (x is rounded to f32 first). */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** The f32 whose bits are `bits`. */
export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/** f32 → f16 bits, round to nearest even (the kernel's `f16_bits`). `x` is rounded to f32 first. */
export function f16Bits(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a >= 0x38800000) return sign | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
  // Subnormal in f16: the value in units of 2^-24, rounded; 0 below 2^-25 (and at it: a tie, to even 0).
  const e = a >>> 23;
  const shift = Math.min(126 - Math.min(e, 126), 25);
  const mant = (a & 0x7fffff) | 0x800000;
  return sign | ((mant + (1 << (shift - 1)) - 1 + ((mant >>> shift) & 1)) >>> shift);
}

/** f16 bits → its value (exact in f32 and in JS numbers; the kernel's `f16_value`). */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (e === 31) return man === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * man * 2 ** -24;
  return sign * (1024 + man) * 2 ** (e - 25);
}

/** `x` rounded to the nearest f16 (ties to even), as a number. */
export const roundF16 = (x: number): number => f16Value(f16Bits(x));

/** f32 → bf16 bits (the top half of the f32), round to nearest even (the kernel's `bf16_bits`). */
export function bf16Bits(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits → its value (exact). */
export const bf16Value = (h: number): number => f32FromBits((h & 0xffff) << 16);

/** `x` rounded to the nearest bf16 (ties to even), as a number. */
export const roundBf16 = (x: number): number => bf16Value(bf16Bits(x));

/** Rounds every element of `a` in place with `round`. */
export function roundInPlace(a: Float32Array | Float64Array, round: (x: number) => number): void {
  for (let i = 0; i < a.length; i++) a[i] = round(a[i]!);
}

/** f16 bits of each element of `values` (what an f16 GPU buffer holds). */
export function toF16Array(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f16Bits(values[i]!);
  return out;
}

/** The values of f16 bits (an f16 GPU buffer read back). */
export function fromF16Array(bits: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16Value(bits[i]!);
  return out;
}

/** bf16 bits of each element of `values` (what a bf16 state buffer holds). */
export function toBf16Array(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bf16Bits(values[i]!);
  return out;
}

/** The values of bf16 bits, widened to f32 exactly. */
export function fromBf16Array(bits: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = (bits[i]! & 0xffff) << 16;
  return out;
}

/** Spacing of f16 values at |x| (2^-24 for zero and subnormals). */
export function ulpF16(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
}

/** Spacing of bf16 values at |x| (2^-133 for zero and subnormals). */
export function ulpBf16(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -133;
  return 2 ** (Math.floor(Math.log2(a)) - 7);
}

/**
 * What exportState() adds in the lower-precision modes: per parameter, the f32 master copy of an f16
 * parameter (undefined for the others). importState() takes it back; without it the master copies are
 * re-initialised from the f16 parameters at the next step.
 */
export interface MasterWeightsState {
  masterParams?: (Float32Array | undefined)[];
}
