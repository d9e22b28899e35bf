/**
 * The benchmark itself, whatever runs its GPU side: flags, the measurement plan, progress, the tables, the JSON
 * and the HTML report. `npm start` (bench/run.ts) runs it with headless Chromium or Dawn through vite;
 * the bundle's bench.mjs (bench/bundle.ts, `npm run bench:bundle`) with Dawn in a bare Node process. Imports
 * neither puppeteer nor vite: what needs them comes in through `Hooks`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  IMPL_LABELS,
  ON_N_THREADS,
  VARIANTS,
  implLabel,
  isWasm,
  median,
  plan,
  type ModelSamples,
  type ModelSpec,
  type Impl,
  type Part,
  type Repetitions,
  type Samples,
  type Task,
  type Variant,
} from './common.js';
import { measureWasm } from './wasm.js';
import { measureCpu } from './cpu.js';
import { MODES, MODE_DEFS, modeBytes, parseModes, planModes, type Mode } from './modes.js';
import type { AdapterReport } from './page.js';
import { resnet50Shapes } from './resnet50.js';
import {
  LEGEND,
  MODE_LEGEND,
  formatModel,
  formatModes,
  formatTable,
  formatTargets,
  headline,
  modelSummary,
  modelTargets,
  modesSummary,
  pow2,
  renderHtml,
  targets,
  toModeRows,
  toRows,
  type Measurement,
  type ModeMeasurement,
  type ModelSummary,
  type Report,
} from './report.js';

export const PAGE = '/bench/page.ts';

/** What differs between the CLI (npm start) and the bundle (bench.mjs): their name, runtimes and defaults. */
export interface Host {
  /** How the command is typed, for --help. */
  command: string;
  /** The runtimes this host can open (the bundle: node only). */
  runtimes: Runtime[];
  /** The results folder when --out is not given. */
  defaultOut: string;
  /** Whether the report can be rendered to a PNG (needs a browser). */
  png: boolean;
}

export function help(host: Host): string {
  const runtime = host.runtimes.includes('browser')
    ? `  --runtime browser|node  where the GPU side runs: headless Chromium (default), or this Node.js process on
                          Dawn (the optional 'webgpu' package; SwiftShader from Chromium where there is no
                          GPU); node writes benchmark-node.json / .html / .png
`
    : `  (the GPU side runs in this Node.js process on Dawn, from the 'webgpu' package beside this file; without a
   GPU, SwiftShader from an installed Chromium; results go to benchmark-node.json / .html)
`;
  return `${host.command} [flags]
${runtime}  --quick                 sizes 2^12, 2^16, 2^20, 2^22, default variant, every mode at 2^20 only, 3 repetitions,
                          a shorter whole-model case
  --sizes LIST            e.g. 4096,65536 or 2^12,2^20 or 2^12..2^24 (every power of two in the range)
  --variants LIST         default,amsgrad,norectify (default: all three; --quick: default)
  --modes LIST            ${MODES.join(',')}
                          (default: all) — each mode's fused step against a copy kernel moving its bytes
  --mode-sizes LIST       sizes of the modes section (default: --sizes; --quick: 2^20)
  --no-modes              skip the modes section
  --no-variants           skip the variants table (fused, copy, TF.js, CPU per size and variant)
  --reps N                timed repetitions per figure (median over them; default 5, --quick 3; at most 3
                          once a step takes over a second, unless --steps is given; whole model: 5 unless given)
  --steps N               steps per repetition (default: as many as fill --min-rep-ms, at most 200; modes: at
                          most 16, as a guarded optimizer takes at most 32 unconfirmed steps in flight)
  --min-rep-ms MS         target duration of one repetition when --steps is not given (default 200, --quick 100)
  --max-workgroups N      workgroup cap for the fused and copy kernels (default: the optimizer's own)
  --no-tfjs | --no-cpu    skip TF.js / the CPU implementations
  --no-wasm               skip the WebAssembly CPU rows (WASM SIMD on 1 and N threads, the N-thread copy)
  --cpu-threads N         N of those rows (default: the cores available, ${availableParallelism()} here;
                          --quick measures them at 2^16 and up only)
  --no-model              skip the whole-model case (ResNet-50's 161 tensors in a ParamArena vs one flat
                          tensor of the same 25,557,032 elements; step time ratio and host cost of step())
  --json FILE             where the JSON goes (default <out>/benchmark.json, or benchmark-node.json)
  --out DIR               results folder (default ${host.defaultOut})
  --no-html               no HTML report${host.png ? ' and no PNG' : ''}`;
}

