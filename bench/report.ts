/**
 * The benchmark's results: derived figures (bandwidth, ratios, targets), the terminal table, the JSON and a
 * self-contained HTML report (inline SVG, no network). Pure functions of the measurements.
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
  node: string;
  cpus: string;
  timing: { gpu: string; cpu: string; tfjs: string };
  settings: Record<string, unknown>;
  /** 1-minute load average before the run (other work skews the figures) and after it (this run included). */
  loadAverage: { before: number; after: number };
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

const MODE_HEAD = [
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

/** The modes table: one line per mode and size (ms: GPU ms where measured, else wall ms). */
export function formatModes(rows: ModeRow[]): string {
  const fused = rows.filter((r) => r.kind === 'fused');
  const body = fused.map((f) => {
    const copy = rows.find((r) => r.kind === 'copy' && r.mode === f.mode && r.size === f.size);
    const ratio = (x: number | null) => (x === null ? '-' : `${fmt(x, 2)}x`);
    return [
      f.mode,
      pow2(f.size),
      String(f.bytesPerElement),
      fmt(f.ms, 3),
      copy ? fmt(copy.ms, 3) : '-',
      fmt(f.effectiveGBps, 2),
      copy ? fmt(copy.effectiveGBps, 2) : '-',
      ratio(f.vsCopy),
      ratio(f.vsF32),
      `${fmt(f.bytesPerElement / modeBytes('f32'), 2)}x`,
    ];
  });
  const widths = MODE_HEAD.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(MODE_HEAD), widths.map((w) => '-'.repeat(w)).join('  ')];
  body.forEach((b, i) => {
    if (i > 0 && fused[i - 1]!.size !== fused[i]!.size) out.push('');
    out.push(line(b));
  });
  return out.join('\n');
}

export const MODE_LEGEND = [
  "Modes: each mode's fused step (the optimizers' public API, their own dispatch shape) and a copy kernel moving",
  "  that mode's bytes (bench/copy.wgsl copy_mode: 16-byte accesses, the arrays the step reads and writes), all",
  '  modes of one size interleaved. ms: GPU ms (timestamp-query) where measured, else wall ms. x copy: fused GB/s /',
  "  copy GB/s. time x f32: this mode's ms / the f32 AdaBelief step's ms, same size, same run (lower is faster);",
  '  ideal x f32: bytes per element / 28, what its bytes allow on a memory-bound GPU.',
];

const MODE_COLORS: Record<Mode, string> = {
  f32: '#d62728',
  'bf16-state': '#1f77b4',
  'f16-master': '#2ca02c',
  'f16-bf16-nomaster': '#9467bd',
  guarded: '#ff7f0e',
  adam: '#8c564b',
  'sgd-momentum': '#17becf',
};

/** Effective bandwidth against size per mode: fused solid, the mode's copy kernel dashed. */
export function modeBandwidthSeries(rows: ModeRow[]): Series[] {
  const modes = MODES.filter((m) => rows.some((r) => r.mode === m));
  return modes
    .flatMap((mode) =>
      (['fused', 'copy'] as const).map((kind) => ({
        name: `${mode}${kind === 'copy' ? ' copy' : ''}`,
        color: MODE_COLORS[mode],
        dashed: kind === 'copy',
        points: rows
          .filter((r) => r.mode === mode && r.kind === kind)
          .map((r): [number, number] => [r.size, r.effectiveGBps]),
      })),
    )
    .filter((s) => s.points.length);
}

