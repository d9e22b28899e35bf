/**
 * `npm start [-- flags]`: one optimizer step, measured side by side on this machine's WebGPU adapter (headless
 * Chromium, or Node.js on Dawn with `--runtime node`), on the CPU (Node) and with TF.js on the same adapter,
 * for a range of sizes. Prints the adapter, progress and a table; writes results/benchmark.json,
 * results/benchmark.html and results/benchmark.png (benchmark-node.* with `--runtime node`).
 * `npm start -- --help` lists the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import puppeteer, { type Browser, type HTTPRequest } from 'puppeteer-core';
import {
  chromiumArgs,
  findChromium,
  openBrowser,
  REPO_ROOT,
  type BrowserSession,
} from '../sessions/chromium.js';
import {
  IMPL_LABELS,
  VARIANTS,
  median,
  plan,
  type ModelSamples,
  type ModelSpec,
  type Part,
  type Repetitions,
  type Samples,
  type Task,
  type Variant,
} from './common.js';
import { measureCpu } from './cpu.js';
import { openDawnSession } from './node.js';
import type { AdapterReport } from './page.js';
import { resnet50Shapes } from './resnet50.js';
import {
  LEGEND,
  formatModel,
  formatTable,
  formatTargets,
  headline,
  modelSummary,
  modelTargets,
  pow2,
  renderHtml,
  targets,
  toRows,
  type Measurement,
  type ModelSummary,
  type Report,
} from './report.js';

const PAGE = '/bench/page.ts';
const TFJS_DEPS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'];

const HELP = `npm start -- [flags]
  --runtime browser|node  where the GPU side runs: headless Chromium (default), or this Node.js process on
                          Dawn (the optional 'webgpu' package; SwiftShader from Chromium where there is no
                          GPU); node writes benchmark-node.json / .html / .png
  --quick                 sizes 2^12, 2^16, 2^20, 2^22, default variant, 3 repetitions, a shorter whole-model
                          case (under 2 minutes)
  --sizes LIST            e.g. 4096,65536 or 2^12,2^20 or 2^12..2^24 (every power of two in the range)
  --variants LIST         default,amsgrad,norectify (default: all three; --quick: default)
  --reps N                timed repetitions per figure (median over them; default 5, --quick 3; at most 3
                          once a step takes over a second, unless --steps is given; whole model: 5 unless given)
  --steps N               steps per repetition (default: as many as fill --min-rep-ms, at most 200)
  --min-rep-ms MS         target duration of one repetition when --steps is not given (default 200, --quick 100)
  --max-workgroups N      workgroup cap for the fused and copy kernels (default: the optimizer's own)
  --no-tfjs | --no-cpu    skip TF.js / the CPU implementations
  --no-model              skip the whole-model case (ResNet-50's 161 tensors in a ParamArena vs one flat
                          tensor of the same 25,557,032 elements; step time ratio and host cost of step())
  --json FILE             where the JSON goes (default results/benchmark.json, or benchmark-node.json)
  --out DIR               results folder (default results/)
  --no-html               no HTML report and no PNG`;

type Runtime = 'browser' | 'node';

interface Config {
  runtime: Runtime;
  sizes: number[];
  variants: Variant[];
  rep: Repetitions;
  tfjs: boolean;
  cpu: boolean;
  model: boolean;
  html: boolean;
  out: string;
  json: string;
  maxWorkgroups?: number;
  quick: boolean;
  /** --reps was given (it then applies to the whole-model case too). */
  repsGiven: boolean;
}

