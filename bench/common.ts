/**
 * What the Node side (bench/run.ts, bench/cpu.ts, bench/report.ts) and the page (bench/page.ts) agree on:
 * the variants, the implementations and how many bytes one step moves. Pure data, no GPU, no DOM.
 */
import type { AdaBeliefOptions } from '../src/core/options.js';

/** Optimizer variants: the defaults (adabelief-pytorch 0.2.1: rectify on), AMSGrad, rectify off. */
export const VARIANTS = {
  default: {},
  amsgrad: { amsgrad: true },
  norectify: { rectify: false },
} satisfies Record<string, Partial<AdaBeliefOptions>>;
export type Variant = keyof typeof VARIANTS;

export const IMPLS = [
  'fused',
  'copy',
  'tfjs-adam',
  'tfjs-adabelief',
  'wasm-N',
  'wasm-1',
  'cpu-fast',
  'cpu-ref',
  'cpu-copy-N',
  'cpu-copy',
] as const;
export type Impl = (typeof IMPLS)[number];

export const IMPL_LABELS: Record<Impl, string> = {
  fused: 'fused AdaBelief (WGSL)',
  copy: 'copy kernel (roofline)',
  'tfjs-adam': 'TF.js tf.train.adam',
  'tfjs-adabelief': 'TF.js ops AdaBelief',
  'wasm-N': 'CPU WASM SIMD, N threads',
  'wasm-1': 'CPU WASM SIMD, 1 thread',
  'cpu-fast': 'CPU AdaBeliefFastCPU',
  'cpu-ref': 'CPU AdaBeliefCPU (f32 ref)',
  'cpu-copy-N': 'CPU WASM copy, N threads',
  'cpu-copy': 'CPU Float32Array copy',
};

/** The rows of bench/cpu-wasm.ts (measureWasm: workers, asynchronous); the plan has them with `wasm: true`. */
export const WASM_IMPLS = ['wasm-N', 'wasm-1', 'cpu-copy-N'] as const satisfies readonly Impl[];
export type WasmImpl = (typeof WASM_IMPLS)[number];
export const isWasm = (impl: Impl): impl is WasmImpl => (WASM_IMPLS as readonly Impl[]).includes(impl);

/** The optimizers that run on N threads (their copy roofline: 'cpu-copy-N'); the others' is the one-thread loop. */
export const ON_N_THREADS: readonly Impl[] = ['wasm-N', 'cpu-copy-N'];

/** The CPU optimizers the fastest CPU is picked from (the f32 reference is never it). */
export const FAST_CPU: readonly Impl[] = ['wasm-N', 'wasm-1', 'cpu-fast'];

/** An implementation's label with its thread count in place of N (IMPL_LABELS when `threads` is unknown). */
export function implLabel(impl: Impl, threads?: number | null): string {
  return threads && ON_N_THREADS.includes(impl)
    ? IMPL_LABELS[impl].replace(/\bN threads\b/, `${threads} thread${threads === 1 ? '' : 's'}`)
    : IMPL_LABELS[impl];
}

/** Runs on the WebGPU adapter (true) or on the CPU in Node (false). */
export const ON_GPU: Record<Impl, boolean> = {
  fused: true,
  copy: true,
  'tfjs-adam': true,
  'tfjs-adabelief': true,
  'wasm-N': false,
  'wasm-1': false,
  'cpu-fast': false,
  'cpu-ref': false,
  'cpu-copy-N': false,
  'cpu-copy': false,
};

/**
 * The CPU optimizers of the plan, each measured per variant (bench/cpu.ts CPU_STEPPERS makes their steps, bench/
 * cpu-wasm.ts measureWasm the WASM ones).
 */
export const CPU_OPTIMIZERS: Impl[] = ['wasm-N', 'wasm-1', 'cpu-fast', 'cpu-ref'];

/**
 * Bytes per element one step must move at least: read p, g, m, s and write p, m, s (28 B in f32), plus read
 * and write smax with AMSGrad (36 B). The copy kernel (bench/copy.wgsl `copy_mode` over bench/modes.ts
 * variantTraffic) moves exactly this; Adam's minimum is the same 28 B (p, g, m, v); TF.js moves more (every op
 * round-trips memory) but is credited with the minimum.
 */
export function bytesPerElement(impl: Impl, variant: Variant): number {
  if (impl === 'tfjs-adam') return 28;
  return variant === 'amsgrad' ? 36 : 28;
}

/** How long one timed repetition should run, how many there are, and the warm-up. */
export interface Repetitions {
  /** Timed repetitions; the figure is their median. */
  reps: number;
  /** Steps per repetition; 0 = calibrate so that one repetition lasts about `minRepMs`. */
  stepsPerRep: number;
  minRepMs: number;
  maxStepsPerRep: number;
  /** Untimed steps first (JIT, pipeline compilation, caches; also past the rectified SGD phase). */
  warmupSteps: number;
}

export interface MeasureSpec extends Repetitions {
  impl: Impl;
  size: number;
  variant: Variant;
}

/** One thing to measure, and the variants whose tables it appears in (a 28-byte copy serves two). */
export interface Part {
  spec: MeasureSpec;
  variants: Variant[];
}

/** What one call measures: the GPU kernels of one size together (interleaved), anything else alone. */
export type Task = Part[];