function modesHtml(report: Report): string {
  const rows = report.modeRows;
  if (!rows.length || !report.modes) return '';
  const bw = lineChart(
    'modes-bandwidth',
    'Every mode: effective bandwidth (dashed: its copy kernel)',
    'GB/s (log)',
    modeBandwidthSeries(rows),
  );
  const time = lineChart(
    'modes-vs-f32',
    'Every mode: step time x f32 (dashed: what its bytes allow; dotted: 1x)',
    'step time / f32 step time (log)',
    MODES.filter((m) => m !== 'f32' && rows.some((r) => r.mode === m)).flatMap((mode) => {
      const fused = rows.filter((r) => r.mode === mode && r.kind === 'fused' && r.vsF32 !== null);
      const ideal = modeBytes(mode) / modeBytes('f32');
      return [
        {
          name: mode,
          color: MODE_COLORS[mode],
          points: fused.map((r): [number, number] => [r.size, r.vsF32!]),
        },
        {
          name: `${mode} ideal`,
          color: MODE_COLORS[mode],
          dashed: true,
          points: fused.map((r): [number, number] => [r.size, ideal]),
        },
      ];
    }),
    1,
  );
  const cells = Object.entries(report.modes)
    .map(
      ([name, m]) =>
        `<tr><td>${esc(name)}</td><td>${esc(m.label)}</td><td>${pow2(m.size)}</td><td>${m.bytesPerElement}</td><td>${fmt(m.fusedGBs)}</td><td>${m.copyGBs === null ? '-' : fmt(m.copyGBs)}</td><td>${m.fusedVsCopy === null ? '-' : fmt(m.fusedVsCopy)}</td><td>${m.vsF32 === null ? '-' : fmt(m.vsF32)}</td><td>${fmt(m.idealVsF32)}</td></tr>`,
    )
    .join('');
  return `<h2>Every mode</h2>
<table><tr><th>mode</th><th></th><th>size</th><th>B/element</th><th>fused GB/s</th><th>copy GB/s</th><th>fused / copy</th><th>time × f32</th><th>ideal × f32</th></tr>${cells}</table>
<div class="charts">${bw}${time}</div>
<p>${esc(MODE_LEGEND.join(' '))}</p>`;
}

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

// ---------------------------------------------------------------------------------------------- text

export function pow2(n: number): string {
  const k = Math.log2(n);
  return Number.isInteger(k) ? `2^${k}` : String(n);
}

const fmt = (x: number | null, digits = 2, dash = '-'): string =>
  x === null || !Number.isFinite(x)
    ? dash
    : x >= 100
      ? x.toFixed(0)
      : x >= 10
        ? x.toFixed(1)
        : x.toFixed(digits);

/** The results table's column heads; `times` marks a ratio ('x' in the terminal, '×' on the demo page). */
export function tableHead(times = 'x'): string[] {
  return [
    'variant',
    'size',
    'implementation',
    'wall ms',
    'GPU ms',
    'Melem/s',
    'GB/s',
    `${times} copy`,
    'vs CPU',
    'vs TF Adam',
    'vs TF AdaB',
  ];
}

/** One row's cells in the results table; `dash` stands for a missing figure, `times` marks a ratio. */
export function tableCells(r: Row, dash = '-', times = 'x'): string[] {
  const ratio = (x: number | null) => (x === null ? dash : `${fmt(x, 2, dash)}${times}`);
  return [
    r.variant,
    pow2(r.size),
    implLabel(r.impl, r.threads) + (r.note ? ` (${r.note})` : ''),
    fmt(r.wallMs, 3, dash),
    r.gpuMs === null ? dash : fmt(r.gpuMs, 3, dash),
    fmt(r.elementsPerSecond / 1e6, 1, dash),
    fmt(r.effectiveGBps, 2, dash),
    ratio(r.vsCopy),
    ratio(r.vsCpu),
    ratio(r.vsTfjsAdam),
    ratio(r.vsTfjsAdabelief),
  ];
}

export function formatTable(rows: Row[]): string {
  const head = tableHead();
  const body = rows.map((r) => tableCells(r));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    if (prev && (prev.size !== r.size || prev.variant !== r.variant)) out.push('');
    out.push(line(body[i]!));
  });
  return out.join('\n');
}

export const LEGEND = [
  'wall ms: median wall time per step (K steps queued, then waited for, / K); GPU ms: median timestamp-query time of the step.',
  'GB/s: effective bandwidth = bytes per element (28; 36 with AMSGrad; TF.js credited with the same minimum) x size / time,',
  '  time = GPU ms where measured, else wall ms. x copy: GB/s / that of the copy of the same bytes on the same side',
  '  (GPU rows: the copy kernel; CPU rows on N threads: the WASM SIMD copy on the same N threads; JavaScript CPU',
  '  rows: the Float32Array copy loop; WASM on 1 thread: none, see npx tsx bench/cpu-wasm.ts). vs CPU: the fastest',
  "  CPU optimizer's wall ms (least of WASM SIMD on N threads, on 1 thread, AdaBeliefFastCPU) / this row's; vs TF",
  "  Adam / vs TF AdaB: that implementation's wall ms / this row's (> 1: this row is faster). CPU rows run in",
  '  this Node process (V8): the JavaScript ones on its thread, the WASM ones (AdaBeliefWasmCPU, and a copy',
  '  moving the same bytes over the same memory layout) on worker_threads over SharedArrayBuffer memory, WASM on',
  '  N threads always on all N (tuneThreads off). The',
  '  Float32Array copy loop takes its arrays as arguments, as the optimizers do (the same loop over module-level',
  '  constant arrays runs up to 3x faster here: the JIT folds the arrays in; no optimizer can rely on that).',
];

