/**
 * The linear memory of the WASM CPU optimizer (wasm-optimizer.ts) and of its threads: where the control words,
 * the tensor records and the tensors live, and how a step's scalars are packed into a record. The kernel
 * (assembly/kernel.ts) reads the records with the same offsets; test/unit/wasm-cpu.test.ts checks them
 * against the module's exported constants.
 *
 *   [0, 2048)        control words (Int32), below: generation, pending workers, job, ready count, range bounds
 *   [2048, 6144)     per thread, the guard statistics of its range (f64 sum of squares, i32 non-finite flag)
 *   [8192, …)        one REC_BYTES record per tensor
 *   then, 64-byte aligned, one region per array kind: all params, all grads, all m, all s, all smax (the rule's)
 *
 * Every tensor starts at a multiple of ALIGN elements (64 bytes) in its region, at the same element offset
 * in every region: that offset is its first index in the global element space the threads split.
 */
import { Amsgrad, type StepScalars } from '../../core/step-scalars.js';

/** Record layout (byte offsets; assembly/kernel.ts exports the same numbers). */
export const REC = {
  BYTES: 128,
  N: 0,
  START: 4,
  P: 8,
  G: 12,
  M: 16,
  S: 20,
  X: 24,
  UPDATE: 28,
  FLAGS: 32,
  SCALARS: 48,
} as const;

/** Record flags (assembly/kernel.ts). */
export const FLAG = {
  denomFromMax: 1,
  divideBc2: 2,
  l2: 4,
  belief: 8,
  nesterov: 16,
  variance: 32,
  amsgrad: 64,
  guard: 128,
} as const;

/** Control word indices (Int32Array over the memory from byte 0). */
export const CTRL = {
  /** Bumped by the calling thread to start a job. */
  GEN: 0,
  /** Workers that have not finished the current job. */
  PENDING: 1,
  /** The job: JOB.step, JOB.copy or JOB.exit. */
  JOB: 2,
  /** Workers started and waiting. */
  READY: 3,
  /** Byte address of the first record. */
  TABLE: 4,
  /** Number of records. */
  COUNT: 5,
  /** The index of the first worker whose job threw (it then stops serving jobs); 0 while none has. */
  FAILED: 6,
  /** Thread k takes global elements [BOUNDS + k, BOUNDS + k + 1). */
  BOUNDS: 16,
} as const;

export const JOB = { step: 0, copy: 1, exit: 2, stats: 3 } as const;

/** Byte address of thread 0's guard statistics; thread k's are STATS_BYTES × k further. */
export const STATS_BYTE = 2048;
export const STATS_BYTES = 16;

/** Most threads one optimizer runs (the bounds must fit the control area). */
export const MAX_THREADS = 256;
/** Tensors start at multiples of this many elements (64 bytes) and threads split at them. */
export const ALIGN = 16;
const TABLE_BYTE = 8192;
const PAGE = 65536;
/** wasm32's limit: 4 GiB. */
const MAX_PAGES = 65536;

/** Where everything lives. */
export interface MemoryPlan {
  /** Elements of the global space (every tensor padded to ALIGN). */
  total: number;
  /** Per tensor: element count, first global index. */
  sizes: number[];
  starts: number[];
  /** Byte address of each region; 0 for a kind the rule does not keep. */
  regions: { p: number; g: number; m: number; s: number; x: number };
  table: number;
  pages: number;
}

/** Plans the memory of tensors of `sizes` elements keeping s (`variance`) and smax (`amsgrad`). */
export function planMemory(sizes: readonly number[], variance: boolean, amsgrad: boolean): MemoryPlan {
  const starts: number[] = [];
  let total = 0;
  for (const n of sizes) {
    starts.push(total);
    total += Math.ceil(n / ALIGN) * ALIGN;
  }
  const regionBytes = total * 4;
  let at = Math.ceil((TABLE_BYTE + sizes.length * REC.BYTES) / 64) * 64;
  const next = (keep: boolean) => {
    if (!keep) return 0;
    const here = at;
    at += regionBytes;
    return here;
  };
  const regions = { p: next(true), g: next(true), m: next(true), s: next(variance), x: next(amsgrad) };
  const pages = Math.max(1, Math.ceil(at / PAGE));
  if (pages > MAX_PAGES) {
    throw new RangeError(
      `the WASM CPU optimizer's memory would be ${at} bytes: WebAssembly (wasm32) memory holds at most 4 GiB`,
    );
  }
  return { total, sizes: [...sizes], starts, regions, table: TABLE_BYTE, pages };
}