function parseSize(s: string): number {
  const m = /^2\^(\d+)$/.exec(s.trim());
  const n = m ? 2 ** Number(m[1]) : Number(s);
  if (!Number.isSafeInteger(n) || n < 4) throw new Error(`bad size '${s}': expected an integer >= 4 or 2^k`);
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

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const cfg: Config = {
    runtime: 'browser',
    sizes: quick ? [2 ** 12, 2 ** 16, 2 ** 20, 2 ** 22] : [12, 14, 16, 18, 20, 22, 24].map((k) => 2 ** k),
    variants: quick ? ['default'] : ['default', 'amsgrad', 'norectify'],
    rep: {
      reps: quick ? 3 : 5,
      stepsPerRep: 0,
      minRepMs: quick ? 100 : 200,
      maxStepsPerRep: 200,
      warmupSteps: 6,
    },
    tfjs: true,
    cpu: true,
    model: true,
    html: true,
    out: join(REPO_ROOT, 'results'),
    json: '',
    quick,
    repsGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--runtime': {
        const runtime = value();
        if (runtime !== 'browser' && runtime !== 'node')
          throw new Error(`--runtime must be 'browser' or 'node', got '${runtime}'`);
        cfg.runtime = runtime;
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
              throw new Error(`unknown variant '${v}' (have ${Object.keys(VARIANTS).join(', ')})`);
            return v as Variant;
          });
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
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag '${flag}'\n${HELP}`);
    }
  }
  cfg.json ||= join(cfg.out, `benchmark${fileSuffix(cfg)}.json`);
  return cfg;
}

/** Results of the Node runtime go to benchmark-node.* beside the browser's benchmark.*. */
const fileSuffix = (cfg: Config) => (cfg.runtime === 'node' ? '-node' : '');

/** Where the GPU side runs: a page in headless Chromium, or this Node process on Dawn (no `page`). */
type GpuSession = Pick<BrowserSession, 'call' | 'close'> &
  Partial<Pick<BrowserSession, 'page' | 'url'>> & { runtime: string };

async function openGpuSession(cfg: Config): Promise<GpuSession> {
  if (cfg.runtime === 'node') {
    // Dawn rounds timestamps to a coarse grid by default (as browsers do); exact ones here.
    return openDawnSession({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  }
  const session = await openBrowser('/bench/index.html', false, { optimizeDeps: TFJS_DEPS });
  const version = await session.page.browser().version();
  return { ...session, runtime: `headless Chromium (${version})` };
}

/** Screenshots the report's main chart into `png` with the session's browser, or a headless Chromium of its own. */
async function writeChartPng(session: GpuSession, html: string, png: string): Promise<string> {
  let own: Browser | undefined;
  try {
    const browser =
      session.page?.browser() ??
      (own = await puppeteer.launch({
        executablePath: findChromium(),
        headless: true,
        args: chromiumArgs(),
      }));
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    const chart = await page.$('#main-chart');
    if (chart) await chart.screenshot({ path: png as `${string}.png` });
    await page.close();
    return chart ? ` and ${png}` : ' (no chart: no PNG)';
  } catch (e) {
    return ` (no PNG: ${(e as Error).message})`;
  } finally {
    await own?.close();
  }
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

/**
 * Reloads the benchmark page as a cross-origin isolated document (COOP same-origin + COEP require-corp, added
 * to the page's own HTML by request interception), where performance.now() has a 5 us resolution instead of
 * 100 us: the host cost of one `step()` (tens of us) can then be timed call by call. The vite client script
 * is left out of that copy (no HMR here; its websocket is refused to a document served that way). Returns
 * whether the page is isolated; on any failure, reloads the page as it was and returns false.
 */
async function isolatePage(session: Pick<BrowserSession, 'page' | 'url'>): Promise<boolean> {
  const { page, url } = session;
  const handler = (req: HTTPRequest) => {
    if (req.isInterceptResolutionHandled()) return;
    if (!req.isNavigationRequest() || req.url() !== url) {
      void req.continue();
      return;
    }
    fetch(url)
      .then(async (r) => {
        if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
        const body = (await r.text()).replace(/<script[^>]*\/@vite\/client[^>]*><\/script>/, '');
        await req.respond({
          status: 200,
          contentType: 'text/html',
          headers: {
            'Cross-Origin-Opener-Policy': 'same-origin',
            'Cross-Origin-Embedder-Policy': 'require-corp',
          },
          body,
        });
      })
      .catch(() => req.continue());
  };
  try {
    await page.setRequestInterception(true);
    page.on('request', handler);
    try {
      await page.reload({ waitUntil: 'load' });
    } finally {
      page.off('request', handler);
      await page.setRequestInterception(false);
    }
    if (await page.evaluate('globalThis.crossOriginIsolated === true')) return true;
  } catch {
    // fall through: the page as it was
  }
  await page.goto(url, { waitUntil: 'load' });
  return false;
}

const clock = (ms: number) =>
  `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

