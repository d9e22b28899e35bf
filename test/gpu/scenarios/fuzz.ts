/**
 * In-page fuzz of the GPU optimizer against AdaBeliefCPU (f32), called from test/gpu/fuzz.test.ts.
 *
 * Case `index` of run `seed` is generated from those two numbers alone (`generateCase`), so any one case
 * replays by itself. A case draws every option (both semantics, every switch, lr / betas / eps / weight
 * decay over wide ranges), per-parameter overrides, 1–12 tensors of 1 … ~70000 elements placed in their
 * own buffers or sharing buffers at 256-byte-aligned offsets with gaps, 1–8 steps through `step()` or
 * `encode()` (its CPU mirror steps at the submit: a step runs with the options in force then), option changes between steps, a dispatch shape, gradients of small to huge magnitude, and
 * sometimes an injected NaN / ±inf. `runCases` runs a range of cases and returns, per case, the largest
 * error of params and of every state buffer against the reference (test/helpers/tolerance.ts), the elements whose
 * finiteness differs (NaN / +inf / -inf / finite), and the values written outside the tensors. Node
 * decides pass or fail.
 */
import {
  ADABELIEF_SETTABLE_OPTIONS,
  AdaBelief,
  AdaBeliefCPU,
  type AdaBeliefOptions,
  type GroupOverrides,
  type ParamEntry,
} from '../../../src/internal.js';
import { compareArrays } from '../../helpers/compare.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { rng, withGpu, type Gpu } from './harness.js';

type Rng = ReturnType<typeof rng>;

export type Injected = 'nan' | 'inf' | '-inf';

/** The gradient guard of a case (src/core/guard.ts), as plain numbers. */
export type Guard = { gradScale?: number; skipNonFinite?: boolean; maxGradNorm?: number };

export interface FuzzTensor {
  size: number;
  /** Which param / grad buffer of the case holds the tensor, and the extra gap (bytes) before it there. */
  paramBuffer: number;
  gradBuffer: number;
  paramGap: number;
  gradGap: number;
  /** Standard deviation of its initial values and of its gradients. */
  paramScale: number;
  gradScale: number;
  overrides?: GroupOverrides;
}