/** Writes the fixed part of every record: element count, global start, array addresses. */
export function writeRecords(view: DataView, plan: MemoryPlan): void {
  plan.sizes.forEach((n, k) => {
    const r = plan.table + k * REC.BYTES;
    const at = (region: number) => (region === 0 ? 0 : region + plan.starts[k]! * 4);
    view.setInt32(r + REC.N, n, true);
    view.setInt32(r + REC.START, plan.starts[k]!, true);
    view.setInt32(r + REC.P, at(plan.regions.p), true);
    view.setInt32(r + REC.G, at(plan.regions.g), true);
    view.setInt32(r + REC.M, at(plan.regions.m), true);
    view.setInt32(r + REC.S, at(plan.regions.s), true);
    view.setInt32(r + REC.X, at(plan.regions.x), true);
  });
}

/** The guard's factors of a step: g' = (g * invScale) * clipCoef, each product rounded to f32. */
export interface GradFactors {
  invScale: number;
  clipCoef: number;
}

/**
 * Packs step scalars `h` (unrounded f64) into record `k`: every scalar rounded to f32 once, as the reference's
 * roundScalars (and packHyper) do; the flags are the reference's branches (the L2 line runs when f32(l2) != 0).
 */
export function writeStep(
  view: DataView,
  plan: MemoryPlan,
  k: number,
  h: StepScalars,
  guard: GradFactors | undefined,
): void {
  const r = plan.table + k * REC.BYTES;
  const flags =
    (h.denomFromMax ? FLAG.denomFromMax : 0) |
    (h.divideBc2 ? FLAG.divideBc2 : 0) |
    (Math.fround(h.l2) !== 0 ? FLAG.l2 : 0) |
    (h.belief ? FLAG.belief : 0) |
    (h.nesterov ? FLAG.nesterov : 0) |
    (plan.regions.s !== 0 ? FLAG.variance : 0) |
    (h.amsgrad !== Amsgrad.off ? FLAG.amsgrad : 0) |
    (guard ? FLAG.guard : 0);
  view.setInt32(r + REC.UPDATE, h.update, true);
  view.setInt32(r + REC.FLAGS, flags, true);
  const f32s = [
    h.decayMul,
    h.l2,
    h.beta1,
    h.oneMinusBeta1,
    h.beta2,
    h.oneMinusBeta2,
    h.eps,
    h.epsS,
    h.epsMax,
    h.sqrtBc2,
    h.stepSize,
    guard?.invScale ?? 1,
    guard?.clipCoef ?? 1,
  ];
  for (let i = 0; i < f32s.length; i++) view.setFloat32(r + REC.SCALARS + 4 * i, f32s[i]!, true);
}

/** Writes the guard's f32(1 / gradScale) into every record (read by the statistics job and the step). */
export function writeInvScale(view: DataView, plan: MemoryPlan, invScale: number): void {
  for (let k = 0; k < plan.sizes.length; k++) {
    view.setFloat32(plan.table + k * REC.BYTES + REC.SCALARS + 44, invScale, true);
  }
}

/**
 * Splits the global space [0, total) among `threads` threads at multiples of ALIGN; writes the bounds of
 * `slots` threads (those past `threads` get empty ranges) into `ctrl`.
 */
export function writeBounds(ctrl: Int32Array, total: number, threads: number, slots: number): void {
  const chunk = Math.ceil(total / threads / ALIGN) * ALIGN;
  for (let k = 0; k <= slots; k++) ctrl[CTRL.BOUNDS + k] = Math.min(k * chunk, total);
}
