/**
 * The host's side of the records the shaders read and write, encoded and decoded at the offsets abi.ts
 * declares: `Hyper` (a tensor's scalars for a step), `Control` (the guard's inputs and decision) and
 * `TailPiece` (a tail dispatch's piece). The window table is encoded by layout.ts (encodeWindowTable).
 */
import type { StepScalars } from '../core/step-scalars.js';
import type { ControlInputs, GuardReport } from '../core/guard.js';
import { CONTROL, HYPER, HYPER_FLAGS, TAIL_PIECE } from './abi.js';

/** Byte size (and array stride) of the kernel's `Hyper` struct: one per tensor per row. */
export const HYPER_BYTES = HYPER.size;

/** Byte size of `Control`. */
export const CONTROL_BYTES = CONTROL.size;

/** `Hyper` fields written from the f32 rounding of a StepScalars field. */
const HYPER_F32: readonly (readonly [string, keyof StepScalars])[] = [
  ['decay_mul', 'decayMul'],
  ['l2', 'l2'],
  ['beta1', 'beta1'],
  ['one_minus_beta1', 'oneMinusBeta1'],
  ['beta2', 'beta2'],
  ['one_minus_beta2', 'oneMinusBeta2'],
  ['eps', 'eps'],
  ['eps_s', 'epsS'],
  ['eps_max', 'epsMax'],
  ['sqrt_bc2', 'sqrtBc2'],
  ['step_size', 'stepSize'],
];
const HYPER_F32_AT = HYPER_F32.map(([field, key]) => [HYPER.at(field), key] as const);

/** `Hyper.flags` of `s`. */
export function hyperFlags(s: StepScalars): number {
  return (
    (s.denomFromMax ? HYPER_FLAGS.FLAG_DENOM_FROM_MAX : 0) |
    (s.divideBc2 ? HYPER_FLAGS.FLAG_DIVIDE_BC2 : 0) |
    (s.l2 !== 0 ? HYPER_FLAGS.FLAG_L2 : 0) |
    (s.belief ? HYPER_FLAGS.FLAG_BELIEF : 0) |
    (s.nesterov ? HYPER_FLAGS.FLAG_NESTEROV : 0)
  );
}

/**
 * Writes `s` into `view` at `byteOffset` as a `Hyper` record: `update`, `flags`, and every f64 scalar rounded
 * to f32 exactly once, here.
 */
export function packHyper(s: StepScalars, view: DataView, byteOffset: number): void {
  view.setUint32(byteOffset + HYPER.at('update'), s.update, true);
  view.setUint32(byteOffset + HYPER.at('flags'), hyperFlags(s), true);
  for (const [at, key] of HYPER_F32_AT) view.setFloat32(byteOffset + at, s[key] as number, true);
}

/** Writes the host's fields of `Control` (scale .. tensor_count) at `byteOffset`. */
export function writeControlInputs(view: DataView, byteOffset: number, c: ControlInputs): void {
  view.setFloat32(byteOffset + CONTROL.at('scale'), c.scale, true);
  view.setFloat32(byteOffset + CONTROL.at('max_norm'), Number.isFinite(c.maxNorm) ? c.maxNorm : 0, true);
  view.setUint32(byteOffset + CONTROL.at('skip_nonfinite'), c.skipNonFinite ? 1 : 0, true);
  view.setUint32(byteOffset + CONTROL.at('lo'), c.lo, true);
  view.setUint32(byteOffset + CONTROL.at('tensor_count'), c.tensorCount, true);
}

/** The initial `Control`: no step applied yet, scale 1, no clipping, row 0. */
export function initialControl(tensorCount: number): ArrayBuffer {
  const bytes = new ArrayBuffer(CONTROL_BYTES);
  const v = new DataView(bytes);
  writeControlInputs(v, 0, { scale: 1, maxNorm: 0, skipNonFinite: false, lo: 0, tensorCount });
  v.setFloat32(CONTROL.at('inv_scale'), 1, true);
  v.setFloat32(CONTROL.at('clip_coef'), 1, true);
  return bytes;
}

/** Byte offset of `Control.applied` (the GPU's step count; importState writes it). */
export const CONTROL_APPLIED_AT = CONTROL.at('applied');

/** Decodes a read-back `Control`. */
export function readControl(bytes: ArrayBuffer): GuardReport {
  const v = new DataView(bytes);
  return {
    clipCoef: v.getFloat32(CONTROL.at('clip_coef'), true),
    skipped: v.getUint32(CONTROL.at('skip'), true) !== 0,
    gradNorm: v.getFloat32(CONTROL.at('norm'), true),
    applied: v.getUint32(CONTROL.at('applied'), true),
    foundNonFinite: v.getUint32(CONTROL.at('found_nonfinite'), true) !== 0,
  };
}

/** A `TailPiece` record's fields. */
export interface TailRecord {
  tensor: number;
  rest: number;
  stateIndex: number;
  first: number;
  stateVec4: number;
}

/** Writes a `TailPiece` record into `words` (u32) at byte `byteOffset`. */
export function writeTailPiece(words: Uint32Array, byteOffset: number, t: TailRecord): void {
  const base = byteOffset / 4;
  words[base + TAIL_PIECE.at('tensor') / 4] = t.tensor;
  words[base + TAIL_PIECE.at('rest') / 4] = t.rest;
  words[base + TAIL_PIECE.at('state_index') / 4] = t.stateIndex;
  words[base + TAIL_PIECE.at('first') / 4] = t.first;
  words[base + TAIL_PIECE.at('state_vec4') / 4] = t.stateVec4;
}