export type Runtime = 'browser' | 'node';

export interface Config {
  runtime: Runtime;
  sizes: number[];
  variants: Variant[];
  /** Whether the variants table (fused, copy, TF.js, CPU per size and variant) is measured. */
  variantsTable: boolean;
  modes: Mode[];
  modeSizes: number[];
  rep: Repetitions;
  tfjs: boolean;
  cpu: boolean;
  /** With `cpu`: the WebAssembly rows (WASM SIMD on 1 and `cpuThreads` threads, the copy on as many). */
  wasm: boolean;
  /** Where the WebAssembly rows are measured (null: every size). */
  wasmSizes: number[] | null;
  cpuThreads: number;
  model: boolean;
  html: boolean;
  out: string;
  json: string;
  maxWorkgroups?: number;
  quick: boolean;
  /** --reps was given (it then applies to the whole-model case too). */
  repsGiven: boolean;
}

/** A bad command line: printed as one line (no stack) by `exitOnFailure`, exit status 2. */
export class UsageError extends Error {}

/** Ends the process after `main` failed: a usage error as one line naming the command, anything else with its stack. */
export function exitOnFailure(e: unknown, host: Host): never {
  if (e instanceof UsageError) {
    console.error(`${host.command.replace(/ --$/, '')}: ${e.message}`);
    process.exit(2);
  }
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
}

function parseSize(s: string): number {
  const m = /^2\^(\d+)$/.exec(s.trim());
  const n = m ? 2 ** Number(m[1]) : Number(s);
  if (!Number.isSafeInteger(n) || n < 4)
    throw new UsageError(`bad size '${s}': expected an integer from 4 to 2^53 - 1, or 2^k (k from 2 to 52)`);
  return n;
}

function parseSizes(text: string): number[] {
  const range = /^2\^(\d+)\.\.2\^(\d+)$/.exec(text.trim());
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    return Array.from({ length: Math.max(b - a + 1, 0) }, (_, i) => 2 ** (a + i));
  }
  return text.split(',').map(parseSize);
}

