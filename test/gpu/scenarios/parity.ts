/**
 * In-page GPU parity scenarios, called from test/gpu/chromium.test.ts. Each returns plain numbers for Node to
 * assert and print; nothing here decides pass or fail except by throwing on WebGPU errors.
 */
import {
  AdaBelief,
  AdaBeliefCPU,
  Adam,
  AdamCPU,
  AdamW,
  AdamWCPU,
  SGD,
  SGDCPU,
  type AdaBeliefOptions,
  type FusedOptimizer,
  type GroupOverrides,
  type ParamEntry,
  type ReferenceCPU,
  loadCheckpoint,
  saveCheckpoint,
} from '../../../src/internal.js';
import { compareArrays, type ErrorStats } from '../../helpers/compare.js';
import type { GoldenCase } from '../../helpers/golden.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { randomArray, rng, withGpu, type Gpu } from './harness.js';

/** 'param', or a state tensor's name (exp_avg, exp_avg_var, exp_avg_sq, momentum_buffer, ...). */
export type Quantity = string;
export type Report = Record<Quantity, ErrorStats>;

/** The GPU optimizers under test and their CPU mirrors. */
export type OptimizerName = 'AdaBelief' | 'Adam' | 'AdamW' | 'SGD';
// Options are passed through untyped: each optimizer validates its own.
type AnyOptions = Record<string, unknown>;
const VARIANTS: Record<
  OptimizerName,
  {
    gpu: new (d: GPUDevice, e: ParamEntry[], o: AnyOptions) => FusedOptimizer<object>;
    cpu: new (
      p: (Float32Array | { param: Float32Array })[],
      o: AnyOptions,
    ) => ReferenceCPU<Float32Array, object>;
  }
> = {
  AdaBelief: { gpu: AdaBelief, cpu: AdaBeliefCPU },
  Adam: { gpu: Adam, cpu: AdamCPU },
  AdamW: { gpu: AdamW, cpu: AdamWCPU },
  SGD: { gpu: SGD, cpu: SGDCPU },
} as never;

/** Merges per-tensor stats into one (worst of each field). */
function merge(into: Report, q: Quantity, s: ErrorStats): void {
  const cur = into[q];
  if (!cur) {
    into[q] = { ...s };
    return;
  }
  cur.maxAbs = Math.max(cur.maxAbs, s.maxAbs);
  cur.maxUlp = Math.max(cur.maxUlp, s.maxUlp);
  cur.nanMismatch += s.nanMismatch;
  cur.invalid += s.invalid;
  if (s.worst > cur.worst) {
    cur.worst = s.worst;
    cur.worstIndex = s.worstIndex;
  }
}

interface Tracked {
  cpu: ReferenceCPU<Float32Array, object>;
  /** Σ_t |p_t - p_{t-1}| per element, per tensor. */
  travel: Float64Array[];
}

/** Steps the CPU reference once and accumulates how far each parameter moved. */
function cpuStep(tr: Tracked, grads: Float32Array[]): void {
  const before = tr.cpu.params.map((p) => p.slice());
  tr.cpu.step(grads);
  tr.cpu.params.forEach((p, k) => {
    const travel = tr.travel[k]!;
    for (let i = 0; i < p.length; i++) travel[i]! += Math.abs(p[i]! - before[k]![i]!);
  });
}

/** Compares GPU params and every state buffer against the CPU reference, with the stated tolerances. */
async function compareWithCpu(
  gpu: Gpu,
  opt: FusedOptimizer<object>,
  entries: (ParamEntry & { size: number })[],
  tr: Tracked,
): Promise<Report> {
  const report: Report = {};
  const steps = tr.cpu.stepCount;
  const state = await opt.exportState();
  const want = tr.cpu.exportState();
  if (state.step !== want.step) throw new Error(`step count ${state.step} != ${want.step}`);
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    const ref = 'buffer' in e.param ? e.param : { buffer: e.param, offset: 0 };
    const p = await gpu.read(ref.buffer, e.size, ref.offset ?? 0);
    const pw = tr.cpu.params[k]!;
    merge(report, 'param', compareArrays(p, pw, paramTolerance(pw, tr.travel[k]!, steps)));
    const names = new Set([...Object.keys(want.tensors[k]!), ...Object.keys(state.tensors[k]!)]);
    for (const q of names) {
      const w = want.tensors[k]![q];
      const g = state.tensors[k]![q];
      if (!w || !g) throw new Error(`${q}: present on one side only`);
      merge(report, q, compareArrays(g, w, stateTolerance(w, steps)));
    }
  }
  return report;
}