export interface FuzzCase {
  seed: number;
  index: number;
  options: Partial<AdaBeliefOptions>;
  tensors: FuzzTensor[];
  /** Bytes after the last tensor of each param / grad buffer (0: the tensor ends at the buffer's end). */
  paramPad: number;
  gradPad: number;
  steps: number;
  /** Options changed on both optimizers before step `step` (1-based). */
  changes: { step: number; set: Partial<Omit<AdaBeliefOptions, 'amsgrad'>> }[];
  /** A NaN / ±inf written into one gradient element at one step. */
  injections: { step: number; tensor: number; element: number; value: Injected }[];
  /** `encode()` with this many steps per command encoder, or `step()` when 0. */
  stepsPerEncoder: number;
  dispatch: { workgroupSize?: number; maxWorkgroups?: number };
  /** Loss scale, skip on inf/NaN, clipping: GPU options, and the second argument of AdaBeliefCPU.step. */
  guard?: Guard;
  /** What a hand-written case is about (generated cases have none). */
  label?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Case generation.

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r.next() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r.next() < p;
const uniform = (r: Rng, lo: number, hi: number): number => lo + (hi - lo) * r.next();
const logUniform = (r: Rng, lo: number, hi: number): number => 10 ** uniform(r, lo, hi);

/** The seed of case `index` of run `seed` (a 32-bit mix of both). */
function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function randomBetas(r: Rng): [number, number] {
  const beta1 = pick(r, [0, 0.9, 0.9, uniform(r, 0.5, 0.99), uniform(r, 0, 1)]);
  const beta2 = pick(r, [0.999, 0.99, 0.9, uniform(r, 0.9, 0.9999), uniform(r, 0, 1)]);
  return [beta1, beta2];
}

/**
 * Hyperparameters over wide ranges. With `keepEps` (tiny gradients) eps is never 0: the variance of
 * gradients below ~1e-19 is then subnormal in f32, and WGSL lets a GPU flush subnormals to 0 (SwiftShader
 * does) where the reference keeps them: far outside any ulp tolerance, and 0 / 0 against a finite
 * quotient. With eps >= 1e-16 in s, a flushed subnormal is far below the rounding of s.
 */
function randomHyper(
  r: Rng,
  keepEps: boolean,
): Pick<AdaBeliefOptions, 'lr' | 'betas' | 'eps' | 'weightDecay'> {
  return {
    lr: logUniform(r, -5, 0),
    betas: randomBetas(r),
    eps: pick(r, [1e-16, 1e-8, logUniform(r, -16, -3), !keepEps && chance(r, 0.3) ? 0 : 1e-16]),
    weightDecay: chance(r, 0.5) ? 0 : logUniform(r, -4, -1),
  };
}

function randomOverrides(r: Rng, keepEps: boolean): GroupOverrides | undefined {
  if (!chance(r, 0.3)) return undefined;
  const all = randomHyper(r, keepEps);
  const out: GroupOverrides = {};
  if (chance(r, 0.5)) out.lr = all.lr;
  if (chance(r, 0.4)) out.betas = all.betas;
  if (chance(r, 0.3)) out.eps = all.eps;
  if (chance(r, 0.4)) out.weightDecay = all.weightDecay;
  return out;
}

/**
 * The guard of a case: a power-of-two loss scale (exact, so the unscaled CPU step matches bit for bit) and
 * skipping on inf/NaN, each in some cases; the injected NaN / inf then exercise the skip. Clipping is not
 * fuzzed here: the two sides sum the norm in different orders, so test/gpu/guard.test.ts checks it with a
 * tolerance derived from the summation order.
 */
function randomGuard(r: Rng): Guard | undefined {
  if (!chance(r, 0.5)) return undefined;
  const guard: Guard = {};
  if (chance(r, 0.6)) guard.gradScale = 2 ** Math.floor(r.next() * 33 - 8); // 2^-8 .. 2^24
  if (guard.gradScale === undefined || chance(r, 0.3)) guard.skipNonFinite = chance(r, 0.8);
  return guard;
}

/**
 * Every option. With `keepEps`, AMSGrad keeps the official semantics: torch-optimizer's AMSGrad adds eps
 * to max_exp_avg_var instead of s, which leaves s eps-free (see randomHyper).
 */
function randomOptions(r: Rng, keepEps: boolean): Partial<AdaBeliefOptions> {
  const semantics = chance(r, 0.5) ? 'adabelief-pytorch' : 'torch-optimizer';
  const amsgrad = chance(r, 0.5);
  return {
    ...randomHyper(r, keepEps),
    semantics: keepEps && amsgrad ? 'adabelief-pytorch' : semantics,
    amsgrad,
    weightDecouple: chance(r, 0.5),
    fixedDecay: chance(r, 0.3),
    rectify: chance(r, 0.5),
    degeneratedToSgd: chance(r, 0.7),
  };
}

/** Sizes 1 … ~70000, mostly small: 1–8 (the partial-vec4 edges) in 35 % of tensors. */
function randomSize(r: Rng): number {
  const u = r.next();
  if (u < 0.35) return r.int(1, 8);
  if (u < 0.7) return r.int(9, 1024);
  if (u < 0.95) return r.int(1025, 20000);
  return r.int(20001, 70000);
}

/** Option changes before a step: a random subset of the settable options (semantics: see randomOptions). */
function randomChange(
  r: Rng,
  keepEps: boolean,
  amsgrad: boolean,
): Partial<Omit<AdaBeliefOptions, 'amsgrad'>> {
  const fresh = randomOptions(r, keepEps);
  if (keepEps && amsgrad) fresh.semantics = 'adabelief-pytorch';
  const change: Partial<Omit<AdaBeliefOptions, 'amsgrad'>> = {};
  for (const key of ADABELIEF_SETTABLE_OPTIONS)
    if (chance(r, 0.3)) Object.assign(change, { [key]: fresh[key] });
  return change;
}

/** Case `index` of run `seed`: everything it does, as plain JSON. */
export function generateCase(seed: number, index: number): FuzzCase {
  const r = rng(caseSeed(seed, index));
  const count = chance(r, 0.1) ? r.int(7, 12) : r.int(1, 6);
  // Placement: each tensor in its own buffers, all in one pair, or spread over a few buffers.
  const mode = pick(r, ['separate', 'shared', 'mixed'] as const);
  const buffers = mode === 'shared' ? 1 : mode === 'separate' ? count : r.int(1, 3);
  const gap = () => (chance(r, 0.3) ? 256 * r.int(1, 2) : 0);
  // Gradients: ordinary, tiny, or huge enough for (1-b2)·r² to overflow f32.
  const magnitude = pick(r, ['normal', 'normal', 'normal', 'tiny', 'huge'] as const);
  const gradScale =
    magnitude === 'normal'
      ? logUniform(r, -6, 3)
      : magnitude === 'tiny'
        ? logUniform(r, -15, -8)
        : logUniform(r, 10, 20);
  const keepEps = magnitude === 'tiny';
  const options = randomOptions(r, keepEps);
  const tensors: FuzzTensor[] = Array.from({ length: count }, (_, k) => ({
    size: randomSize(r),
    paramBuffer: mode === 'separate' ? k : r.int(0, buffers - 1),
    gradBuffer: mode === 'separate' ? k : r.int(0, buffers - 1),
    paramGap: gap(),
    gradGap: gap(),
    paramScale: logUniform(r, -3, 2),
    gradScale: gradScale * logUniform(r, -1, 1),
  }));
  for (const t of tensors) {
    const overrides = randomOverrides(r, keepEps);
    if (overrides) t.overrides = overrides;
  }
  const steps = r.int(1, 8);
  const changes = [];
  if (steps > 1 && chance(r, 0.2))
    changes.push({ step: r.int(2, steps), set: randomChange(r, keepEps, options.amsgrad!) });
  const injections = [];
  if (chance(r, 0.25)) {
    for (let n = r.int(1, 2); n > 0; n--) {
      const tensor = r.int(0, count - 1);
      injections.push({
        step: r.int(1, steps),
        tensor,
        element: r.int(0, tensors[tensor]!.size - 1),
        value: pick(r, ['nan', 'inf', '-inf'] as const),
      });
    }
  }
  const guard = randomGuard(r);
  const dispatch = chance(r, 0.3)
    ? { workgroupSize: pick(r, [64, 128, 256]), maxWorkgroups: r.int(1, 64) }
    : {};
  return {
    seed,
    index,
    options,
    tensors,
    paramPad: pick(r, [0, 0, 4, 8, 12, 256]),
    gradPad: pick(r, [0, 0, 4, 8, 12, 256]),
    steps,
    changes,
    injections,
    stepsPerEncoder: chance(r, 0.2) ? r.int(1, 3) : 0,
    dispatch,
    ...(guard ? { guard } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Running a case.

export type Quantity = 'param' | 'exp_avg' | 'exp_avg_var' | 'max_exp_avg_var';

export interface QuantityResult {
  /** Largest |gpu - cpu| in ulp of the reference value, over finite elements. */
  maxUlp: number;
  /** Largest |gpu - cpu| / tolerance (test/helpers/tolerance.ts); passes when <= 1. */
  worst: number;
  /** Where `worst` is: tensor and element. */
  worstAt: [number, number];
  /** Elements whose class differs: NaN, +inf, -inf or finite. */
  finitenessMismatch: number;
  /** Elements that are NaN or ±inf in the reference. */
  nonFinite: number;
  /** The first few elements whose finiteness differs: 'tensor[element]: gpu …, cpu …'. */
  examples: string[];
}

export interface CaseResult {
  case: FuzzCase;
  /** The error that stopped the case (a WebGPU error, an exception), if any. */
  error?: string;
  results: Partial<Record<Quantity, QuantityResult>>;
  /** Param values outside every tensor that changed (must be 0). */
  neighboursChanged: number;
  elements: number;
}

const SENTINEL = 12345.5;
const GRAD_FILL = 0.5;
const INJECTED: Record<Injected, number> = { nan: Number.NaN, inf: Infinity, '-inf': -Infinity };

/** NaN, +inf, -inf or finite. */
const finiteness = (x: number) => (Number.isNaN(x) ? 0 : x === Infinity ? 1 : x === -Infinity ? 2 : 3);

/** A copy with non-finite values as 0: the tolerance's mean term over the finite elements only. */
function finiteOnly(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs, (x) => (Number.isFinite(x) ? x : 0));
}

/** Byte offsets of each tensor in its buffers, and each buffer's size. */
function place(c: FuzzCase) {
  const layout = (role: 'param' | 'grad', pad: number) => {
    const ends = new Map<number, number>();
    const offsets = c.tensors.map((t) => {
      const buffer = role === 'param' ? t.paramBuffer : t.gradBuffer;
      const gap = role === 'param' ? t.paramGap : t.gradGap;
      const at = Math.ceil((ends.get(buffer) ?? 0) / 256) * 256 + gap;
      ends.set(buffer, at + 4 * t.size);
      return at;
    });
    const bytes = [...ends.entries()].sort((a, b) => a[0] - b[0]).map(([, end]) => end + pad);
    return { offsets, bytes, ids: [...ends.keys()].sort((a, b) => a - b) };
  };
  return { param: layout('param', c.paramPad), grad: layout('grad', c.gradPad) };
}

function accumulate(
  into: Partial<Record<Quantity, QuantityResult>>,
  q: Quantity,
  tensor: number,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): void {
  const s = compareArrays(got, want, tol, { nonFinite: 'expected' });
  let mismatch = 0;
  let nonFinite = 0;
  const cur = (into[q] ??= {
    maxUlp: 0,
    worst: 0,
    worstAt: [-1, -1],
    finitenessMismatch: 0,
    nonFinite: 0,
    examples: [],
  });
  for (let i = 0; i < want.length; i++) {
    if (finiteness(got[i]!) !== finiteness(want[i]!)) {
      mismatch++;
      if (cur.examples.length < 4) cur.examples.push(`${tensor}[${i}]: gpu ${got[i]}, cpu ${want[i]}`);
    }
    if (!Number.isFinite(want[i]!)) nonFinite++;
  }
  cur.maxUlp = Math.max(cur.maxUlp, s.maxUlp);
  if (s.worst > cur.worst) [cur.worst, cur.worstAt] = [s.worst, [tensor, s.worstIndex]];
  cur.finitenessMismatch += mismatch;
  cur.nonFinite += nonFinite;
}

async function runCase(gpu: Gpu, c: FuzzCase): Promise<Omit<CaseResult, 'case'>> {
  const r = rng(caseSeed(c.seed, c.index) ^ 0x5bd1e995);
  const layout = place(c);
  const params = c.tensors.map((t) => {
    const a = new Float32Array(t.size);
    for (let i = 0; i < t.size; i++) a[i] = r.normal() * t.paramScale;
    return a;
  });
  // Every byte outside the tensors holds a sentinel (params) or a non-zero value (grads), so a stray
  // write shows, and a stray read of a neighbour's gradient would move a parameter.
  const paramBufs = layout.param.bytes.map((bytes, b) => {
    const fill = new Float32Array(bytes / 4).fill(SENTINEL);
    c.tensors.forEach((t, k) => {
      if (t.paramBuffer === layout.param.ids[b]) fill.set(params[k]!, layout.param.offsets[k]! / 4);
    });
    return gpu.buffer(fill, { label: `fuzz${c.index}-param${b}` });
  });
  const gradBufs = layout.grad.bytes.map((bytes, b) =>
    gpu.buffer(new Float32Array(bytes / 4).fill(GRAD_FILL), { label: `fuzz${c.index}-grad${b}` }),
  );
  const paramOf = (k: number) => ({
    buffer: paramBufs[layout.param.ids.indexOf(c.tensors[k]!.paramBuffer)]!,
    offset: layout.param.offsets[k]!,
  });
  const gradOf = (k: number) => ({
    buffer: gradBufs[layout.grad.ids.indexOf(c.tensors[k]!.gradBuffer)]!,
    offset: layout.grad.offsets[k]!,
  });
  const entries: ParamEntry[] = c.tensors.map((t, k) => ({
    param: paramOf(k),
    grad: gradOf(k),
    size: t.size,
    name: `t${k}`,
    ...t.overrides,
  }));
  const opt = gpu.track(
    await AdaBelief.create(gpu.device, entries, {
      ...c.options,
      ...c.guard,
      dispatch: c.dispatch,
      label: `fuzz${c.index}`,
    }),
  );
  const cpu = new AdaBeliefCPU(
    c.tensors.map((t, k) => ({ param: params[k]!.slice(), ...t.overrides })),
    c.options,
  );
  const travel = c.tensors.map((t) => new Float64Array(t.size));

  let encoder: GPUCommandEncoder | undefined;
  const cpuStep = (grads: Float32Array<ArrayBuffer>[]) => {
    const before = cpu.params.map((p) => p.slice());
    cpu.step(grads, c.guard);
    cpu.params.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) {
        const moved = Math.abs(p[i]! - before[k]![i]!);
        if (Number.isFinite(moved)) travel[k]![i]! += moved;
      }
    });
  };
  // Encoded steps run when their encoder is submitted, with the options in force then (docs/errors.md#encode):
  // the CPU takes them at the submit.
  let encoded: Float32Array<ArrayBuffer>[][] = [];
  for (let step = 1; step <= c.steps; step++) {
    for (const change of c.changes.filter((x) => x.step === step)) {
      opt.set(change.set);
      cpu.set(change.set);
    }
    const grads = c.tensors.map((t) => {
      const g = new Float32Array(t.size);
      for (let i = 0; i < t.size; i++) g[i] = r.normal() * t.gradScale;
      return g;
    });
    for (const inj of c.injections.filter((x) => x.step === step))
      grads[inj.tensor]![inj.element] = INJECTED[inj.value];
    if (c.stepsPerEncoder > 0) {
      encoder ??= gpu.device.createCommandEncoder({ label: `fuzz${c.index}-encoder` });
      grads.forEach((g, k) => {
        const staged = gpu.buffer(g, { usage: 0x4 /* COPY_SRC */, label: `fuzz${c.index}-staged` });
        encoder!.copyBufferToBuffer(staged, 0, gradOf(k).buffer, gradOf(k).offset, g.byteLength);
      });
      opt.encode(encoder);
      encoded.push(grads);
      if (step % c.stepsPerEncoder === 0 || step === c.steps) {
        gpu.device.queue.submit([encoder.finish()]);
        encoder = undefined;
        encoded.forEach(cpuStep);
        encoded = [];
      }
    } else {
      grads.forEach((g, k) => gpu.device.queue.writeBuffer(gradOf(k).buffer, gradOf(k).offset, g));
      await opt.step();
      cpuStep(grads);
    }
  }

