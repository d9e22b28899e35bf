/**
 * The benchmark's results: derived figures (bandwidth, ratios, targets), the report object the JSON holds
 * (`buildReport`) and the terminal's tables (`textTable`). Pure functions of the measurements; bench/render.ts
 * draws a report in a page.
 */
import {
  FAST_CPU,
  IMPL_LABELS,
  ON_GPU,
  ON_N_THREADS,
  bytesPerElement,
  implLabel,
  mean,
  median,
  type Impl,
  type ModelSamples,
  type Samples,
  type Variant,
} from './common.js';
import { MODES, MODE_DEFS, modeBytes, type Mode } from './modes.js';
import type { AdapterReport } from './page.js';

export interface Measurement extends Samples {
  impl: Impl;
  variant: Variant;
  size: number;
}

export interface Row {
  variant: Variant;
  size: number;
  impl: Impl;
  bytesPerElement: number;
  /** Median wall time per step (ms): what a caller waits for. */
  wallMs: number;
  /** Median GPU time per step from timestamp-query (ms), GPU rows on adapters that have it. */
  gpuMs: number | null;
  /** How `ms` (the figure behind the bandwidth) was measured. */
  method: 'timestamp-query' | 'wall (queued steps)' | 'wall (CPU, Node)';
  ms: number;
  elementsPerSecond: number;
  effectiveGBps: number;
  /** CPU rows: the threads that ran the step (1, or N for 'wasm-N' and 'cpu-copy-N'); null on the GPU. */
  threads: number | null;
  /**
   * Effective bandwidth / that of the copy of the same bytes on the same side: the GPU copy kernel; for CPU rows
   * on N threads the WASM copy on the same N threads, for one-thread CPU rows the Float32Array copy loop.
   */
  vsCopy: number | null;
  /**
   * Speedups of this row (wall time) against the fastest CPU optimizer of its size and variant (FAST_CPU: the
   * least wall time of WASM on N threads, on one, and AdaBeliefFastCPU), TF.js Adam and TF.js-ops AdaBelief.
   */
  vsCpu: number | null;
  vsTfjsAdam: number | null;
  vsTfjsAdabelief: number | null;
  stepsPerRep: number;
  reps: number;
  note?: string;
}

export interface Target {
  name: string;
  want: string;
  measured: number | null;
  met: boolean | null;
  detail: string;
  /** Decimals of `measured` in the text and HTML reports (default 2). */
  digits?: number;
}

/** The whole-model case, summarised (bench/page.ts `measureModel`; raw figures in `samples`). */
export interface ModelSummary {
  model: string;
  tensors: number;
  elements: number;
  arenaBuffers: { param: number; grad: number };
  dispatches: { model: number | null; flat: number | null };
  /** How `modelMs` / `flatMs` were measured: GPU time where the adapter has timestamp-query, else wall. */
  method: 'timestamp-query' | 'wall (queued steps)';
  modelMs: number;
  flatMs: number;
  modelWallMs: number;
  flatWallMs: number;
  modelGpuMs: number | null;
  flatGpuMs: number | null;
  /** flatMs / modelMs (>= 1: the model is no slower than one flat tensor of the same size). */
  modelVsFlat: number;
  /** The same ratio of the wall times. */
  modelVsFlatWall: number;
  /** Effective bandwidth at 28 bytes per element (ms above). */
  modelGBps: number;
  flatGBps: number;
  /** JS time inside one `step()` (ms): mean over the host-cost calls (see hostMethod). The target's figure. */
  hostMsPerStep: number;
  hostMsPerStepFlat: number;
  /** Median over the same calls (or batches). */
  hostMedianMs: { model: number; flat: number };
  /** Median over batches of the batch's first call, made after the queue drained (null when timed per batch). */
  hostFirstCallMs: { model: number | null; flat: number | null };
  /** Mean / median / first call of an encoder + empty compute pass + submit, timed alike: WebGPU's floor. */
  emptyStepMs: { mean: number; median: number; firstCall: number | null };
  hostCalls: number;
  /** Mean JS time of the `step()` calls of the timed wall repetitions (real GPU work), and how many there were. */
  hostTimedMeanMs: { model: number | null; flat: number | null };
  hostTimedCalls: number;
  hostMethod: string;
  timerResolutionMs: number;
  stepsPerRep: number;
  reps: number;
  samples: ModelSamples;
}