async function measure(session: GpuSession, task: Task): Promise<Samples[]> {
  const specs = task.map((p) => p.spec);
  const impl = specs[0]!.impl;
  if (impl === 'fused' || impl === 'copy') return session.call<Samples[]>(PAGE, 'measureGpu', specs);
  if (impl === 'tfjs-adam' || impl === 'tfjs-adabelief')
    return [await session.call<Samples>(PAGE, 'measureTf', specs[0])];
  return [measureCpu(specs[0]!)];
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

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const tasks = plan(cfg);
  const modelCount = cfg.model ? 2 : 0;
  console.log(
    `adabelief-webgpu benchmark: sizes ${cfg.sizes.map(pow2).join(', ')}; variants ${cfg.variants.join(', ')}; ` +
      `${cfg.model ? 'whole model (ResNet-50 vs flat); ' : ''}` +
      `${cfg.rep.reps} repetitions, median; ${tasks.reduce((n, t) => n + t.length, 0) + modelCount} measurements`,
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
  const session = await openGpuSession(cfg);
  try {
    // Only the whole-model case needs the fine timer (host cost of step()); Node's is fine already.
    const isolated =
      cfg.model && session.page && session.url
        ? await isolatePage({ page: session.page, url: session.url })
        : false;
    const adapter = await session.call<AdapterReport>(PAGE, 'init', cfg.maxWorkgroups ?? null);
    console.log(`Runtime (GPU side): ${session.runtime}`);
    describeAdapter(adapter).forEach((l) => console.log(l));
    const tfjs = cfg.tfjs ? await session.call<{ version: string; device: string }>(PAGE, 'tfjsInfo') : null;
    if (tfjs) console.log(`TF.js ${tfjs.version}, webgpu backend on the ${tfjs.device}`);
    const gpuTiming =
      `${session.runtime}: ` +
      (adapter.timestampQuery
        ? 'timestamp-query around each step (GB/s, x copy) and wall time over K queued steps (ms, speedups)'
        : 'wall time over K queued steps + queue.onSubmittedWorkDone() (no timestamp-query on this adapter)');
    console.log(`GPU timing: ${gpuTiming}`);
    console.log('CPU timing: in this Node process (V8), one thread, performance.now() over K steps');
    if (cfg.model)
      console.log(
        cfg.runtime === 'node'
          ? 'Host cost of step(): performance.now() in this Node process'
          : `Host cost of step(): performance.now() in the page, ${isolated ? 'cross-origin isolated (5 us resolution)' : 'NOT cross-origin isolated (100 us resolution: timed per batch of calls)'}`,
      );
    console.log('');

    const measurements: Measurement[] = [];
    const done = { count: 0, total: tasks.reduce((n, t) => n + t.length, 0) + modelCount };
    const line = (p: Part) =>
      `${pow2(p.spec.size).padEnd(5)} ${p.variants.join('+').padEnd(9)} ${IMPL_LABELS[p.spec.impl]}`;
    for (const task of tasks) {
      const head = `[${String(done.count + 1).padStart(3)}/${done.total} ${clock(performance.now() - started)}]`;
      const what =
        task.length > 1
          ? `${pow2(task[0]!.spec.size)} GPU kernels, interleaved: ${task.length} measurements`
          : line(task[0]!);
      if (tty || task.length > 1)
        process.stdout.write(`${head} ${what} ...${tty && task.length === 1 ? '' : '\n'}`);
      const samples = await measure(session, task);
      task.forEach((part, k) => {
        const s = samples[k]!;
        const gpu = s.gpuMs?.length ? `, GPU ${median(s.gpuMs).toFixed(3)} ms` : '';
        const result = `${median(s.wallMs).toFixed(3)} ms/step${gpu} (${s.stepsPerRep} steps x ${s.reps})${s.note ? ` ${s.note}` : ''}`;
        done.count++;
        const prefix =
          task.length > 1 ? `[${String(done.count).padStart(3)}/${done.total}]`.padEnd(head.length) : head;
        process.stdout.write(`${tty && task.length === 1 ? '\r' : ''}${prefix} ${line(part)}: ${result}\n`);
        for (const variant of part.variants) {
          measurements.push({
            ...s,
            impl: part.spec.impl,
            size: part.spec.size,
            variant,
          });
        }
      });
    }

    let model: ModelSummary | null = null;
    if (cfg.model) {
      const spec = modelSpec(cfg);
      const elements = spec.shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
      const head = `[${String(done.count + 1).padStart(3)}/${done.total} ${clock(performance.now() - started)}]`;
      process.stdout.write(
        `${head} whole model: ${spec.model} (${spec.shapes.length} tensors, ${elements.toLocaleString('en-US')} elements) and a flat tensor of as many, interleaved: 2 measurements\n`,
      );
      const m = await session.call<ModelSamples>(PAGE, 'measureModel', spec);
      model = modelSummary(m);
      const pad = (k: number) => `[${String(k).padStart(3)}/${done.total}]`.padEnd(head.length);
      const gpu = (x: number | null) => (x === null ? '' : `, GPU ${x.toFixed(3)} ms`);
      const steps = `(${model.stepsPerRep} steps x ${model.reps})`;
      console.log(
        `${pad(++done.count)} ${spec.model.padEnd(15)} arena:  ${model.modelWallMs.toFixed(3)} ms/step${gpu(model.modelGpuMs)} ${steps}; step() ${model.hostMsPerStep.toFixed(3)} ms host (mean)`,
      );
      console.log(
        `${pad(++done.count)} ${'flat tensor'.padEnd(15)} alone:  ${model.flatWallMs.toFixed(3)} ms/step${gpu(model.flatGpuMs)} ${steps}; step() ${model.hostMsPerStepFlat.toFixed(3)} ms host (mean)`,
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
    const rows = toRows(measurements);
    const head = headline(rows);
    const report: Report = {
      date: new Date().toISOString(),
      adapter,
      tfjs,
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}`,
      timing: {
        gpu: gpuTiming,
        cpu: 'Node process (V8), one thread, performance.now() over K steps',
        tfjs: tfjs
          ? `wall time over K queued steps + a 1-element read, webgpu backend on the ${tfjs.device}`
          : 'skipped',
      },
      settings: { sizes: cfg.sizes, variants: cfg.variants, ...cfg.rep, quick: cfg.quick, model: cfg.model },
      loadAverage: { before: loadBefore, after: load() },
      headline: head,
      targets: [...targets(head), ...(cfg.model ? modelTargets(model) : [])],
      rows,
      model,
      durationS: (performance.now() - started) / 1e3,
    };
    const table = formatTable(rows);
    console.log(`\n${table}\n\n${LEGEND.join('\n')}\n`);
    if (head) {
      console.log(`Targets (${head.variant}, largest size ${pow2(head.size)}, this run):`);
      console.log(formatTargets(targets(head)));
      const f = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`);
      console.log(
        `  also: fused vs CPU AdaBeliefFastCPU ${f(head.fusedVsCpu)}, vs CPU AdaBeliefCPU (f32 reference) ${f(head.fusedVsCpuReference)}`,
      );
    }

    if (model) {
      console.log(`\n${formatModel(model)}`);
      console.log('Whole-model targets (this run):');
      console.log(formatTargets(modelTargets(model)));
    }

    mkdirSync(dirname(cfg.json), { recursive: true });
    const ratios = {
      fusedVsCopy: head?.fusedVsCopy ?? null,
      fusedVsCpu: head?.fusedVsCpu ?? null,
      fusedVsTfjsAdam: head?.fusedVsTfjsAdam ?? null,
      fusedVsTfjsAdabelief: head?.fusedVsTfjsAdabelief ?? null,
      modelVsFlat: model?.modelVsFlat ?? null,
      hostMsPerStep: model?.hostMsPerStep ?? null,
    };
    const runtime = { runtime: cfg.runtime, runtimeDetail: session.runtime };
    writeFileSync(
      cfg.json,
      JSON.stringify({ ...ratios, ...runtime, ...report, samples: measurements }, null, 1),
    );
    console.log(`\nwrote ${cfg.json}`);
    if (cfg.html) {
      mkdirSync(cfg.out, { recursive: true });
      const html = renderHtml({ ...report, durationS: (performance.now() - started) / 1e3 }, `${table}`);
      const htmlPath = join(cfg.out, `benchmark${fileSuffix(cfg)}.html`);
      writeFileSync(htmlPath, html);
      const png = join(cfg.out, `benchmark${fileSuffix(cfg)}.png`);
      console.log(`wrote ${htmlPath}${await writeChartPng(session, html, png)}`);
    }
    console.log(`done in ${clock(performance.now() - started)}`);
  } finally {
    await session.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
