/**
 * In-page scenarios of the lower-precision modes (f16 params / grads, bf16 state, f32 master weights),
 * called from test/gpu/lowp.test.ts: the GPU optimizer against its CPU mirror (ReferenceCPU with the same
 * options), bytes outside the tensors, export / import, checkpoints. Returns plain numbers; Node asserts.
 */
import {
  AdaBelief,
  AdaBeliefCPU,
  Adam,
  AdamCPU,
  SGD,
  SGDCPU,
  fromF16Array,
  loadCheckpoint,
  saveCheckpoint,
  toF16Array,
  type FusedOptimizer,
  type MasterWeightsState,
  type ParamDtype,
  type ParamEntry,
  type ReferenceCPU,
} from '../../../src/internal.js';
import { ulpBf16, ulpF16 } from '../../../src/core/precision.js';
import { compareArrays, ulpF32 } from '../../helpers/compare.js';
import {
  bf16StateParamTerm,
  finiteMeanAbs,
  paramTolerance,
  stateTolerance,
} from '../../helpers/tolerance.js';
import { randomArray, rng, withGpu, type Gpu } from './harness.js';

type AnyOptions = Record<string, unknown>;
const VARIANTS = {
  AdaBelief: { gpu: AdaBelief, cpu: AdaBeliefCPU },
  Adam: { gpu: Adam, cpu: AdamCPU },
  SGD: { gpu: SGD, cpu: SGDCPU },
} as unknown as Record<
  string,
  {
    gpu: new (d: GPUDevice, e: ParamEntry[], o: AnyOptions) => FusedOptimizer<object>;
    cpu: new (
      p: { param: Float32Array; dtype: ParamDtype }[],
      o: AnyOptions,
    ) => ReferenceCPU<Float32Array, object>;
  }
>;

/** One compared quantity: the error in ulps of the precision it is stored in, and against its tolerance. */
export interface LowpStats {
  /** 'f32', 'f16' or 'bf16': the stored precision the ulps are counted in. */
  stored: string;
  maxAbs: number;
  maxUlp: number;
  /** Largest |gpu − cpu| / tolerance (passes when ≤ 1). */
  worst: number;
  nanMismatch: number;
  /** Elements no tolerance may pass (compare.ts ErrorStats.invalid; `worst` is then Infinity, null past JSON). */
  invalid: number;
}

export interface LowpConfig {
  seed: number;
  sizes: number[];
  dtypes: ParamDtype[];
  steps: number;
  optimizer?: 'AdaBelief' | 'Adam' | 'SGD';
  /** Hyperparameters of the optimizer (both sides). */
  options?: AnyOptions;
  stateDtype?: 'f32' | 'bf16';
  masterWeights?: boolean;
  /** All tensors in one param and one grad buffer, 256-byte aligned, `gaps[k]` × 256 extra bytes before each. */
  shared?: boolean;
  gaps?: number[];
  /** Guard options: clipping by global norm (the CPU takes the GPU's norm, as in test/gpu/scenarios/guard.ts). */
  maxGradNorm?: number;
  /** A step (1-based) whose first gradient element is +inf: skipped under the guard. */
  infAt?: number;
  /** Initial values of tensor 0 (instead of random ones), e.g. f16's special values. */
  initial?: number[];
  /** Gradients' standard deviation (default: random per step, 0.01 to 1). */
  gradScale?: number;
  /** Export at this step, import into a fresh optimizer (and, with `viaCheckpoint`, through a safetensors file). */
  splitAt?: number;
  viaCheckpoint?: boolean;
  /**
   * The run is expected to end with ±inf / NaN values (f16 overflow): compared with `nonFinite: 'expected'`, so a
   * non-finite reference value passes where the GPU holds the same one (without it, any fails: compare.ts).
   */
  expectNonFinite?: boolean;
}