export interface Report {
  date: string;
  adapter: AdapterReport;
  tfjs: { version: string; device: string } | null;
  /** Node's version where the CPU rows ran in Node (npm start, bench.mjs); null in the demo page. */
  node: string | null;
  cpus: string;
  timing: { gpu: string; cpu: string; tfjs: string };
  settings: Record<string, unknown>;
  /** 1-minute load average before the run (other work skews the figures) and after it (this run included). */
  loadAverage: { before: number; after: number } | null;
  /** At the largest size measured, in the headline variant. */
  headline: {
    variant: Variant;
    size: number;
    fusedVsCopy: number | null;
    /** The fastest CPU optimizer at this size (FAST_CPU, most GB/s), or null without CPU rows. */
    fastestCpu: Impl | null;
    /** Its wall ms / the fused step's. */
    fusedVsCpu: number | null;
    /** AdaBeliefFastCPU's (one JavaScript thread) wall ms / the fused step's: fusedVsCpu before the WASM rows. */
    fusedVsCpuFastJs: number | null;
    fusedVsCpuReference: number | null;
    fusedVsTfjsAdam: number | null;
    fusedVsTfjsAdabelief: number | null;
    /** The fastest CPU optimizer's GB/s / the WASM copy's on the same N threads ('cpu-copy-N'). */
    cpuFastVsCpuCopy: number | null;
    /** AdaBeliefFastCPU's GB/s / the one-thread Float32Array copy loop's: cpuFastVsCpuCopy before the WASM rows. */
    fastJsVsCpuCopy: number | null;
    /** The faster WASM row's GB/s / AdaBeliefFastCPU's. */
    wasmVsFastJs: number | null;
    /** WASM on N threads' GB/s / on one thread's. */
    wasmThreadsVsOne: number | null;
    /** N, the threads of 'wasm-N' and 'cpu-copy-N' (null without them). */
    cpuThreads: number | null;
  } | null;
  targets: Target[];
  rows: Row[];
  /** The whole-model case; null when skipped (--no-model). */
  model: ModelSummary | null;
  /** Every mode at the largest size it was measured at, keyed by mode name; null when skipped (--no-modes). */
  modes: Record<string, ModeSummary> | null;
  /** Every mode's fused step and copy kernel at every size measured. */
  modeRows: ModeRow[];
  durationS: number;
}

// ---------------------------------------------------------------------------------------------- modes

export interface ModeMeasurement extends Samples {
  mode: Mode;
  kind: 'fused' | 'copy';
  size: number;
}

export interface ModeRow {
  mode: Mode;
  /** The mode's fused step, or the copy kernel moving the mode's bytes (bench/copy.wgsl `copy_mode`). */
  kind: 'fused' | 'copy';
  size: number;
  bytesPerElement: number;
  wallMs: number;
  gpuMs: number | null;
  method: 'timestamp-query' | 'wall (queued steps)';
  /** GPU ms where measured, else wall ms: the figure behind GB/s and the ratios. */
  ms: number;
  effectiveGBps: number;
  /** Fused rows: GB/s over the copy kernel's GB/s for the same bytes (= copy ms / fused ms). */
  vsCopy: number | null;
  /** Fused rows: step time over the f32 AdaBelief step's, same size, same run (< 1: faster than f32). */
  vsF32: number | null;
  stepsPerRep: number;
  reps: number;
}