/** The flags as a Config; null after --help (printed). Throws a UsageError on a bad flag. */
export function parseArgs(argv: string[], host: Host): Config | null {
  const quick = argv.includes('--quick');
  const cfg: Config = {
    runtime: host.runtimes[0]!,
    sizes: quick ? [2 ** 12, 2 ** 16, 2 ** 20, 2 ** 22] : [12, 14, 16, 18, 20, 22, 24].map((k) => 2 ** k),
    variants: quick ? ['default'] : ['default', 'amsgrad', 'norectify'],
    variantsTable: true,
    modes: [...MODES],
    modeSizes: [],
    rep: {
      reps: quick ? 3 : 5,
      stepsPerRep: 0,
      minRepMs: quick ? 100 : 200,
      maxStepsPerRep: 200,
      warmupSteps: 6,
    },
    tfjs: true,
    cpu: true,
    wasm: true,
    wasmSizes: null,
    cpuThreads: availableParallelism(),
    model: true,
    html: true,
    out: host.defaultOut,
    json: '',
    quick,
    repsGiven: false,
  };
  let modeSizes: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer`);
      return n;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--runtime': {
        const runtime = value();
        if (!(host.runtimes as string[]).includes(runtime))
          throw new UsageError(
            `--runtime must be ${host.runtimes.map((r) => `'${r}'`).join(' or ')}, got '${runtime}'`,
          );
        cfg.runtime = runtime as Runtime;
        break;
      }
      case '--sizes':
        cfg.sizes = parseSizes(value());
        break;
      case '--variants':
        cfg.variants = value()
          .split(',')
          .map((v) => {
            if (!(v in VARIANTS))
              throw new UsageError(`unknown variant '${v}' (have ${Object.keys(VARIANTS).join(', ')})`);
            return v as Variant;
          });
        break;
      case '--modes':
        cfg.modes = parseModes(value());
        break;
      case '--mode-sizes':
        modeSizes = parseSizes(value());
        break;
      case '--no-modes':
        cfg.modes = [];
        break;
      case '--no-variants':
        cfg.variantsTable = false;
        break;
      case '--reps':
      case '--repetitions':
        cfg.rep.reps = int();
        cfg.repsGiven = true;
        break;
      case '--steps':
        cfg.rep.stepsPerRep = int();
        break;
      case '--min-rep-ms':
        cfg.rep.minRepMs = int();
        break;
      case '--max-workgroups':
        cfg.maxWorkgroups = int();
        break;
      case '--no-tfjs':
        cfg.tfjs = false;
        break;
      case '--no-cpu':
        cfg.cpu = false;
        break;
      case '--no-wasm':
        cfg.wasm = false;
        break;
      case '--cpu-threads':
        cfg.cpuThreads = int();
        break;
      case '--no-model':
        cfg.model = false;
        break;
      case '--no-html':
        cfg.html = false;
        break;
      case '--json':
        cfg.json = resolve(value());
        break;
      case '--out':
        cfg.out = resolve(value());
        break;
      case '--help':
      case '-h':
        console.log(help(host));
        return null;
      default:
        throw new UsageError(`unknown flag '${flag}'\n${help(host)}`);
    }
  }
  cfg.modeSizes = modeSizes ?? (quick ? [2 ** 20] : cfg.sizes);
  // Worker start-up and a calibration each: --quick leaves out the sizes where threads cannot pay anyway.
  if (quick) cfg.wasmSizes = cfg.sizes.filter((n) => n >= 2 ** 16);
  cfg.json ||= join(cfg.out, `benchmark${fileSuffix(cfg)}.json`);
  return cfg;
}

/** Results of the Node runtime go to benchmark-node.* beside the browser's benchmark.*. */
export const fileSuffix = (cfg: Config) => (cfg.runtime === 'node' ? '-node' : '');

/** Where the GPU side runs: a page in headless Chromium, or Dawn in this process. Calls bench/page.ts's exports. */
export interface GpuSession {
  /** In words, for the report. */
  runtime: string;
  call<T>(module: string, fn: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

/** What the host adds around the benchmark. */
export interface Hooks {
  /**
   * Before the first measurement, with the whole-model case on: make the fine timer available (the
   * browser's cross-origin isolation). Returns whether it is.
   */
  isolate?: () => Promise<boolean>;
  /** Host-cost timing, in words (default: Node's performance.now()). */
  hostTiming?: (isolated: boolean) => string;
  /** Renders the report's main chart to `png`; returns a note for the 'wrote' line. */
  writePng?: (html: string, png: string) => Promise<string>;
}

/**
 * The whole-model case: ResNet-50's shapes. 5 repetitions unless --reps is given (also with --quick: one step
 * takes most of a second on SwiftShader and 3 are too few for a ratio), fewer warm-up steps and host-cost
 * batches with --quick.
 */
function modelSpec(cfg: Config): ModelSpec {
  return {
    model: 'ResNet-50',
    shapes: resnet50Shapes(),
    ...cfg.rep,
    reps: cfg.repsGiven ? cfg.rep.reps : 5,
    warmupSteps: cfg.quick ? 3 : cfg.rep.warmupSteps,
    hostBatches: cfg.quick ? 20 : 50,
    hostBatchSize: 50,
  };
}

const clock = (ms: number) =>
  `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

/** The threads a CPU implementation runs on (N for 'wasm-N' and 'cpu-copy-N'). */
const threadsOf = (cfg: Config, impl: Impl) => (ON_N_THREADS.includes(impl) ? cfg.cpuThreads : 1);

async function measure(session: GpuSession, task: Task, cfg: Config): Promise<Samples[]> {
  const specs = task.map((p) => p.spec);
  const spec = specs[0]!;
  const impl = spec.impl;
  if (impl === 'fused' || impl === 'copy') return session.call<Samples[]>(PAGE, 'measureGpu', specs);
  if (impl === 'tfjs-adam' || impl === 'tfjs-adabelief')
    return [await session.call<Samples>(PAGE, 'measureTf', spec)];
  const threads = threadsOf(cfg, impl);
  if (isWasm(impl)) return [{ ...(await measureWasm({ ...spec, impl, threads })), threads }];
  return [{ ...measureCpu(spec), threads }];
}

function describeAdapter(a: AdapterReport): string[] {
  const name =
    [a.vendor, a.architecture, a.description, a.device].filter(Boolean).join(' / ') || '(no adapter info)';
  const lines = [
    `WebGPU adapter: ${name}${a.fallback ? '  [fallback / CPU adapter]' : ''}`,
    `  timestamp-query: ${a.timestampQuery ? 'yes' : 'no'}; maxStorageBufferBindingSize ${a.maxStorageBufferBindingSize}, maxBufferSize ${a.maxBufferSize}`,
    `  fused + copy kernels: workgroup size ${a.workgroupSize}, at most ${a.maxWorkgroups} workgroups per dispatch (grid-stride)`,
  ];
  if (a.fallback)
    lines.push(
      '  NOTE: this is a CPU fallback adapter (SwiftShader or similar): every "GPU" figure below is a CPU emulating a GPU.',
    );
  return lines;
}

/** Runs the benchmark on `session` (closed at the end) and writes the JSON and the HTML report. */
export async function runBenchmark(cfg: Config, session: GpuSession, hooks: Hooks = {}): Promise<void> {
  const started = performance.now();
  const tasks = cfg.variantsTable ? plan({ ...cfg, wasmSizes: cfg.wasmSizes ?? undefined }) : [];
  const modeTasks = cfg.modes.length
    ? planModes({ sizes: cfg.modeSizes, modes: cfg.modes, rep: cfg.rep })
    : [];
  const modeCount = modeTasks.reduce((n, t) => n + t.specs.length, 0);
  const modelCount = cfg.model ? 2 : 0;
  const total = tasks.reduce((n, t) => n + t.length, 0) + modeCount + modelCount;
  console.log(
    `adabelief-webgpu benchmark: ` +
      (cfg.variantsTable
        ? `sizes ${cfg.sizes.map(pow2).join(', ')}; variants ${cfg.variants.join(', ')}; `
        : '') +
      (cfg.modes.length ? `modes ${cfg.modes.join(', ')} at ${cfg.modeSizes.map(pow2).join(', ')}; ` : '') +
      `${cfg.model ? 'whole model (ResNet-50 vs flat); ' : ''}` +
      `${cfg.rep.reps} repetitions, median; ${total} measurements`,
  );
  const tty = process.stdout.isTTY === true;
  const load = () => loadavg()[0]!;
  const loadBefore = load();
  const busy = (l: number) => l > 0.5 * cpus().length;
  if (busy(loadBefore)) {
    console.log(
      `NOTE: the machine is busy (1-minute load average ${loadBefore.toFixed(2)} on ${cpus().length} CPUs): figures will be noisy.`,
    );
  }
  try {
    // Only the whole-model case needs the fine timer (host cost of step()); Node's is fine already.
    const isolated = cfg.model && hooks.isolate ? await hooks.isolate() : false;
    const adapter = await session.call<AdapterReport>(PAGE, 'init', cfg.maxWorkgroups ?? null);
    console.log(`Runtime (GPU side): ${session.runtime}`);
    describeAdapter(adapter).forEach((l) => console.log(l));
    const tfjs =
      cfg.tfjs && cfg.variantsTable
        ? await session.call<{ version: string; device: string }>(PAGE, 'tfjsInfo')
        : null;
    if (tfjs) console.log(`TF.js ${tfjs.version}, webgpu backend on the ${tfjs.device}`);
    const cpuTiming =
      'in this Node process (V8), performance.now() over K steps; JavaScript on its thread' +
      (cfg.wasm
        ? `, WASM SIMD on 1 and on ${cfg.cpuThreads} worker threads (${availableParallelism()} cores available)`
        : '');
    const gpuTiming =
      `${session.runtime}: ` +
      (adapter.timestampQuery
        ? 'timestamp-query around each step (GB/s, x copy) and wall time over K queued steps (ms, speedups)'
        : 'wall time over K queued steps + queue.onSubmittedWorkDone() (no timestamp-query on this adapter)');
    console.log(`GPU timing: ${gpuTiming}`);
    console.log(`CPU timing: ${cpuTiming}`);
    if (cfg.model)
      console.log(
        `Host cost of step(): ${hooks.hostTiming?.(isolated) ?? 'performance.now() in this Node process'}`,
      );
    console.log('');

    const measurements: Measurement[] = [];
    let count = 0;
    const head = () => `[${String(count + 1).padStart(3)}/${total} ${clock(performance.now() - started)}]`;
    const pad = (width: number) => `[${String(count).padStart(3)}/${total}]`.padEnd(width);
    const figures = (s: Samples) => {
      const gpu = s.gpuMs?.length ? `, GPU ${median(s.gpuMs).toFixed(3)} ms` : '';
      return `${median(s.wallMs).toFixed(3)} ms/step${gpu} (${s.stepsPerRep} steps x ${s.reps})${s.note ? ` ${s.note}` : ''}`;
    };
    const line = (p: Part) =>
      `${pow2(p.spec.size).padEnd(5)} ${p.variants.join('+').padEnd(9)} ${implLabel(p.spec.impl, threadsOf(cfg, p.spec.impl))}`;
    for (const task of tasks) {
      const h = head();
      const what =
        task.length > 1
          ? `${pow2(task[0]!.spec.size)} GPU kernels, interleaved: ${task.length} measurements`
          : line(task[0]!);
      if (tty || task.length > 1)
        process.stdout.write(`${h} ${what} ...${tty && task.length === 1 ? '' : '\n'}`);
      const samples = await measure(session, task, cfg);
      task.forEach((part, k) => {
        const s = samples[k]!;
        count++;
        const prefix = task.length > 1 ? pad(h.length) : h;
        process.stdout.write(
          `${tty && task.length === 1 ? '\r' : ''}${prefix} ${line(part)}: ${figures(s)}\n`,
        );
        for (const variant of part.variants) {
          measurements.push({ ...s, impl: part.spec.impl, size: part.spec.size, variant });
        }
      });
    }

    const modeMeasurements: ModeMeasurement[] = [];
    for (const task of modeTasks) {
      const h = head();
      console.log(`${h} ${pow2(task.size)} modes, interleaved: ${task.specs.length} measurements`);
      const samples = await session.call<Samples[]>(
        PAGE,
        'measureModes',
        task.specs,
        cfg.maxWorkgroups ?? null,
      );
      task.specs.forEach((spec, k) => {
        const s = samples[k]!;
        count++;
        const serves = task.serves[k]!;
        const what =
          spec.kind === 'fused'
            ? `${spec.mode} (${modeBytes(spec.mode)} B/elem) fused`
            : `copy kernel, ${modeBytes(spec.mode)} B/elem (${serves.join(', ')})`;
        console.log(`${pad(h.length)} ${pow2(task.size).padEnd(5)} ${what}: ${figures(s)}`);
        for (const mode of serves) modeMeasurements.push({ ...s, mode, kind: spec.kind, size: spec.size });
      });
    }

    let model: ModelSummary | null = null;
    if (cfg.model) {
      const spec = modelSpec(cfg);
      const elements = spec.shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
      const h = head();
      process.stdout.write(
        `${h} whole model: ${spec.model} (${spec.shapes.length} tensors, ${elements.toLocaleString('en-US')} elements) and a flat tensor of as many, interleaved: 2 measurements\n`,
      );
      const m = await session.call<ModelSamples>(PAGE, 'measureModel', spec);
      model = modelSummary(m);
      const gpu = (x: number | null) => (x === null ? '' : `, GPU ${x.toFixed(3)} ms`);
      const steps = `(${model.stepsPerRep} steps x ${model.reps})`;
      count++;
      console.log(
        `${pad(h.length)} ${spec.model.padEnd(15)} arena:  ${model.modelWallMs.toFixed(3)} ms/step${gpu(model.modelGpuMs)} ${steps}; step() ${model.hostMsPerStep.toFixed(3)} ms host (mean)`,
      );
      count++;
      console.log(
        `${pad(h.length)} ${'flat tensor'.padEnd(15)} alone:  ${model.flatWallMs.toFixed(3)} ms/step${gpu(model.flatGpuMs)} ${steps}; step() ${model.hostMsPerStepFlat.toFixed(3)} ms host (mean)`,
      );
    }

    const order = (m: Measurement) => [
      cfg.variants.indexOf(m.variant),
      m.size,
      Object.keys(IMPL_LABELS).indexOf(m.impl),
    ];
    measurements.sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    });
    modeMeasurements.sort(
      (a, b) =>
        a.size - b.size || MODES.indexOf(a.mode) - MODES.indexOf(b.mode) || a.kind.localeCompare(b.kind),
    );
    const rows = toRows(measurements);
    const modeRows = toModeRows(modeMeasurements);
    const modes = modesSummary(modeRows);
    const top = headline(rows);
    const report: Report = {
      date: new Date().toISOString(),
      adapter,
      tfjs,
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}`,
      timing: {
        gpu: gpuTiming,
        cpu: cpuTiming,
        tfjs: tfjs
          ? `wall time over K queued steps + a 1-element read, webgpu backend on the ${tfjs.device}`
          : 'skipped',
      },
      settings: {
        sizes: cfg.variantsTable ? cfg.sizes : [],
        variants: cfg.variantsTable ? cfg.variants : [],
        modes: cfg.modes,
        modeSizes: cfg.modes.length ? cfg.modeSizes : [],
        ...cfg.rep,
        quick: cfg.quick,
        model: cfg.model,
        maxWorkgroups: cfg.maxWorkgroups ?? null,
        wasm: cfg.cpu && cfg.wasm,
        wasmSizes: cfg.cpu && cfg.wasm ? (cfg.wasmSizes ?? cfg.sizes) : [],
        cpuThreads: cfg.cpuThreads,
      },
      loadAverage: { before: loadBefore, after: load() },
      headline: top,
      targets: [...(cfg.variantsTable ? targets(top) : []), ...(cfg.model ? modelTargets(model) : [])],
      rows,
      model,
      modes,
      modeRows,
      durationS: (performance.now() - started) / 1e3,
    };
    const table = rows.length ? formatTable(rows) : '';
    if (table) console.log(`\n${table}\n\n${LEGEND.join('\n')}\n`);
    if (top) {
      console.log(`Targets (${top.variant}, largest size ${pow2(top.size)}, this run):`);
      console.log(formatTargets(targets(top)));
      const f = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`);
      const fastest = top.fastestCpu ? implLabel(top.fastestCpu, top.cpuThreads) : '-';
      console.log(
        `  also: fused vs the fastest CPU optimizer (${fastest}) ${f(top.fusedVsCpu)}, vs CPU AdaBeliefFastCPU ${f(top.fusedVsCpuFastJs)}, vs CPU AdaBeliefCPU (f32 reference) ${f(top.fusedVsCpuReference)}`,
      );
      console.log(
        `  CPU: WASM SIMD vs AdaBeliefFastCPU ${f(top.wasmVsFastJs)}, WASM on ${top.cpuThreads ?? 'N'} threads vs 1 ${f(top.wasmThreadsVsOne)}`,
      );
    }
    const modesTable = modeRows.length ? formatModes(modeRows) : '';
    if (modesTable) {
      console.log(`\nEvery mode (${modeRows[0]!.method}):\n${modesTable}\n\n${MODE_LEGEND.join('\n')}`);
      for (const m of cfg.modes)
        console.log(`  ${m.padEnd(18)} ${MODE_DEFS[m].label}: ${MODE_DEFS[m].bytes}`);
    }

    if (model) {
      console.log(`\n${formatModel(model)}`);
      console.log('Whole-model targets (this run):');
      console.log(formatTargets(modelTargets(model)));
    }

    mkdirSync(dirname(cfg.json), { recursive: true });
    const ratios = {
      fusedVsCopy: top?.fusedVsCopy ?? null,
      fusedVsCpu: top?.fusedVsCpu ?? null,
      fastestCpu: top?.fastestCpu ?? null,
      fusedVsCpuFastJs: top?.fusedVsCpuFastJs ?? null,
      cpuFastVsCpuCopy: top?.cpuFastVsCpuCopy ?? null,
      fastJsVsCpuCopy: top?.fastJsVsCpuCopy ?? null,
      wasmVsFastJs: top?.wasmVsFastJs ?? null,
      wasmThreadsVsOne: top?.wasmThreadsVsOne ?? null,
      cpuThreads: cfg.cpu && cfg.wasm ? cfg.cpuThreads : null,
      fusedVsTfjsAdam: top?.fusedVsTfjsAdam ?? null,
      fusedVsTfjsAdabelief: top?.fusedVsTfjsAdabelief ?? null,
      modelVsFlat: model?.modelVsFlat ?? null,
      hostMsPerStep: model?.hostMsPerStep ?? null,
    };
    const runtime = { runtime: cfg.runtime, runtimeDetail: session.runtime };
    writeFileSync(
      cfg.json,
      JSON.stringify(
        { ...ratios, ...runtime, ...report, samples: measurements, modeSamples: modeMeasurements },
        null,
        1,
      ),
    );
    console.log(`\nwrote ${cfg.json}`);
    if (cfg.html) {
      mkdirSync(cfg.out, { recursive: true });
      const text = [table, modesTable].filter(Boolean).join('\n\n');
      const html = renderHtml({ ...report, durationS: (performance.now() - started) / 1e3 }, text);
      const htmlPath = join(cfg.out, `benchmark${fileSuffix(cfg)}.html`);
      writeFileSync(htmlPath, html);
      const png = join(cfg.out, `benchmark${fileSuffix(cfg)}.png`);
      console.log(`wrote ${htmlPath}${hooks.writePng ? await hooks.writePng(html, png) : ''}`);
    }
    console.log(`done in ${clock(performance.now() - started)}`);
  } finally {
    await session.close();
  }
}
