/**
 * The benchmark itself, whatever runs its GPU side: flags, the measurement plan, progress, the tables, the JSON
 * and the HTML report. `npm start` (bench/run.ts) runs it with headless Chromium or Dawn through vite;
 * the bundle's bench.mjs (bench/bundle.ts, `npm run bench:bundle`) with Dawn in a bare Node process. Imports
 * neither puppeteer nor vite: what needs them comes in through `Hooks`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs as parseFlags, type ParseArgsConfig } from 'node:util';
import {
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
  modelSummary,
  modelTargets,
  pow2,
  buildReport,
  targets,
  type Measurement,
  type ModeMeasurement,
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
  /** Whether the HTML report and its PNG can be written here (needs esbuild and a browser: npm start). */
  png: boolean;
}

export function help(host: Host): string {
  const runtime = host.runtimes.includes('browser')
    ? `  --runtime browser|node  where the GPU side runs: headless Chromium (default), or this Node.js process on
                          Dawn (the optional 'webgpu' package; SwiftShader from Chromium where there is no
                          GPU); node writes benchmark-node.json / .html / .png
`
    : `  (the GPU side runs in this Node.js process on Dawn, from the 'webgpu' package beside this file; without a
   GPU, SwiftShader from an installed Chromium; results go to benchmark-node.json, drawn elsewhere with
   npx tsx bench/report-html.ts FILE.json)
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
                          most 16, as in the figures of docs/benchmark.md)
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
  --no-html               ${host.png ? 'no HTML report and no PNG' : 'no hint about drawing the JSON (this runtime writes no HTML)'}`;
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

/** The flags, as `node:util` parseArgs reads them (each flag's value checked below). */
const FLAGS = {
  quick: { type: 'boolean' },
  runtime: { type: 'string' },
  sizes: { type: 'string' },
  variants: { type: 'string' },
  modes: { type: 'string' },
  'mode-sizes': { type: 'string' },
  'no-modes': { type: 'boolean' },
  'no-variants': { type: 'boolean' },
  reps: { type: 'string' },
  repetitions: { type: 'string' },
  steps: { type: 'string' },
  'min-rep-ms': { type: 'string' },
  'max-workgroups': { type: 'string' },
  'no-tfjs': { type: 'boolean' },
  'no-cpu': { type: 'boolean' },
  'no-wasm': { type: 'boolean' },
  'cpu-threads': { type: 'string' },
  'no-model': { type: 'boolean' },
  json: { type: 'string' },
  out: { type: 'string' },
  'no-html': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const isStringFlag = (a: string) =>
  a.startsWith('--') && (FLAGS as Record<string, { type: string }>)[a.slice(2)]?.type === 'string';

/** node:util's parse error as one line naming the flag (its own messages suggest '--' tricks that do not apply). */
function usageError(e: unknown, host: Host): UsageError {
  const code = (e as { code?: string }).code ?? '';
  const quoted = /'([^' ]+)/.exec((e as Error).message)?.[1] ?? '?';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return new UsageError(`unknown flag '${quoted}'\n${help(host)}`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return new UsageError(`unexpected argument '${quoted}'\n${help(host)}`);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new UsageError(`${quoted} needs a value`);
  return new UsageError((e as Error).message);
}

/** The flags as a Config; null after --help (printed). Throws a UsageError on a bad flag. */
export function parseArgs(argv: string[], host: Host): Config | null {
  let values: ReturnType<typeof parseFlags<{ args: string[]; options: typeof FLAGS }>>['values'];
  try {
    // A string flag takes the next argument as its value even when it starts with '-' (as before: '--sizes -1'
    // is a bad size, not a missing value); node:util would call that ambiguous.
    const args: string[] = [];
    for (let i = 0; i < argv.length; i++)
      args.push(isStringFlag(argv[i]!) && i + 1 < argv.length ? `${argv[i]}=${argv[++i]}` : argv[i]!);
    ({ values } = parseFlags({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw usageError(e, host);
  }
  if (values.help) {
    console.log(help(host));
    return null;
  }
  const int = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} needs a positive integer`);
    return n;
  };
  const quick = values.quick === true;
  const runtime = values.runtime ?? host.runtimes[0]!;
  if (!(host.runtimes as string[]).includes(runtime))
    throw new UsageError(
      `--runtime must be ${host.runtimes.map((r) => `'${r}'`).join(' or ')}, got '${runtime}'`,
    );
  const sizes = values.sizes
    ? parseSizes(values.sizes)
    : quick
      ? [2 ** 12, 2 ** 16, 2 ** 20, 2 ** 22]
      : [12, 14, 16, 18, 20, 22, 24].map((k) => 2 ** k);
  const variants = values.variants
    ? values.variants.split(',').map((v) => {
        if (!(v in VARIANTS))
          throw new UsageError(`unknown variant '${v}' (have ${Object.keys(VARIANTS).join(', ')})`);
        return v as Variant;
      })
    : quick
      ? (['default'] as Variant[])
      : (['default', 'amsgrad', 'norectify'] as Variant[]);
  const modes = values['no-modes'] ? [] : values.modes ? parseModes(values.modes) : [...MODES];
  const modeSizes = values['mode-sizes'] ? parseSizes(values['mode-sizes']) : quick ? [2 ** 20] : sizes;
  const reps = int('reps', values.reps) ?? int('repetitions', values.repetitions);
  const out = values.out ? resolve(values.out) : host.defaultOut;
  const cfg: Config = {
    runtime: runtime as Runtime,
    sizes,
    variants,
    variantsTable: !values['no-variants'],
    modes,
    modeSizes,
    rep: {
      reps: reps ?? (quick ? 3 : 5),
      stepsPerRep: int('steps', values.steps) ?? 0,
      minRepMs: int('min-rep-ms', values['min-rep-ms']) ?? (quick ? 100 : 200),
      maxStepsPerRep: 200,
      warmupSteps: 6,
    },
    tfjs: !values['no-tfjs'],
    cpu: !values['no-cpu'],
    wasm: !values['no-wasm'],
    // Worker start-up and a calibration each: --quick leaves out the sizes where threads cannot pay anyway.
    wasmSizes: quick ? sizes.filter((n) => n >= 2 ** 16) : null,
    cpuThreads: int('cpu-threads', values['cpu-threads']) ?? availableParallelism(),
    model: !values['no-model'],
    html: !values['no-html'],
    out,
    json: '',
    quick,
    repsGiven: reps !== undefined,
  };
  const maxWorkgroups = int('max-workgroups', values['max-workgroups']);
  if (maxWorkgroups !== undefined) cfg.maxWorkgroups = maxWorkgroups;
  cfg.json = values.json ? resolve(values.json) : join(cfg.out, `benchmark${fileSuffix(cfg)}.json`);
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
  /**
   * Writes the HTML report of the JSON to `html` and its main chart to `png` (bench/report-html.ts); returns a
   * note for the 'wrote' line. Without it (the bundle's bench.mjs) the JSON is all.
   */
  writeReport?: (json: unknown, html: string, png: string) => Promise<string>;
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

    let modelSamples: ModelSamples | null = null;
    if (cfg.model) {
      const spec = modelSpec(cfg);
      const elements = spec.shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
      const h = head();
      process.stdout.write(
        `${h} whole model: ${spec.model} (${spec.shapes.length} tensors, ${elements.toLocaleString('en-US')} elements) and a flat tensor of as many, interleaved: 2 measurements\n`,
      );
      const m = await session.call<ModelSamples>(PAGE, 'measureModel', spec);
      modelSamples = m;
      const model = modelSummary(m);
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

    const report = buildReport({
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
      variants: cfg.variants,
      measurements,
      modeMeasurements,
      model: modelSamples,
      durationS: (performance.now() - started) / 1e3,
    });
    const { rows, modeRows, headline: top } = report;
    if (rows.length) console.log(`\n${formatTable(rows)}\n\n${LEGEND.join('\n')}\n`);
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
    if (modeRows.length) {
      console.log(
        `\nEvery mode (${modeRows[0]!.method}):\n${formatModes(modeRows)}\n\n${MODE_LEGEND.join('\n')}`,
      );
      for (const m of cfg.modes)
        console.log(`  ${m.padEnd(18)} ${MODE_DEFS[m].label}: ${MODE_DEFS[m].bytes}`);
    }

    const model = report.model;
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
    const json = { ...ratios, ...runtime, ...report, samples: measurements, modeSamples: modeMeasurements };
    writeFileSync(cfg.json, JSON.stringify(json, null, 1));
    console.log(`\nwrote ${cfg.json}`);
    if (cfg.html && hooks.writeReport) {
      mkdirSync(cfg.out, { recursive: true });
      const htmlPath = join(cfg.out, `benchmark${fileSuffix(cfg)}.html`);
      const png = join(cfg.out, `benchmark${fileSuffix(cfg)}.png`);
      console.log(`wrote ${htmlPath}${await hooks.writeReport(json, htmlPath, png)}`);
    } else if (cfg.html) {
      console.log(`the charts of this JSON: npx tsx bench/report-html.ts ${cfg.json} (in the repository)`);
    }
    console.log(`done in ${clock(performance.now() - started)}`);
  } finally {
    await session.close();
  }
}