/** One mode at the largest size it was measured at (the JSON's `modes[name]`). */
export interface ModeSummary {
  label: string;
  /** Bytes one step must move per element (bench/modes.ts: the arrays it reads and writes). */
  bytesPerElement: number;
  traffic: string;
  size: number;
  method: ModeRow['method'];
  fusedMs: number;
  copyMs: number | null;
  fusedGBs: number;
  copyGBs: number | null;
  /** fusedGBs / copyGBs: 1.0 is the copy kernel's speed for this mode's bytes. */
  fusedVsCopy: number | null;
  /** fusedMs / the f32 mode's fusedMs at the same size (the step time relative to f32; lower is faster). */
  vsF32: number | null;
  /** What its bytes allow: bytesPerElement / 28 (the f32 mode's bytes). */
  idealVsF32: number;
}

export function toModeRows(ms: ModeMeasurement[]): ModeRow[] {
  const base = ms.map((m) => {
    const wallMs = median(m.wallMs);
    const gpuMs = m.gpuMs?.length ? median(m.gpuMs) : null;
    const ms = gpuMs ?? wallMs;
    const bytes = modeBytes(m.mode);
    return {
      mode: m.mode,
      kind: m.kind,
      size: m.size,
      bytesPerElement: bytes,
      wallMs,
      gpuMs,
      method: gpuMs !== null ? ('timestamp-query' as const) : ('wall (queued steps)' as const),
      ms,
      effectiveGBps: (m.size * bytes) / (ms / 1e3) / 1e9,
      stepsPerRep: m.stepsPerRep,
      reps: m.reps,
    };
  });
  const find = (mode: Mode, size: number, kind: ModeRow['kind']) =>
    base.find((r) => r.mode === mode && r.size === size && r.kind === kind);
  return base.map((r) => {
    const copy = r.kind === 'fused' ? find(r.mode, r.size, 'copy') : undefined;
    const f32 = r.kind === 'fused' ? find('f32', r.size, 'fused') : undefined;
    return { ...r, vsCopy: copy ? copy.ms / r.ms : null, vsF32: f32 ? r.ms / f32.ms : null };
  });
}

export function modesSummary(rows: ModeRow[]): Record<string, ModeSummary> | null {
  const out: Record<string, ModeSummary> = {};
  for (const mode of MODES) {
    const fused = rows.filter((r) => r.mode === mode && r.kind === 'fused');
    if (!fused.length) continue;
    const f = fused.reduce((a, b) => (b.size > a.size ? b : a));
    const copy = rows.find((r) => r.mode === mode && r.kind === 'copy' && r.size === f.size);
    const def = MODE_DEFS[mode];
    out[mode] = {
      label: def.label,
      bytesPerElement: f.bytesPerElement,
      traffic: def.bytes,
      size: f.size,
      method: f.method,
      fusedMs: f.ms,
      copyMs: copy?.ms ?? null,
      fusedGBs: f.effectiveGBps,
      copyGBs: copy?.effectiveGBps ?? null,
      fusedVsCopy: f.vsCopy,
      vsF32: f.vsF32,
      idealVsF32: f.bytesPerElement / modeBytes('f32'),
    };
  }
  return Object.keys(out).length ? out : null;
}

export const MODE_LEGEND = [
  "Modes: each mode's fused step (the optimizers' public API, their own dispatch shape) and a copy kernel moving",
  "  that mode's bytes (bench/copy.wgsl copy_mode: 16-byte accesses, the arrays the step reads and writes), all",
  '  modes of one size interleaved. ms: GPU ms (timestamp-query) where measured, else wall ms. x copy: fused GB/s /',
  "  copy GB/s. time x f32: this mode's ms / the f32 AdaBelief step's ms, same size, same run (lower is faster);",
  '  ideal x f32: bytes per element / 28, what its bytes allow on a memory-bound GPU.',
];