export interface LowpResult {
  report: Record<string, LowpStats>;
  /** Bytes of the param buffers outside every tensor that changed (must be 0). */
  bytesChanged: number;
  stepsCompared: number;
  /** The GPU's step count at the end (a skipped step does not count). */
  step: number;
  /** GPU param elements whose value changed over the run (the run did move them). */
  moved: number;
  /** GPU param elements that ended ±inf or NaN. */
  nonFinite: number;
  /** Elements whose f32 master copy differs from their f16 param (> 0: the copy holds more than f16). */
  masterFiner: number;
}

const SENTINEL_BYTE = 0x5a;
const GRAD_FILL_BYTE = 0x3c; // 0x3c3c: 1.06 as f16, 0.0115 as f32: a stray update would move a sentinel

function merge(into: Record<string, LowpStats>, q: string, s: LowpStats): void {
  const cur = into[q];
  if (!cur) into[q] = { ...s };
  else {
    cur.maxAbs = Math.max(cur.maxAbs, s.maxAbs);
    cur.maxUlp = Math.max(cur.maxUlp, s.maxUlp);
    cur.worst = Math.max(cur.worst, s.worst);
    cur.nanMismatch += s.nanMismatch;
    cur.invalid += s.invalid;
  }
}

/** Compares with a tolerance per element; ulps counted in the stored precision `ulp`. */
function compare(
  stored: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  ulp: (x: number) => number,
  tol: (i: number) => number,
  expectNonFinite = false,
): LowpStats {
  const { maxAbs, maxUlp, worst, nanMismatch, invalid } = compareArrays(got, want, tol, {
    ulp,
    ...(expectNonFinite ? { nonFinite: 'expected' as const } : {}),
  });
  return { stored, maxAbs, maxUlp, worst, nanMismatch, invalid };
}

/**
 * The tolerance of a value stored in a lower precision after `steps` steps: the f32 budget `f32Tol` (the
 * kernel's own f32 rounding, test/helpers/tolerance.ts) plus, per step, one ulp of the stored precision: when the
 * GPU's and the CPU's f32 results differ, rounding them to f16 / bf16 may pick neighbouring values, and that
 * difference is carried into later steps. `unit`·mean|want| covers values that shrank since (a moment
 * crossing zero), as the f32 budget's mean term does.
 */
function storedTolerance(
  want: ArrayLike<number>,
  steps: number,
  ulp: (x: number) => number,
  unit: number,
  f32Tol: (i: number) => number,
): (i: number) => number {
  const mean = finiteMeanAbs(want); // (finite values only: see tolerance.ts)
  return (i) => f32Tol(i) + steps * (ulp(want[i]!) + unit * mean);
}

interface Placed {
  n: number;
  dtype: ParamDtype;
  buffer: number;
  offset: number;
  bytes: number;
}

/** Places tensors (each in its own buffers, or all in one pair) and returns the buffers' byte sizes. */
function place(cfg: LowpConfig): { placed: Placed[]; bufferBytes: number[] } {
  const bufferBytes: number[] = [];
  const placed = cfg.sizes.map((n, k) => {
    const dtype = cfg.dtypes[k]!;
    const bytes = n * (dtype === 'f16' ? 2 : 4);
    const buffer = cfg.shared ? 0 : k;
    const start = Math.ceil((bufferBytes[buffer] ?? 0) / 256) * 256 + 256 * (cfg.gaps?.[k] ?? 0);
    bufferBytes[buffer] = start + bytes;
    return { n, dtype, buffer, offset: start, bytes };
  });
  // Buffers end right after their last tensor (rounded up to whole 4-byte words).
  return { placed, bufferBytes: bufferBytes.map((b) => Math.ceil(b / 4) * 4) };
}

/** The bytes of `values` as a param / grad of `dtype`, padded to whole 4-byte words. */
function encode(values: Float32Array, dtype: ParamDtype): Uint8Array<ArrayBuffer> {
  const raw = dtype === 'f16' ? toF16Array(values) : values;
  const out = new Uint8Array(Math.ceil(raw.byteLength / 4) * 4);
  out.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  return out;
}

async function readBytes(gpu: Gpu, buffer: GPUBuffer): Promise<Uint8Array> {
  return new Uint8Array((await gpu.read(buffer, buffer.size / 4)).buffer);
}

