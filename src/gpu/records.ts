/**
 * The host's side of the records the shaders read and write, encoded and decoded at the offsets abi.ts
 * declares: `Hyper` (a group's scalars for a step count), the header of `Steps` (the step count, the latest
 * step's decision, the guard's inputs) and `TailPiece` (a tail dispatch's piece). The window table is encoded by
 * layout.ts (encodeWindowTable); the rest of `Steps` (group map, ring of entries) by step-record.ts.
 */
import type { StepScalars } from '../core/step-scalars.js';
import { HYPER, HYPER_FLAGS, STEPS, TAIL_PIECE } from './abi.js';

/** Byte size of the kernel's `Hyper` struct. */
export const HYPER_BYTES = HYPER.size;

/** Byte size of the fixed part of `Steps` (before `words`). */
export const STEPS_HEADER_BYTES = STEPS.size;

/** Byte offset of the step count (two u32 words, low first) in `Steps`. */
export const COUNT_AT = STEPS.at('count_lo');

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

/** The fields of `Steps` the host writes (abi.ts STEPS_HOST_BYTES). */
export interface StepsInputs {
  scale: number;
  /** Infinity: no clipping (written as 0). */
  maxNorm: number;
  skipNonFinite: boolean;
  /** Entries in the ring (a power of two). */
  entries: number;
  entryWords: number;
  ringAt: number;
}

/** Writes the host's fields of `Steps` (scale .. ring_at) at `byteOffset`. */
export function writeStepsInputs(view: DataView, byteOffset: number, c: StepsInputs): void {
  view.setFloat32(byteOffset + STEPS.at('scale'), c.scale, true);
  view.setFloat32(byteOffset + STEPS.at('max_norm'), Number.isFinite(c.maxNorm) ? c.maxNorm : 0, true);
  view.setUint32(byteOffset + STEPS.at('skip_nonfinite'), c.skipNonFinite ? 1 : 0, true);
  view.setUint32(byteOffset + STEPS.at('ring_mask'), c.entries - 1, true);
  view.setUint32(byteOffset + STEPS.at('entry_words'), c.entryWords, true);
  view.setUint32(byteOffset + STEPS.at('ring_at'), c.ringAt, true);
}

/** Writes step count `count` (< 2^53) as `Steps.count_lo`, `count_hi` at `byteOffset` (of the count). */
export function writeCount(view: DataView, byteOffset: number, count: number): void {
  view.setUint32(byteOffset, count % 2 ** 32, true);
  view.setUint32(byteOffset + 4, Math.floor(count / 2 ** 32), true);
}

/** The GPU's fields of a read-back `Steps` header. */
export interface StepsReadback {
  /** The step count (steps applied). */
  count: number;
  /** Steps run, applied or not (mod 2^32). */
  runs: number;
  /** Steps that found no scalars for their count (mod 2^32). */
  missing: number;
  /** The latest step applied nothing. */
  skipped: boolean;
  foundNonFinite: boolean;
  gradNorm: number;
  clipCoef: number;
}

/** Decodes a read-back `Steps` header. */
export function readSteps(bytes: ArrayBuffer): StepsReadback {
  const v = new DataView(bytes);
  return {
    count: v.getUint32(STEPS.at('count_hi'), true) * 2 ** 32 + v.getUint32(STEPS.at('count_lo'), true),
    runs: v.getUint32(STEPS.at('runs'), true),
    missing: v.getUint32(STEPS.at('missing'), true),
    skipped: v.getUint32(STEPS.at('skip'), true) !== 0,
    foundNonFinite: v.getUint32(STEPS.at('found_nonfinite'), true) !== 0,
    gradNorm: v.getFloat32(STEPS.at('norm'), true),
    clipCoef: v.getFloat32(STEPS.at('clip_coef'), true),
  };
}

/** The initial `Steps` header: count 0, nothing run, inv_scale and clip_coef 1 (an unguarded step's factors). */
export function initialSteps(inputs: StepsInputs): ArrayBuffer {
  const bytes = new ArrayBuffer(STEPS_HEADER_BYTES);
  const v = new DataView(bytes);
  writeStepsInputs(v, 0, inputs);
  v.setFloat32(STEPS.at('inv_scale'), 1, true);
  v.setFloat32(STEPS.at('clip_coef'), 1, true);
  return bytes;
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