export function toRows(ms: Measurement[]): Row[] {
  const base = ms.map((m): Omit<Row, 'vsCopy' | 'vsCpu' | 'vsTfjsAdam' | 'vsTfjsAdabelief'> => {
    const wallMs = median(m.wallMs);
    const gpuMs = m.gpuMs?.length ? median(m.gpuMs) : null;
    const bytes = bytesPerElement(m.impl, m.variant);
    const ms = gpuMs ?? wallMs;
    return {
      variant: m.variant,
      size: m.size,
      impl: m.impl,
      bytesPerElement: bytes,
      threads: ON_GPU[m.impl] ? null : (m.threads ?? 1),
      wallMs,
      gpuMs,
      method:
        gpuMs !== null ? 'timestamp-query' : ON_GPU[m.impl] ? 'wall (queued steps)' : 'wall (CPU, Node)',
      ms,
      elementsPerSecond: m.size / (ms / 1e3),
      effectiveGBps: (m.size * bytes) / (ms / 1e3) / 1e9,
      stepsPerRep: m.stepsPerRep,
      reps: m.reps,
      ...(m.note ? { note: m.note } : {}),
    };
  });
  const find = (variant: Variant, size: number, impl: Impl) =>
    base.find((r) => r.size === size && r.impl === impl && (r.variant === variant || impl === 'tfjs-adam'));
  return base.map((r) => {
    // WASM on one thread has no copy of its own here (bench/cpu-wasm.ts alone measures one: copy-1); the
    // Float32Array loop is no roofline for SIMD code.
    const copyImpl = ON_GPU[r.impl]
      ? 'copy'
      : ON_N_THREADS.includes(r.impl)
        ? 'cpu-copy-N'
        : r.impl === 'wasm-1'
          ? null
          : 'cpu-copy';
    const copy = copyImpl && find(r.variant, r.size, copyImpl);
    const speedup = (impl: Impl) => {
      const b = find(r.variant, r.size, impl);
      return b ? b.wallMs / r.wallMs : null;
    };
    const cpu = fastestCpu(base, r.variant, r.size);
    return {
      ...r,
      vsCopy: copy ? r.effectiveGBps / copy.effectiveGBps : null,
      vsCpu: cpu ? cpu.wallMs / r.wallMs : null,
      vsTfjsAdam: speedup('tfjs-adam'),
      vsTfjsAdabelief: speedup('tfjs-adabelief'),
    };
  });
}

/** The fastest CPU optimizer's row of a size and variant (FAST_CPU, least wall time: the same bytes), if any. */
export function fastestCpu<R extends Pick<Row, 'impl' | 'variant' | 'size' | 'wallMs'>>(
  rows: R[],
  variant: Variant,
  size: number,
): R | undefined {
  return rows
    .filter((r) => r.variant === variant && r.size === size && FAST_CPU.includes(r.impl))
    .reduce<R | undefined>((best, r) => (best && best.wallMs <= r.wallMs ? best : r), undefined);
}

export function headline(rows: Row[]): Report['headline'] {
  const fused = rows.filter((r) => r.impl === 'fused');
  if (!fused.length) return null;
  const variant = fused.some((r) => r.variant === 'default') ? 'default' : fused[0]!.variant;
  const size = Math.max(...fused.filter((r) => r.variant === variant).map((r) => r.size));
  const get = (impl: Impl) =>
    rows.find((r) => r.size === size && r.impl === impl && (r.variant === variant || impl === 'tfjs-adam'));
  const f = get('fused')!;
  const ratio = (impl: Impl) => {
    const b = get(impl);
    return b ? b.wallMs / f.wallMs : null;
  };
  const gbps = (a: Row | undefined, b: Row | undefined) =>
    a && b ? a.effectiveGBps / b.effectiveGBps : null;
  const fastest = fastestCpu(rows, variant, size);
  const [wasmN, wasm1, fastJs] = [get('wasm-N'), get('wasm-1'), get('cpu-fast')];
  const wasm = [wasmN, wasm1].filter((r) => r !== undefined).sort((a, b) => a.wallMs - b.wallMs)[0];
  return {
    variant,
    size,
    fusedVsCopy: f.vsCopy,
    fastestCpu: fastest?.impl ?? null,
    fusedVsCpu: fastest ? fastest.wallMs / f.wallMs : null,
    fusedVsCpuFastJs: ratio('cpu-fast'),
    fusedVsCpuReference: ratio('cpu-ref'),
    fusedVsTfjsAdam: ratio('tfjs-adam'),
    fusedVsTfjsAdabelief: ratio('tfjs-adabelief'),
    cpuFastVsCpuCopy: gbps(fastest, get('cpu-copy-N')),
    fastJsVsCpuCopy: gbps(fastJs, get('cpu-copy')),
    wasmVsFastJs: gbps(wasm, fastJs),
    wasmThreadsVsOne: gbps(wasmN, wasm1),
    cpuThreads: (wasmN ?? get('cpu-copy-N'))?.threads ?? null,
  };
}