/** The values of a tensor in the bytes of its buffer. */
function decode(bytes: Uint8Array, p: Placed): Float32Array {
  const slice = bytes.slice(p.offset, p.offset + p.bytes);
  return p.dtype === 'f16' ? fromF16Array(new Uint16Array(slice.buffer)) : new Float32Array(slice.buffer);
}

/** GPU vs CPU mirror in a lower-precision mode, with bytes outside the tensors checked. */
export async function lowpParity(cfg: LowpConfig): Promise<LowpResult> {
  return withGpu(async (gpu) => {
    const r = rng(cfg.seed);
    const variant = VARIANTS[cfg.optimizer ?? 'AdaBelief']!;
    const precision = {
      ...(cfg.stateDtype ? { stateDtype: cfg.stateDtype } : {}),
      ...(cfg.masterWeights !== undefined ? { masterWeights: cfg.masterWeights } : {}),
    };
    const options = { ...cfg.options, ...precision };
    const guard = cfg.maxGradNorm !== undefined || cfg.infAt !== undefined;
    const gpuOptions = {
      ...options,
      ...(cfg.maxGradNorm !== undefined ? { maxGradNorm: cfg.maxGradNorm } : {}),
      ...(cfg.infAt !== undefined ? { skipNonFinite: true } : {}),
    };
    const { placed, bufferBytes } = place(cfg);
    const params0 = cfg.sizes.map((n) => randomArray(r, n, 1));
    if (cfg.initial) params0[0] = Float32Array.from(cfg.initial);
    const usage = 0x80 | 0x4 | 0x8;
    const makeBuffer = (bytes: number, fill: number, label: string) => {
      const b = gpu.track(gpu.device.createBuffer({ label, size: bytes, usage, mappedAtCreation: true }));
      new Uint8Array(b.getMappedRange()).fill(fill);
      b.unmap();
      return b;
    };
    const paramBufs = bufferBytes.map((b, k) => makeBuffer(b, SENTINEL_BYTE, `lowp-param${k}`));
    const gradBufs = bufferBytes.map((b, k) => makeBuffer(b, GRAD_FILL_BYTE, `lowp-grad${k}`));
    placed.forEach((p, k) => {
      const data = encode(params0[k]!, p.dtype);
      gpu.device.queue.writeBuffer(paramBufs[p.buffer]!, p.offset, data, 0, Math.ceil(p.bytes / 4) * 4);
    });
    const before = await Promise.all(paramBufs.map((b) => readBytes(gpu, b)));
    const entries: ParamEntry[] = placed.map((p) => ({
      param: { buffer: paramBufs[p.buffer]!, offset: p.offset },
      grad: { buffer: gradBufs[p.buffer]!, offset: p.offset },
      size: p.n,
      dtype: p.dtype,
    }));
    const make = async () => {
      const opt = gpu.track(new variant.gpu(gpu.device, entries, gpuOptions));
      await opt.ready;
      return opt;
    };
    let opt = await make();
    const cpu = new variant.cpu(
      params0.map((p, k) => ({ param: p.slice(), dtype: placed[k]!.dtype })),
      options,
    );
    // How far the CPU moved each value the update runs on (the master copy where there is one).
    const travel = cfg.sizes.map((n) => new Float64Array(n));
    const updated = () => {
      const masters = (cpu.exportState() as MasterWeightsState).masterParams;
      return cpu.params.map((p, k) => masters?.[k] ?? p);
    };
    let last = updated().map((a) => a.slice());

    for (let t = 1; t <= cfg.steps; t++) {
      const grads = cfg.sizes.map((n) => randomArray(r, n, cfg.gradScale ?? 10 ** (r.next() * 2 - 2)));
      if (t === cfg.infAt) grads[0]![0] = Infinity;
      placed.forEach((p, k) => {
        const data = encode(grads[k]!, p.dtype);
        gpu.device.queue.writeBuffer(gradBufs[p.buffer]!, p.offset, data, 0, Math.ceil(p.bytes / 4) * 4);
      });
      await opt.step();
      if (guard) {
        const report = await opt.lastStepReport();
        cpu.step(grads, { maxGradNorm: cfg.maxGradNorm, skipNonFinite: true, gradNorm: report.gradNorm });
      } else {
        cpu.step(grads);
      }
      const now = updated();
      now.forEach((a, k) => a.forEach((v, i) => (travel[k]![i]! += Math.abs(v - last[k]![i]!))));
      last = now.map((a) => a.slice());
      if (t === cfg.splitAt) {
        const exported = await opt.exportState();
        const state = cfg.viaCheckpoint
          ? {
              ...loadCheckpoint(saveCheckpoint(exported), {
                sizes: cfg.sizes,
                amsgrad: !!cfg.options?.amsgrad,
              }),
            }
          : exported;
        opt.destroy();
        opt = await make();
        opt.importState(state);
        // The CPU goes through the same import (a checkpoint carries no master copies: both re-take them).
        cpu.importState(
          cfg.viaCheckpoint ? { ...cpu.exportState(), masterParams: undefined } : cpu.exportState(),
        );
      }
    }

    const report: Record<string, LowpStats> = {};
    const cmp = (
      stored: string,
      got: ArrayLike<number>,
      wanted: ArrayLike<number>,
      ulp: (x: number) => number,
      tol: (i: number) => number,
    ) => compare(stored, got, wanted, ulp, tol, !!cfg.expectNonFinite);
    const steps = cfg.steps;
    const bf16 = cfg.stateDtype === 'bf16';
    const state = await opt.exportState();
    const want = cpu.exportState() as ReturnType<typeof cpu.exportState> & MasterWeightsState;
    if (state.step !== want.step) throw new Error(`step count ${state.step} != ${want.step}`);
    const after = await Promise.all(paramBufs.map((b) => readBytes(gpu, b)));
    placed.forEach((p, k) => {
      const w = cpu.params[k]!;
      // With bf16 state, the moments' rounding to bf16 may differ by an ulp from the CPU's (see bf16StateParamTerm).
      const base = paramTolerance(w, travel[k]!, steps);
      const stateTerm = bf16 ? bf16StateParamTerm(travel[k]!, steps) : () => 0;
      const f32Tol = (i: number) => base(i) + stateTerm(i);
      const param =
        p.dtype === 'f16'
          ? cmp(
              'f16',
              decode(after[p.buffer]!, p),
              w,
              ulpF16,
              storedTolerance(w, steps, ulpF16, 2 ** -10, f32Tol),
            )
          : cmp('f32', decode(after[p.buffer]!, p), w, ulpF32, f32Tol);
      merge(report, `param (${p.dtype})`, param);
      for (const [name, wv] of Object.entries(want.tensors[k]!)) {
        const gv = state.tensors[k]![name];
        if (!gv) throw new Error(`${name}: missing from the GPU's exported state`);
        const tol = stateTolerance(wv, steps);
        merge(
          report,
          name,
          bf16
            ? cmp('bf16', gv, wv, ulpBf16, storedTolerance(wv, steps, ulpBf16, 2 ** -7, tol))
            : cmp('f32', gv, wv, ulpF32, tol),
        );
      }
      const wm = want.masterParams?.[k];
      const gm = state.masterParams?.[k];
      if (!!wm !== !!gm) throw new Error(`masterParams[${k}]: present on one side only`);
      if (wm && gm) merge(report, 'master', cmp('f32', gm, wm, ulpF32, f32Tol));
    });
    let moved = 0;
    let nonFinite = 0;
    let masterFiner = 0;
    placed.forEach((p, k) => {
      const now = decode(after[p.buffer]!, p);
      const start = decode(before[p.buffer]!, p);
      now.forEach((v, i) => {
        if (!Object.is(v, start[i])) moved++;
        if (!Number.isFinite(v)) nonFinite++;
      });
      state.masterParams?.[k]?.forEach((v, i) => v !== now[i] && masterFiner++);
    });
    let bytesChanged = 0;
    after.forEach((bytes, b) => {
      const inside = new Uint8Array(bytes.length);
      placed.forEach((p) => p.buffer === b && inside.fill(1, p.offset, p.offset + p.bytes));
      bytes.forEach((v, i) => {
        if (!inside[i] && v !== before[b]![i]) bytesChanged++;
      });
    });
    return { report, bytesChanged, stepsCompared: steps, step: state.step, moved, nonFinite, masterFiner };
  });
}