/** What to measure: the sizes and variants, the repetitions, and whether TF.js and the CPU take part. */
export interface PlanConfig {
  sizes: number[];
  variants: Variant[];
  rep: Repetitions;
  tfjs: boolean;
  cpu: boolean;
  /**
   * With `cpu`: the WebAssembly rows too (WASM_IMPLS; Node's worker_threads, so npm start only — the demo page
   * leaves them out), at `wasmSizes` (default: every size; `--quick`: fewer).
   */
  wasm?: boolean;
  wasmSizes?: number[];
}

/** The calls of a run, in order (npm start and the benchmark page). */
export function plan(cfg: PlanConfig): Task[] {
  const tasks: Task[] = [];
  const byBytes = (impl: Impl) => {
    const groups = new Map<number, Variant[]>();
    for (const v of cfg.variants)
      groups.set(bytesPerElement(impl, v), [...(groups.get(bytesPerElement(impl, v)) ?? []), v]);
    return [...groups.values()];
  };
  for (const size of cfg.sizes) {
    const part = (impl: Impl, variants: Variant[]): Part => ({
      spec: { impl, size, variant: variants[0]!, ...cfg.rep },
      variants,
    });
    tasks.push([
      ...cfg.variants.map((v) => part('fused', [v])),
      ...byBytes('copy').map((vs) => part('copy', vs)),
    ]);
    if (cfg.tfjs) {
      tasks.push([part('tfjs-adam', cfg.variants)]);
      for (const v of cfg.variants) tasks.push([part('tfjs-adabelief', [v])]);
    }
    if (cfg.cpu) {
      const wasm = cfg.wasm === true && (cfg.wasmSizes ?? cfg.sizes).includes(size);
      for (const impl of CPU_OPTIMIZERS.filter((i) => wasm || !isWasm(i)))
        for (const v of cfg.variants) tasks.push([part(impl, [v])]);
      if (wasm) for (const vs of byBytes('cpu-copy-N')) tasks.push([part('cpu-copy-N', vs)]);
      for (const vs of byBytes('cpu-copy')) tasks.push([part('cpu-copy', vs)]);
    }
  }
  return tasks;
}

export interface Samples {
  stepsPerRep: number;
  /** Timed repetitions (see `repsFor`). */
  reps: number;
  /** Wall time per step of each repetition (ms): K steps queued, then waited for, divided by K. */
  wallMs: number[];
  /** GPU time per step from timestamp-query (ms), median of each repetition's steps; absent without it. */
  gpuMs?: number[];
  /** Anything the reader should know about this measurement (e.g. tensors leaked). */
  note?: string;
  /** CPU rows: the threads that ran the step (1, or N for 'wasm-N' and 'cpu-copy-N'). */
  threads?: number;
}

/** Steps per repetition for a step that takes `stepMs`. */
export function stepsFor(r: Repetitions, stepMs: number): number {
  if (r.stepsPerRep > 0) return r.stepsPerRep;
  return Math.max(1, Math.min(r.maxStepsPerRep, Math.ceil(r.minRepMs / Math.max(stepMs, 1e-3))));
}

/** Repetitions for a step that takes `stepMs`: at most 3 once one step takes over a second (2^24 on a CPU). */
export function repsFor(r: Repetitions, stepMs: number): number {
  return r.stepsPerRep === 0 && stepMs > 1000 ? Math.min(r.reps, 3) : r.reps;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
}

/** The whole-model case: a list of shapes in a ParamArena against one flat tensor of the same element count. */
export interface ModelSpec extends Repetitions {
  /** Name of the model (for labels), and its tensors in `model.parameters()` order. */
  model: string;
  shapes: { name: string; shape: number[] }[];
  /** Host-cost runs: `hostBatches` batches of `hostBatchSize` `step()` calls each, per optimizer. */
  hostBatches: number;
  hostBatchSize: number;
}

/** What the page measured for the whole-model case (bench/page.ts `measureModel`). */
export interface ModelSamples {
  model: string;
  tensors: number;
  elements: number;
  /** The arena's param and grad buffers (one of each per binding-sized group of tensors). */
  arenaBuffers: { param: number; grad: number };
  /** Compute dispatches per `step()` (the optimizer's private `dispatches` list); null when unreadable. */
  dispatches: { model: number | null; flat: number | null };
  /** Step time, timed as the fused kernel is (bench/page.ts `measureGpu`), interleaved model/flat. */
  modelSamples: Samples;
  flatSamples: Samples;
  host: {
    /** How the per-call figures below were taken (batching, whether the GPU work was elided). */
    method: string;
    /** Whether `model` / `flat` hold one figure per call (a fine timer), or one per batch (its time / its calls). */
    perCall: boolean;
    batchSize: number;
    /** JS time of each `step()` call (ms), or of each batch divided by its calls (see `perCall`). */
    model: number[];
    flat: number[];
    /** The same for an encoder + empty compute pass + submit: the floor of any WebGPU step's host cost. */
    emptyStep: number[];
    /** JS time of every `step()` call of the timed wall repetitions (real GPU work), one per call (ms). */
    timedModel: number[];
    timedFlat: number[];
  };
  /** Smallest nonzero step of performance.now() seen in the page, and whether the page is cross-origin isolated. */
  timerResolutionMs: number;
  crossOriginIsolated: boolean;
  /** Time to build and fill both cases (ms). */
  setupMs: number;
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