export function targets(h: Report['headline']): Target[] {
  const at = h ? `${h.variant}, n = ${pow2(h.size)}` : '';
  const t = (name: string, want: number, measured: number | null | undefined, what: string): Target => ({
    name,
    want: `>= ${want}`,
    measured: measured ?? null,
    met: measured == null ? null : measured >= want,
    detail: `${what} (${at})`,
  });
  return [
    t('fusedVsCopy', 0.85, h?.fusedVsCopy, 'fused AdaBelief effective GB/s / copy kernel GB/s, same adapter'),
    t('fusedVsTfjsAdam', 5, h?.fusedVsTfjsAdam, 'TF.js tf.train.adam ms per step / fused ms per step'),
    t(
      'fusedVsTfjsAdabelief',
      8,
      h?.fusedVsTfjsAdabelief,
      'TF.js-ops AdaBelief ms per step / fused ms per step',
    ),
    t(
      'cpuFastVsCpuCopy',
      0.7,
      h?.cpuFastVsCpuCopy,
      `fastest CPU optimizer (${h?.fastestCpu ? implLabel(h.fastestCpu, h.cpuThreads) : '-'}) GB/s / WASM copy on ${h?.cpuThreads ?? 'N'} threads GB/s, same process`,
    ),
    t(
      'fastJsVsCpuCopy',
      0.5,
      h?.fastJsVsCpuCopy,
      'AdaBeliefFastCPU GB/s / Float32Array copy loop GB/s (one thread), same process',
    ),
  ];
}

export function modelSummary(m: ModelSamples): ModelSummary {
  const B = m.host.batchSize;
  const firstCalls = (xs: number[]) =>
    m.host.perCall && B > 1 ? median(xs.filter((_, i) => i % B === 0)) : null;
  const wall = (s: Samples) => median(s.wallMs);
  const gpu = (s: Samples) => (s.gpuMs?.length ? median(s.gpuMs) : null);
  const [modelGpuMs, flatGpuMs] = [gpu(m.modelSamples), gpu(m.flatSamples)];
  const [modelWallMs, flatWallMs] = [wall(m.modelSamples), wall(m.flatSamples)];
  const useGpu = modelGpuMs !== null && flatGpuMs !== null;
  const modelMs = useGpu ? modelGpuMs : modelWallMs;
  const flatMs = useGpu ? flatGpuMs : flatWallMs;
  const gbps = (ms: number) => (m.elements * 28) / (ms / 1e3) / 1e9;
  const orNull = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    model: m.model,
    tensors: m.tensors,
    elements: m.elements,
    arenaBuffers: m.arenaBuffers,
    dispatches: m.dispatches,
    method: useGpu ? 'timestamp-query' : 'wall (queued steps)',
    modelMs,
    flatMs,
    modelWallMs,
    flatWallMs,
    modelGpuMs,
    flatGpuMs,
    modelVsFlat: flatMs / modelMs,
    modelVsFlatWall: flatWallMs / modelWallMs,
    modelGBps: gbps(modelMs),
    flatGBps: gbps(flatMs),
    hostMsPerStep: mean(m.host.model),
    hostMsPerStepFlat: mean(m.host.flat),
    hostMedianMs: { model: median(m.host.model), flat: median(m.host.flat) },
    hostFirstCallMs: { model: firstCalls(m.host.model), flat: firstCalls(m.host.flat) },
    emptyStepMs: {
      mean: mean(m.host.emptyStep),
      median: median(m.host.emptyStep),
      firstCall: firstCalls(m.host.emptyStep),
    },
    hostCalls: m.host.perCall ? m.host.model.length : m.host.model.length * m.host.batchSize,
    hostTimedMeanMs: { model: orNull(mean(m.host.timedModel)), flat: orNull(mean(m.host.timedFlat)) },
    hostTimedCalls: m.host.timedModel.length,
    hostMethod: m.host.method,
    timerResolutionMs: m.timerResolutionMs,
    stepsPerRep: m.modelSamples.stepsPerRep,
    reps: m.modelSamples.reps,
    samples: m,
  };
}