/** Runs every golden case on the GPU and compares with its expected_f32 state. */
export async function golden(cases: GoldenCase[]): Promise<{ name: string; report: Report }[]> {
  return withGpu(async (gpu) => {
    const out = [];
    for (const c of cases) {
      const options = { ...c.options, semantics: c.semantics } as Partial<AdaBeliefOptions>;
      const pBuf = gpu.buffer(new Float32Array(c.param0));
      const gBuf = gpu.buffer(new Float32Array(c.size));
      const opt = gpu.track(
        await AdaBelief.create(gpu.device, [{ param: pBuf, grad: gBuf, size: c.size }], options),
      );
      const travel = new Float64Array(c.size);
      let prev: Float32Array = new Float32Array(c.param0);
      for (const g of c.grads) {
        gpu.device.queue.writeBuffer(gBuf, 0, new Float32Array(g));
        await opt.step();
        // Travel of the expected trajectory is not in the file; measure it on the GPU's own path.
        const now = await gpu.read(pBuf, c.size);
        for (let i = 0; i < c.size; i++) travel[i]! += Math.abs(now[i]! - prev[i]!);
        prev = now;
      }
      const e = c.expected_f32;
      const state = (await opt.exportState()).tensors[0]!;
      const report: Report = {};
      report.param = compareArrays(prev, e.param, paramTolerance(e.param, travel, c.steps));
      report.exp_avg = compareArrays(state.exp_avg, e.exp_avg, stateTolerance(e.exp_avg, c.steps));
      report.exp_avg_var = compareArrays(
        state.exp_avg_var,
        e.exp_avg_var,
        stateTolerance(e.exp_avg_var, c.steps),
      );
      if (e.max_exp_avg_var) {
        if (!state.max_exp_avg_var) throw new Error(`${c.name}: GPU state lacks max_exp_avg_var`);
        const w = e.max_exp_avg_var;
        report.max_exp_avg_var = compareArrays(state.max_exp_avg_var, w, stateTolerance(w, c.steps));
      }
      out.push({ name: c.name, report });
    }
    return out;
  });
}

export interface ParityConfig {
  seed: number;
  sizes: number[];
  steps: number;
  /** Which optimizer (and CPU mirror) to run. Default 'AdaBelief'. */
  optimizer?: OptimizerName;
  /** Options of that optimizer (AdaBeliefOptions for AdaBelief). */
  options: Partial<AdaBeliefOptions> | AnyOptions;
  /** Per-tensor overrides (param groups). */
  overrides?: (GroupOverrides | undefined)[];
  /** Byte offsets of each tensor inside its param and grad buffers (multiples of 256); with `shared`, extra gaps. */
  offsets?: number[];
  /** All tensors in one param buffer and one grad buffer (one window), the last ending at the buffer's end. */
  shared?: boolean;
  /** Changes applied to both optimizers before step t (1-based), e.g. a new lr. */
  changes?: Record<number, Partial<AdaBeliefOptions> | AnyOptions>;
  /** Use encode() instead of step(), recording this many steps (with their grad uploads) per encoder. */
  stepsPerEncoder?: number;
  /** Dispatch tuning passed to the GPU optimizer. */
  maxWorkgroups?: number;
}

export interface ParityResult {
  report: Report;
  /** Parameter values outside every tensor's region that changed (must be 0). */
  neighboursChanged: number;
  elements: number;
}