  const results: CaseResult['results'] = {};
  const state = await opt.exportState();
  const want = cpu.exportState();
  if (state.step !== want.step) throw new Error(`step count ${state.step} != ${want.step}`);
  for (let k = 0; k < c.tensors.length; k++) {
    const ref = paramOf(k);
    const got = await gpu.read(ref.buffer, c.tensors[k]!.size, ref.offset);
    const p = cpu.params[k]!;
    accumulate(results, 'param', k, got, p, paramTolerance(finiteOnly(p), travel[k]!, c.steps));
    for (const q of ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const) {
      const w = want.tensors[k]![q];
      const g = state.tensors[k]![q];
      if (!w && !g) continue;
      if (!w || !g) throw new Error(`tensor ${k} ${q}: present on one side only`);
      accumulate(results, q, k, g, w, stateTolerance(finiteOnly(w), c.steps));
    }
  }

  let neighboursChanged = 0;
  for (const [b, buffer] of paramBufs.entries()) {
    const all = await gpu.read(buffer, buffer.size / 4);
    const inside = new Uint8Array(all.length);
    c.tensors.forEach((t, k) => {
      if (t.paramBuffer !== layout.param.ids[b]) return;
      const at = layout.param.offsets[k]! / 4;
      inside.fill(1, at, at + t.size);
    });
    all.forEach((v, i) => {
      if (!inside[i] && v !== SENTINEL) neighboursChanged++;
    });
  }
  return { results, neighboursChanged, elements: c.tensors.reduce((n, t) => n + t.size, 0) };
}

/** Non-finite numbers as strings ('NaN', 'Infinity'): the page's result travels as JSON. */
function jsonSafe<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
  );
}

/** Runs the given cases (written by hand rather than generated), as `runCases` does. */
export async function runGiven(cases: FuzzCase[]): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) out.push(await runOne(c));
  return jsonSafe(out);
}

async function runOne(c: FuzzCase): Promise<CaseResult> {
  try {
    return { case: c, ...(await withGpu((gpu) => runCase(gpu, c))) };
  } catch (e) {
    return { case: c, error: String(e), results: {}, neighboursChanged: 0, elements: 0 };
  }
}

/** Runs cases `from` … `to - 1` of run `seed`, each in its own error scope; a failing case does not stop the rest. */
export async function runCases(seed: number, from: number, to: number): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (let index = from; index < to; index++) out.push(await runOne(generateCase(seed, index)));
  return jsonSafe(out);
}