export function modelTargets(s: ModelSummary | null): Target[] {
  const what = s ? `${s.model}, ${s.tensors} tensors, ${s.elements.toLocaleString('en-US')} elements` : '';
  return [
    {
      name: 'modelVsFlat',
      want: '>= 0.9',
      measured: s?.modelVsFlat ?? null,
      met: s ? s.modelVsFlat >= 0.9 : null,
      detail: `flat tensor ms per step / whole model ms per step (${s?.method ?? '-'}), same adapter, same run (${what})`,
    },
    {
      name: 'hostMsPerStep',
      want: '< 0.2',
      measured: s?.hostMsPerStep ?? null,
      met: s ? s.hostMsPerStep < 0.2 : null,
      detail: `JS time inside step() for the whole model, ms per call, mean over ${s?.hostCalls ?? '-'} calls (${what})`,
      digits: 3,
    },
  ];
}

// ---------------------------------------------------------------------------------------------- the report

/** What a run measured and where: the input of `buildReport` (npm start, bench.mjs and the demo page alike). */
export interface RunResults {
  date: string;
  adapter: AdapterReport;
  tfjs: Report['tfjs'];
  node: string | null;
  cpus: string;
  timing: Report['timing'];
  settings: Record<string, unknown>;
  loadAverage: Report['loadAverage'];
  /** The variants in the order the tables list them. */
  variants: Variant[];
  measurements: Measurement[];
  modeMeasurements: ModeMeasurement[];
  model: ModelSamples | null;
  durationS: number;
}

/** The derived figures of a run, in the shape of the JSON (the renderer, bench/render.ts, draws any such object). */
export function buildReport(r: RunResults): Report {
  const order = (m: Measurement) => [
    r.variants.indexOf(m.variant),
    m.size,
    Object.keys(IMPL_LABELS).indexOf(m.impl),
  ];
  const measurements = [...r.measurements].sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
  const modeMeasurements = [...r.modeMeasurements].sort(
    (a, b) =>
      a.size - b.size || MODES.indexOf(a.mode) - MODES.indexOf(b.mode) || a.kind.localeCompare(b.kind),
  );
  const rows = toRows(measurements);
  const modeRows = toModeRows(modeMeasurements);
  const top = headline(rows);
  const model = r.model ? modelSummary(r.model) : null;
  return {
    date: r.date,
    adapter: r.adapter,
    tfjs: r.tfjs,
    node: r.node,
    cpus: r.cpus,
    timing: r.timing,
    settings: r.settings,
    loadAverage: r.loadAverage,
    headline: top,
    targets: [...(rows.length ? targets(top) : []), ...(r.model ? modelTargets(model) : [])],
    rows,
    model,
    modes: modesSummary(modeRows),
    modeRows,
    durationS: r.durationS,
  };
}

// ---------------------------------------------------------------------------------------------- tables

export function pow2(n: number): string {
  const k = Math.log2(n);
  return Number.isInteger(k) ? `2^${k}` : String(n);
}

/** A figure with 2 decimals (3 for ms), fewer from 10 and none from 100; `dash` when missing. */
export const fmt = (x: number | null, digits = 2, dash = '-'): string =>
  x === null || !Number.isFinite(x)
    ? dash
    : x >= 100
      ? x.toFixed(0)
      : x >= 10
        ? x.toFixed(1)
        : x.toFixed(digits);

const ratio = (x: number | null) => (x === null ? '-' : `${fmt(x, 2)}x`);

/**
 * A table's text: head and body cells are strings, `null` in the body is a blank line between groups; `align`
 * has an 'l' (left) or 'r' (right) per column. The terminal's one table formatter.
 */