/** The bytes of state an optimizer allocates in a mode (from its labelled buffers, for the docs' table). */
export async function stateBytes(cfg: {
  size: number;
  dtype: ParamDtype;
  options: AnyOptions;
}): Promise<number> {
  return withGpu(async (gpu) => {
    const bytes = cfg.size * (cfg.dtype === 'f16' ? 2 : 4);
    const created: GPUBuffer[] = [];
    const device = gpu.device;
    const original = device.createBuffer.bind(device);
    const p = gpu.buffer(new Float32Array(Math.ceil(bytes / 4)));
    const g = gpu.buffer(new Float32Array(Math.ceil(bytes / 4)));
    device.createBuffer = (d: GPUBufferDescriptor) => {
      const b = original(d);
      created.push(b);
      return b;
    };
    try {
      const opt = gpu.track(
        new AdaBelief(device, [{ param: p, grad: g, size: cfg.size, dtype: cfg.dtype }], cfg.options),
      );
      await opt.ready;
    } finally {
      device.createBuffer = original;
    }
    return created
      .filter((b) => /\/(state|exp_avg|exp_avg_var|max_exp_avg_var)#/.test(b.label))
      .reduce((a, b) => a + b.size, 0);
  });
}

/**
 * Wall time of one step per mode on this page's adapter (median of `reps` runs of `steps` queued steps,
 * after one warm-up run), for docs/lowp.md. Not a test: the benchmark proper is `npm start`.
 */
export async function timeModes(cfg: {
  size: number;
  steps: number;
  reps: number;
}): Promise<{ label: string; ms: number; bytesPerElement: number }[]> {
  const modes: { label: string; dtype: ParamDtype; options: AnyOptions; bytesPerElement: number }[] = [
    // Bytes the kernel reads and writes per element: p, g, m, s in; p, m, s out (master: p only out, + 8 B).
    { label: 'f32 params, f32 state (main)', dtype: 'f32', options: {}, bytesPerElement: 28 },
    {
      label: 'f32 params, bf16 state (packed)',
      dtype: 'f32',
      options: { stateDtype: 'bf16' },
      bytesPerElement: 20,
    },
    { label: 'f16 params + master, f32 state', dtype: 'f16', options: {}, bytesPerElement: 28 },
    {
      label: 'f16 params + master, bf16 state',
      dtype: 'f16',
      options: { stateDtype: 'bf16' },
      bytesPerElement: 20,
    },
    {
      label: 'f16 params, no master, bf16 state',
      dtype: 'f16',
      options: { stateDtype: 'bf16', masterWeights: false },
      bytesPerElement: 14,
    },
  ];
  return withGpu(async (gpu) => {
    const out = [];
    for (const m of modes) {
      const words = Math.ceil((cfg.size * (m.dtype === 'f16' ? 2 : 4)) / 4);
      const p = gpu.buffer(new Float32Array(words).fill(0.5));
      const g = gpu.buffer(new Float32Array(words).fill(0.25));
      const opt = gpu.track(
        new AdaBelief(gpu.device, [{ param: p, grad: g, size: cfg.size, dtype: m.dtype }], {
          ...m.options,
          rectify: false,
        }),
      );
      await opt.ready;
      const times: number[] = [];
      for (let r = 0; r <= cfg.reps; r++) {
        await gpu.device.queue.onSubmittedWorkDone();
        const t0 = performance.now();
        for (let s = 0; s < cfg.steps; s++) void opt.step();
        await gpu.device.queue.onSubmittedWorkDone();
        if (r > 0) times.push((performance.now() - t0) / cfg.steps);
      }
      times.sort((a, b) => a - b);
      out.push({
        label: m.label,
        ms: times[Math.floor(times.length / 2)]!,
        bytesPerElement: m.bytesPerElement,
      });
      opt.destroy();
      p.destroy();
      g.destroy();
    }
    return out;
  });
}