/** GPU vs CPU f32 on random data: many tensors in one optimizer, several steps, optional offsets. */
export async function parity(cfg: ParityConfig): Promise<ParityResult> {
  return withGpu(async (gpu) => {
    const r = rng(cfg.seed);
    const scale = 10 ** (r.next() * 3 - 3); // gradients from 1e-3 to 1
    const params = cfg.sizes.map((n) => randomArray(r, n, 1));
    const sentinel = 12345.5;
    // Placement: each tensor in its own buffers (`offsets[k]` bytes in, 300 sentinel bytes after), or all
    // in one shared pair of buffers (`offsets[k]` extra bytes of gap before each; the last tensor ends
    // exactly at the buffers' end). Every byte outside the tensors holds a sentinel.
    const placed = cfg.sizes.map((n, k) => ({
      n,
      gap: cfg.offsets?.[k] ?? 0,
      buffer: cfg.shared ? 0 : k,
      offset: 0,
    }));
    const ends: number[] = [];
    for (const p of placed) {
      const start = cfg.shared ? Math.ceil((ends[0] ?? 0) / 256) * 256 : 0;
      p.offset = start + p.gap;
      ends[p.buffer] = p.offset + p.n * 4 + (cfg.shared || !cfg.offsets ? 0 : 300);
    }
    const paramBufs = ends.map((bytes, b) => {
      const fill = new Float32Array(bytes / 4).fill(sentinel) as Float32Array<ArrayBuffer>;
      placed.forEach((p, k) => p.buffer === b && fill.set(params[k]!, p.offset / 4));
      return gpu.buffer(fill, { label: `param${b}` });
    });
    // Non-zero gradients outside the tensors too: a stray full-vec4 write would move the sentinels.
    const gradBufList = ends.map((bytes, b) =>
      gpu.buffer(new Float32Array(bytes / 4).fill(0.5), { label: `grad${b}` }),
    );
    const gradBufs = placed.map((p) => ({ buffer: gradBufList[p.buffer]!, offset: p.offset }));
    const entries: (ParamEntry & { size: number })[] = placed.map((p, k) => ({
      param: { buffer: paramBufs[p.buffer]!, offset: p.offset },
      grad: gradBufs[k]!,
      size: p.n,
      ...cfg.overrides?.[k],
    }));
    const dispatch = cfg.maxWorkgroups ? { maxWorkgroups: cfg.maxWorkgroups } : {};
    const variant = VARIANTS[cfg.optimizer ?? 'AdaBelief'];
    const opt = gpu.track(new variant.gpu(gpu.device, entries, { ...cfg.options, dispatch }));
    await opt.ready;
    const cpuParams = cfg.sizes.map((_, k) => ({ param: params[k]!.slice(), ...cfg.overrides?.[k] }));
    const tr: Tracked = {
      cpu: new variant.cpu(cpuParams, cfg.options as AnyOptions),
      travel: cfg.sizes.map((n) => new Float64Array(n)),
    };

    let encoder: GPUCommandEncoder | undefined;
    for (let t = 1; t <= cfg.steps; t++) {
      const change = cfg.changes?.[t];
      if (change) {
        opt.set(change as AnyOptions);
        tr.cpu.set(change as AnyOptions);
      }
      const grads = cfg.sizes.map((n) => randomArray(r, n, scale));
      if (cfg.stepsPerEncoder) {
        // Grads are uploaded inside the encoder too, so each recorded step sees its own.
        encoder ??= gpu.device.createCommandEncoder({ label: 'test-encode' });
        grads.forEach((g, k) => {
          const staged = gpu.buffer(g, { usage: 0x4 /* COPY_SRC */ });
          encoder!.copyBufferToBuffer(staged, 0, gradBufs[k]!.buffer, gradBufs[k]!.offset, g.byteLength);
        });
        opt.encode(encoder);
        if (t % cfg.stepsPerEncoder === 0 || t === cfg.steps) {
          gpu.device.queue.submit([encoder.finish()]);
          encoder = undefined;
        }
      } else {
        grads.forEach((g, k) => gpu.device.queue.writeBuffer(gradBufs[k]!.buffer, gradBufs[k]!.offset, g));
        await opt.step();
      }
      cpuStep(tr, grads);
    }
    const report = await compareWithCpu(gpu, opt, entries, tr);

    let neighboursChanged = 0;
    for (const [b, buffer] of paramBufs.entries()) {
      const all = await gpu.read(buffer, buffer.size / 4);
      const inside = new Uint8Array(all.length);
      placed.forEach((p) => p.buffer === b && inside.fill(1, p.offset / 4, p.offset / 4 + p.n));
      all.forEach((v, i) => {
        if (!inside[i] && v !== sentinel) neighboursChanged++;
      });
    }
    return { report, neighboursChanged, elements: cfg.sizes.reduce((a, b) => a + b, 0) };
  });
}