export function textTable(head: string[], body: (string[] | null)[], align: string, indent = ''): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b?.[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = indent + widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head), rule, ...body.map((b) => (b ? line(b) : ''))].join('\n');
}

/** Inserts `null` (a blank line) between rows where `key` changes. */
function grouped<T>(items: T[], cells: (t: T) => string[], key: (t: T) => string): (string[] | null)[] {
  return items.flatMap((t, i) => (i > 0 && key(items[i - 1]!) !== key(t) ? [null, cells(t)] : [cells(t)]));
}

/** The results table: its column heads and one row's cells. */
export const TABLE_HEAD = [
  'variant',
  'size',
  'implementation',
  'wall ms',
  'GPU ms',
  'Melem/s',
  'GB/s',
  'x copy',
  'vs CPU',
  'vs TF Adam',
  'vs TF AdaB',
];

export function tableCells(r: Row): string[] {
  return [
    r.variant,
    pow2(r.size),
    implLabel(r.impl, r.threads) + (r.note ? ` (${r.note})` : ''),
    fmt(r.wallMs, 3),
    fmt(r.gpuMs, 3),
    fmt(r.elementsPerSecond / 1e6, 1),
    fmt(r.effectiveGBps, 2),
    ratio(r.vsCopy),
    ratio(r.vsCpu),
    ratio(r.vsTfjsAdam),
    ratio(r.vsTfjsAdabelief),
  ];
}

export function formatTable(rows: Row[]): string {
  return textTable(
    TABLE_HEAD,
    grouped(rows, tableCells, (r) => `${r.variant} ${r.size}`),
    'lllrrrrrrrr',
  );
}

/** The modes table: one line per mode and size (ms: GPU ms where measured, else wall ms). */
export const MODE_HEAD = [
  'mode',
  'size',
  'B/elem',
  'fused ms',
  'copy ms',
  'fused GB/s',
  'copy GB/s',
  'x copy',
  'time x f32',
  'ideal x f32',
];

/** The fused rows of `rows`, each with the cells of its line in the modes table. */
export function modeTable(rows: ModeRow[]): { row: ModeRow; cells: string[] }[] {
  return rows
    .filter((r) => r.kind === 'fused')
    .map((f) => {
      const copy = rows.find((r) => r.kind === 'copy' && r.mode === f.mode && r.size === f.size);
      return {
        row: f,
        cells: [
          f.mode,
          pow2(f.size),
          String(f.bytesPerElement),
          fmt(f.ms, 3),
          copy ? fmt(copy.ms, 3) : '-',
          fmt(f.effectiveGBps, 2),
          copy ? fmt(copy.effectiveGBps, 2) : '-',
          ratio(f.vsCopy),
          ratio(f.vsF32),
          ratio(f.bytesPerElement / modeBytes('f32')),
        ],
      };
    });
}

export function formatModes(rows: ModeRow[]): string {
  const lines = modeTable(rows);
  return textTable(
    MODE_HEAD,
    grouped(
      lines,
      (l) => l.cells,
      (l) => String(l.row.size),
    ),
    'llrrrrrrrr',
  );
}

export const LEGEND = [
  'wall ms: median wall time per step (K steps queued, then waited for, / K); GPU ms: median timestamp-query time of the step.',
  'GB/s: effective bandwidth = bytes per element (28; 36 with AMSGrad; TF.js credited with the same minimum) x size / time,',
  '  time = GPU ms where measured, else wall ms. x copy: GB/s / that of the copy of the same bytes on the same side',
  '  (GPU rows: the copy kernel; CPU rows on N threads: the WASM SIMD copy on the same N threads; JavaScript CPU',
  '  rows: the Float32Array copy loop; WASM on 1 thread: none, see npx tsx bench/cpu-wasm.ts). vs CPU: the fastest',
  "  CPU optimizer's wall ms (least of WASM SIMD on N threads, on 1 thread, AdaBeliefFastCPU) / this row's; vs TF",
  "  Adam / vs TF AdaB: that implementation's wall ms / this row's (> 1: this row is faster). CPU rows run in",
  '  this Node process (V8) — or in the page, on the demo — the JavaScript ones on its thread, the WASM ones',
  '  (AdaBeliefWasmCPU, and a copy moving the same bytes over the same memory layout) on worker_threads over',
  '  SharedArrayBuffer memory, WASM on N threads always on all N (tuneThreads off). The Float32Array copy loop',
  '  takes its arrays as arguments, as the optimizers do (the same loop over module-level constant arrays runs up',
  '  to 3x faster here: the JIT folds the arrays in; no optimizer can rely on that).',
];