export function formatTargets(ts: Target[]): string {
  return ts
    .map((t) => {
      const verdict = t.met === null ? 'NOT MEASURED' : t.met ? 'met' : 'NOT MET';
      return `  ${t.name.padEnd(20)} ${t.want.padEnd(7)} measured ${t.measured === null ? '-' : t.measured.toFixed(t.digits ?? 2).padStart(6)}  ${verdict.padEnd(12)} ${t.detail}`;
    })
    .join('\n');
}

const arenaBuffers = (s: ModelSummary) =>
  `${s.arenaBuffers.param} param + ${s.arenaBuffers.grad} grad buffer${s.arenaBuffers.param + s.arenaBuffers.grad > 2 ? 's' : ''}`;

/** The terminal's "Whole model" section (figures only; the targets are printed by formatTargets). */
export function formatModel(s: ModelSummary): string {
  const n = s.elements.toLocaleString('en-US');
  const ms = (x: number | null) => (x === null ? '-' : fmt(x, 3));
  const count = (x: number | null) => (x === null ? '? dispatches' : `${x} dispatch${x === 1 ? '' : 'es'}`);
  const buffers = arenaBuffers(s);
  const host: [string, (number | null)[]][] = [
    [`${s.model}`, [s.hostMsPerStep, s.hostMedianMs.model, s.hostFirstCallMs.model, s.hostTimedMeanMs.model]],
    [
      'flat tensor',
      [s.hostMsPerStepFlat, s.hostMedianMs.flat, s.hostFirstCallMs.flat, s.hostTimedMeanMs.flat],
    ],
    ['empty pass + submit', [s.emptyStepMs.mean, s.emptyStepMs.median, s.emptyStepMs.firstCall, null]],
  ];
  const heads = ['mean', 'median', 'after idle', `real work (${s.hostTimedCalls})`];
  const w = heads.map((h) => Math.max(h.length, 6));
  const hostTable = [
    `    ${''.padEnd(20)}  ${heads.map((h, i) => h.padStart(w[i]!)).join('  ')}`,
    ...host.map(
      ([name, xs]) => `    ${name.padEnd(20)}  ${xs.map((x, i) => ms(x).padStart(w[i]!)).join('  ')}`,
    ),
  ];
  return [
    `Whole model: ${s.model} shapes (${s.tensors} tensors, ${n} elements) in a ParamArena vs one flat tensor of as many, default options`,
    `  model: ${buffers}, ${count(s.dispatches.model)} per step; flat: ${count(s.dispatches.flat)} per step`,
    `  ms per step (${s.method}, median of ${s.reps} x ${s.stepsPerRep} steps): model ${ms(s.modelMs)}, flat ${ms(s.flatMs)}, flat/model ${fmt(s.modelVsFlat, 3)}`,
    `  wall ms per step: model ${ms(s.modelWallMs)}, flat ${ms(s.flatWallMs)}, flat/model ${fmt(s.modelVsFlatWall, 3)}; GB/s (28 B/element): model ${fmt(s.modelGBps)}, flat ${fmt(s.flatGBps)}`,
    `  host ms per step() (JS time inside the call; ${s.hostCalls} calls each; after idle: median of each batch's first call,`,
    `  made after the queue drained; real work: mean of the timed wall steps' calls):`,
    ...hostTable,
    `  host method: ${s.hostMethod}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------- HTML

export const COLORS: Record<Impl, string> = {
  fused: '#d62728',
  copy: '#555555',
  'tfjs-adam': '#1f77b4',
  'tfjs-adabelief': '#17becf',
  'wasm-N': '#9467bd',
  'wasm-1': '#e377c2',
  'cpu-fast': '#2ca02c',
  'cpu-ref': '#98df8a',
  'cpu-copy-N': '#bcbd22',
  'cpu-copy': '#8c564b',
};

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A line chart with log2 sizes on x and a log10 y axis, as an SVG string. */
function lineChart(id: string, title: string, yLabel: string, series: Series[], refLine?: number): string {
  const W = 760;
  const H = 420;
  const m = { l: 70, r: 230, t: 36, b: 50 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => y > 0 && Number.isFinite(y));
  if (!pts.length) return '';
  const xs = pts.map(([x]) => Math.log2(x));
  const ys = pts.map(([, y]) => Math.log10(y)).concat(refLine ? [Math.log10(refLine)] : []);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) + (Math.max(...xs) === Math.min(...xs) ? 1 : 0)];
  const [y0, y1] = [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys) + 1e-9)];
  const X = (x: number) => m.l + ((Math.log2(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((Math.log10(y) - y0) / Math.max(y1 - y0, 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  for (let e = y0; e <= y1; e++) {
    for (const k of e < y1 ? [1, 2, 5] : [1]) {
      const v = k * 10 ** e;
      parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`);
      parts.push(
        `<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end" font-size="11">${v < 1 ? v.toPrecision(1) : v}</text>`,
      );
    }
  }
  for (let k = Math.ceil(x0); k <= x1; k++) {
    const x = X(2 ** k);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">2^${k}</text>`);
  }
  if (refLine) {
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${Y(refLine)}" y2="${Y(refLine)}" stroke="#000" stroke-dasharray="2 3"/>`,
    );
  }
  series.forEach((s, i) => {
    const p = s.points.filter(([, y]) => y > 0 && Number.isFinite(y));
    if (!p.length) return;
    const d = p.map(([x, y], j) => `${j ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="7 4"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    p.forEach(([x, y]) => parts.push(`<circle cx="${X(x)}" cy="${Y(y)}" r="3" fill="${s.color}"/>`));
    const ly = m.t + 14 + i * 20;
    parts.push(
      `<line x1="${W - m.r + 14}" x2="${W - m.r + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.2"${dash}/>`,
    );
    parts.push(`<text x="${W - m.r + 46}" y="${ly}" font-size="12">${esc(s.name)}</text>`);
  });
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" style="background:#fff">
<text x="${m.l}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>
${parts.join('\n')}
<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">parameters (elements)</text>
<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${esc(yLabel)}</text>
</svg>`;
}

/** Effective bandwidth against size, one line per implementation that has rows (the copies dashed). */
export function bandwidthSeries(rows: Row[], variant: Variant): Series[] {
  return (Object.keys(IMPL_LABELS) as Impl[])
    .map((impl) => {
      const own = rows.filter((r) => r.variant === variant && r.impl === impl);
      return {
        name: implLabel(impl, own[0]?.threads),
        color: COLORS[impl],
        dashed: impl === 'copy' || impl === 'cpu-copy' || impl === 'cpu-copy-N',
        points: own.map((r): [number, number] => [r.size, r.effectiveGBps]),
      };
    })
    .filter((s) => s.points.length);
}

function bandwidthChart(rows: Row[], variant: Variant, id: string): string {
  const series = bandwidthSeries(rows, variant);
  return lineChart(id, `Effective bandwidth, ${variant} (dashed: copy rooflines)`, 'GB/s (log)', series);
}

function speedupChart(rows: Row[], variant: Variant, id: string): string {
  const fused = rows.filter((r) => r.variant === variant && r.impl === 'fused');
  const against = (impl: Impl): Series => {
    const own = rows.filter((r) => r.impl === impl && (r.variant === variant || impl === 'tfjs-adam'));
    return {
      name: `vs ${implLabel(impl, own[0]?.threads).replace(/^TF\.js ops/, 'TF.js-ops')}`,
      color: COLORS[impl],
      points: fused.flatMap((f): [number, number][] => {
        const other = own.find((r) => r.size === f.size);
        return other ? [[f.size, other.wallMs / f.wallMs]] : [];
      }),
    };
  };
  const impls: Impl[] = ['wasm-N', 'wasm-1', 'cpu-fast', 'cpu-ref', 'tfjs-adam', 'tfjs-adabelief'];
  const series = impls.map(against).filter((s) => s.points.length);
  return lineChart(id, `Fused step speedup, ${variant} (dotted: 1x)`, 'speedup, wall time (log)', series, 1);
}

function modelHtml(s: ModelSummary): string {
  const ms = (x: number | null) => (x === null ? '-' : fmt(x, 3));
  const row = (
    what: string,
    dispatches: number | null,
    stepMs: number,
    wallMs: number,
    gbps: number,
    host: (number | null)[],
  ) =>
    `<tr><td>${esc(what)}</td><td>${dispatches ?? '?'}</td><td>${ms(stepMs)}</td><td>${ms(wallMs)}</td><td>${fmt(gbps)}</td>${host.map((h) => `<td>${ms(h)}</td>`).join('')}</tr>`;
  const n = s.elements.toLocaleString('en-US');
  return `<h2>Whole model</h2>
<p>${esc(s.model)} shapes (${s.tensors} tensors, ${n} elements) in a ParamArena (${arenaBuffers(s)}) vs one flat tensor of ${n} elements, default options. Step ms: ${esc(s.method)}, median of ${s.reps} repetitions of ${s.stepsPerRep} steps, model and flat interleaved. <b>flat / model = ${fmt(s.modelVsFlat, 3)}</b> (wall: ${fmt(s.modelVsFlatWall, 3)}).</p>
<table><tr><th></th><th>dispatches per step</th><th>ms per step</th><th>wall ms per step</th><th>GB/s (28 B/elem)</th><th>host ms per step(): mean</th><th>median</th><th>first call after an idle queue</th><th>with real GPU work (mean)</th></tr>
${row(`${s.model} (${s.tensors} tensors)`, s.dispatches.model, s.modelMs, s.modelWallMs, s.modelGBps, [s.hostMsPerStep, s.hostMedianMs.model, s.hostFirstCallMs.model, s.hostTimedMeanMs.model])}
${row('flat tensor', s.dispatches.flat, s.flatMs, s.flatWallMs, s.flatGBps, [s.hostMsPerStepFlat, s.hostMedianMs.flat, s.hostFirstCallMs.flat, s.hostTimedMeanMs.flat])}
<tr><td>empty compute pass + submit (WebGPU's floor)</td><td>0</td><td></td><td></td><td></td><td>${ms(s.emptyStepMs.mean)}</td><td>${ms(s.emptyStepMs.median)}</td><td>${ms(s.emptyStepMs.firstCall)}</td><td></td></tr></table>
<p>Host ms per step(): JS time inside step(), ${s.hostCalls} calls each: ${esc(s.hostMethod)}. With real GPU work: the ${s.hostTimedCalls} step() calls of the timed wall repetitions (timer resolution ${fmt(s.timerResolutionMs, 3)} ms).</p>`;
}

export function renderHtml(report: Report, tableText: string): string {
  const a = report.adapter;
  const variants = [...new Set(report.rows.map((r) => r.variant))];
  const main = report.headline?.variant ?? variants[0];
  const ordered = main ? [main, ...variants.filter((v) => v !== main)] : variants;
  const charts = ordered
    .map((v, i) => {
      const bw = bandwidthChart(report.rows, v, i === 0 ? 'main-chart' : `bandwidth-${v}`);
      const sp = speedupChart(report.rows, v, `speedup-${v}`);
      return `<h2>Variant: ${esc(v)}</h2><div class="charts">${bw}${sp}</div>`;
    })
    .join('\n');
  const targetRows = report.targets
    .map((t) => {
      const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'NOT MET';
      const cls = t.met === null ? '' : t.met ? 'ok' : 'bad';
      return `<tr><td>${t.name}</td><td>${esc(t.want)}</td><td>${t.measured === null ? '-' : t.measured.toFixed(t.digits ?? 2)}</td><td class="${cls}">${verdict}</td><td>${esc(t.detail)}</td></tr>`;
    })
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>adabelief-webgpu benchmark</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1600px}.charts{display:flex;flex-wrap:wrap;gap:16px}
pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
.ok{color:#070;font-weight:bold}.bad{color:#b00;font-weight:bold}.warn{background:#fff3cd;padding:8px;border:1px solid #e0c060}</style>
</head><body>
<h1>adabelief-webgpu: one optimizer step, GPU vs CPU vs TF.js</h1>
<p>${esc(report.date)} · adapter <b>${esc(`${a.vendor} / ${a.architecture}${a.description ? ` / ${a.description}` : ''}`)}</b>${a.fallback ? ' (CPU fallback adapter)' : ''} · ${esc(report.cpus)} · Node ${esc(report.node)} · run took ${report.durationS.toFixed(0)} s · load average ${report.loadAverage.before.toFixed(2)} before, ${report.loadAverage.after.toFixed(2)} after</p>
${a.fallback ? '<p class="warn">This adapter is a CPU fallback (SwiftShader or similar): every "GPU" figure here is a CPU emulating a GPU.</p>' : ''}
<p>GPU timing: ${esc(report.timing.gpu)}<br>TF.js: ${esc(report.timing.tfjs)}<br>CPU timing: ${esc(report.timing.cpu)}</p>
<h2>Targets</h2><table><tr><th>ratio</th><th>target</th><th>measured</th><th></th><th>what</th></tr>${targetRows}</table>
${report.model ? modelHtml(report.model) : ''}
${charts}
${modesHtml(report)}
<h2>All figures</h2><pre>${esc(tableText)}\n\n${esc(LEGEND.join('\n'))}</pre>
<p>Raw data: benchmark.json (same folder).</p>
</body></html>
`;
}