/**
 * Runs `steps` steps uninterrupted, and the same run split at `splitAt` with exportState → importState
 * into a fresh optimizer (on fresh state buffers). Returns the largest difference of params and state.
 */
export async function exportImport(cfg: {
  seed: number;
  sizes: number[];
  steps: number;
  splitAt: number;
  options: Partial<AdaBeliefOptions>;
  /** Pass the state through a safetensors checkpoint (saveCheckpoint → bytes → loadCheckpoint). */
  viaCheckpoint?: boolean;
}): Promise<{ maxDiff: number; step: number; cpuMaxDiff: number; checkpointBytes: number }> {
  return withGpu(async (gpu) => {
    const r = rng(cfg.seed);
    const p0 = cfg.sizes.map((n) => randomArray(r, n, 1));
    const grads = Array.from({ length: cfg.steps }, () => cfg.sizes.map((n) => randomArray(r, n, 0.1)));
    const makeRun = async () => {
      const entries = cfg.sizes.map((n, k) => ({
        param: gpu.buffer(p0[k]!),
        grad: gpu.buffer(new Float32Array(n)),
        size: n,
      }));
      const opt = gpu.track(await AdaBelief.create(gpu.device, entries, cfg.options));
      return { entries, opt };
    };
    const doStep = async (run: Awaited<ReturnType<typeof makeRun>>, t: number) => {
      run.entries.forEach((e, k) => gpu.device.queue.writeBuffer(e.grad, 0, grads[t]![k]!));
      await run.opt.step();
    };

    const a = await makeRun();
    for (let t = 0; t < cfg.steps; t++) await doStep(a, t);

    const b1 = await makeRun();
    for (let t = 0; t < cfg.splitAt; t++) await doStep(b1, t);
    const exported = await b1.opt.exportState();
    const file = cfg.viaCheckpoint ? saveCheckpoint(exported) : undefined;
    const saved = file
      ? loadCheckpoint(file, { sizes: cfg.sizes, amsgrad: !!cfg.options.amsgrad })
      : exported;
    const b2 = {
      entries: b1.entries,
      opt: gpu.track(await AdaBelief.create(gpu.device, b1.entries, cfg.options)),
    };
    b2.opt.importState(saved);
    b1.opt.destroy();
    for (let t = cfg.splitAt; t < cfg.steps; t++) await doStep(b2, t);

    let maxDiff = 0;
    const diff = (x: Float32Array, y: Float32Array) =>
      x.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - y[i]!))));
    const sa = await a.opt.exportState();
    const sb = await b2.opt.exportState();
    for (let k = 0; k < cfg.sizes.length; k++) {
      diff(
        await gpu.read(a.entries[k]!.param, cfg.sizes[k]!),
        await gpu.read(b2.entries[k]!.param, cfg.sizes[k]!),
      );
      for (const q of ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const) {
        if (sa.tensors[k]![q]) diff(sa.tensors[k]![q]!, sb.tensors[k]![q]!);
      }
    }

    // The CPU reference takes the GPU's exported state too, and continues identically to its own run.
    const cpuA = new AdaBeliefCPU(
      p0.map((p) => p.slice()),
      cfg.options,
    );
    grads.forEach((g) => cpuA.step(g));
    const cpuB = new AdaBeliefCPU(
      p0.map((p) => p.slice()),
      cfg.options,
    );
    grads.slice(0, cfg.splitAt).forEach((g) => cpuB.step(g));
    const cpuC = new AdaBeliefCPU(
      cpuB.params.map((p) => p.slice()),
      cfg.options,
    );
    cpuC.importState(cpuB.exportState());
    grads.slice(cfg.splitAt).forEach((g) => cpuC.step(g));
    let cpuMaxDiff = 0;
    cpuA.params.forEach((p, k) =>
      p.forEach((v, i) => (cpuMaxDiff = Math.max(cpuMaxDiff, Math.abs(v - cpuC.params[k]![i]!)))),
    );
    return { maxDiff, step: sb.step, cpuMaxDiff, checkpointBytes: file?.byteLength ?? 0 };
  });
}