export const TARGET_HEAD = ['ratio', 'target', 'measured', 'verdict', 'what'];

export function targetCells(t: Target): string[] {
  const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'NOT MET';
  return [t.name, t.want, t.measured === null ? '-' : t.measured.toFixed(t.digits ?? 2), verdict, t.detail];
}

export function formatTargets(ts: Target[]): string {
  return textTable(TARGET_HEAD, ts.map(targetCells), 'llrll', '  ');
}

/** The whole model's host-cost table: head and rows (ms per step() call). */
export function modelHostTable(s: ModelSummary): { head: string[]; body: string[][] } {
  const ms = (x: number | null) => fmt(x, 3);
  return {
    head: ['', 'mean', 'median', 'after idle', `real work (${s.hostTimedCalls})`],
    body: [
      [s.model, s.hostMsPerStep, s.hostMedianMs.model, s.hostFirstCallMs.model, s.hostTimedMeanMs.model],
      [
        'flat tensor',
        s.hostMsPerStepFlat,
        s.hostMedianMs.flat,
        s.hostFirstCallMs.flat,
        s.hostTimedMeanMs.flat,
      ],
      ['empty pass + submit', s.emptyStepMs.mean, s.emptyStepMs.median, s.emptyStepMs.firstCall, null],
    ].map(([name, ...xs]) => [name as string, ...(xs as (number | null)[]).map(ms)]),
  };
}

/** The whole model's case in words (terminal and report alike). */
export function modelLines(s: ModelSummary): string[] {
  const n = s.elements.toLocaleString('en-US');
  const ms = (x: number | null) => fmt(x, 3);
  const buffers = `${s.arenaBuffers.param} param + ${s.arenaBuffers.grad} grad buffer${s.arenaBuffers.param + s.arenaBuffers.grad > 2 ? 's' : ''}`;
  const count = (x: number | null) => (x === null ? '? dispatches' : `${x} dispatch${x === 1 ? '' : 'es'}`);
  return [
    `${s.model} shapes (${s.tensors} tensors, ${n} elements) in a ParamArena (${buffers}, ${count(s.dispatches.model)} per step) vs one flat tensor of as many (${count(s.dispatches.flat)} per step), default options.`,
    `ms per step (${s.method}, median of ${s.reps} x ${s.stepsPerRep} steps, interleaved): model ${ms(s.modelMs)}, flat ${ms(s.flatMs)}, flat/model ${fmt(s.modelVsFlat, 3)}.`,
    `Wall ms per step: model ${ms(s.modelWallMs)}, flat ${ms(s.flatWallMs)}, flat/model ${fmt(s.modelVsFlatWall, 3)}; GB/s (28 B/element): model ${fmt(s.modelGBps)}, flat ${fmt(s.flatGBps)}.`,
    `Host ms per step(): JS time inside the call, ${s.hostCalls} calls each; after idle: median of each batch's first call, made after the queue drained; real work: mean of the timed wall steps' calls (timer resolution ${fmt(s.timerResolutionMs, 3)} ms). ${s.hostMethod}.`,
  ];
}

/** The terminal's "Whole model" section (figures only; the targets are printed by formatTargets). */
export function formatModel(s: ModelSummary): string {
  const host = modelHostTable(s);
  return [
    'Whole model:',
    ...modelLines(s).map((l) => `  ${l}`),
    textTable(host.head, host.body, 'lrrrr', '    '),
  ].join('\n');
}
