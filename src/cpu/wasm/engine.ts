/**
 * WasmEngine: one WebAssembly memory holding every tensor of an optimizer (layout.ts), the kernel on it, and
 * the threads that split a job between them. Threads are `worker_threads` in Node and Web Workers in
 * browsers, over one shared `WebAssembly.Memory`; the calling thread takes the first range itself and then
 * waits for the others (Atomics.wait where it may block: Node, workers; a spin on the browser's main thread).
 * Jobs below `minElementsPerThread * 2` elements, and every job before the workers have started, run on the
 * calling thread alone; larger steps run on one thread or on all, whichever is measured faster (tuneThreads),
 * so threads never make a step slower.
 *
 * Where shared memory is unavailable (no SharedArrayBuffer: a page that is not cross-origin isolated), or no
 * workers exist, or `threads: 1`, it runs on one thread and says why in `singleThreadReason`.
 */
import {
  CTRL,
  JOB,
  MAX_THREADS,
  STATS_BYTE,
  STATS_BYTES,
  planMemory,
  writeBounds,
  writeRecords,
  type MemoryPlan,
} from './layout.js';
import { instantiateKernel, kernelModule, type KernelExports } from './module.js';
import { describeValue } from '../../core/options.js';
import { workerSource, type WorkerInit } from './worker.js';

export interface ThreadOptions {
  /**
   * Threads to run on, the calling one included. Default: the cores available (os.availableParallelism() in
   * Node, navigator.hardwareConcurrency in browsers). 1: no workers.
   */
  threads?: number;
  /**
   * A job is split among at most total / minElementsPerThread threads (1: the calling thread alone), so that
   * waking a worker is always worth it. Default 32768 (measured: bench/cpu-wasm.ts).
   */
  minElementsPerThread?: number;
  /**
   * Steps large enough for threads run on one thread or on all, whichever the measured times say is faster:
   * the first 6 steps alternate the two, then the faster runs and the slower again every 64 steps (each
   * mode's time a running average), so that threads do not make steps slower, not even on a machine busy
   * with other work. The result is the same either way, bit for bit. Default true; false: always the threads.
   */
  tuneThreads?: boolean;
}

/** Steps between two re-measurements of the slower mode (tuneThreads). */
const PROBE_EVERY = 64;
/** Steps that alternate the modes first (tuneThreads). */
const SEED = 6;
/** Weight of the newest time in a mode's running average. */
const NEWEST = 0.25;

/** The default of ThreadOptions.minElementsPerThread. */
export const MIN_ELEMENTS_PER_THREAD = 32768;
/** Polls of PENDING before the calling thread blocks in Atomics.wait. */
const SPINS = 1000;

/** The parts of Node's worker_threads used here. */
interface NodeWorker {
  on(event: 'message' | 'error', listener: (value: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
type NodeWorkerCtor = new (code: string, options: { eval: true; workerData: WorkerInit }) => NodeWorker;

/** What this environment offers: a way to start workers and a core count, or why it has none. */
interface Host {
  cores: number;
  spawn?: (init: WorkerInit, onMessage: (m: unknown) => void, onError: (e: unknown) => void) => () => void;
  noWorkers?: string;
}

let browserWorkerUrl: string | undefined;

function detectHost(): Host {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (proc?.versions?.node && typeof proc.getBuiltinModule === 'function') {
    const wt = proc.getBuiltinModule('node:worker_threads') as unknown as { Worker: NodeWorkerCtor };
    const os = proc.getBuiltinModule('node:os');
    const source = workerSource('node');
    return {
      cores: os.availableParallelism(),
      spawn: (workerData, onMessage, onError) => {
        const w = new wt.Worker(source, { eval: true, workerData });
        // Referenced until it has started (so that awaiting `ready` keeps Node running), then never keeps
        // the process alive.
        w.on('message', (m) => (w.unref(), onMessage(m)));
        w.on('error', (e) => (w.unref(), onError(e)));
        return () => void w.terminate();
      },
    };
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const cores = nav?.hardwareConcurrency ?? 1;
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined') {
    return { cores, noWorkers: 'this environment has no Web Workers' };
  }
  // One Blob URL for the page's lifetime, shared by every optimizer's workers.
  const url = (browserWorkerUrl ??= URL.createObjectURL(
    new Blob([workerSource('browser')], { type: 'text/javascript' }),
  ));
  return {
    cores,
    spawn: (init, onMessage, onError) => {
      const w = new Worker(url);
      w.onmessage = (e) => onMessage(e.data);
      w.onerror = (e) => onError(e);
      w.postMessage(init);
      return () => w.terminate();
    },
  };
}

/** A shared memory of `pages` pages, or why there is none. */
function sharedMemory(pages: number): WebAssembly.Memory | string {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is unavailable (in a browser: the page is not cross-origin isolated)';
  }
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch (e) {
    return `shared WebAssembly memory is unavailable (${(e as Error).message})`;
  }
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(ctrl: Int32Array): boolean {
  try {
    Atomics.wait(ctrl, CTRL.READY, -1, 0);
    return true;
  } catch {
    return false;
  }
}

/** The workers of an engine and their state. */
interface Crew {
  ctrl: Int32Array;
  stops: (() => void)[];
  /** Why jobs no longer go to the workers (a worker failed, or they were stopped). */
  failure: string | undefined;
}

/** Tells the workers to exit and terminates them. Idempotent. */
function stopCrew(crew: Crew): void {
  if (crew.stops.length === 0) return;
  crew.failure ??= 'destroyed';
  crew.ctrl[CTRL.JOB] = JOB.exit;
  Atomics.add(crew.ctrl, CTRL.GEN, 1);
  Atomics.notify(crew.ctrl, CTRL.GEN);
  for (const stop of crew.stops) stop();
  crew.stops = [];
}

const reaper = new FinalizationRegistry<Crew>(stopCrew);

/**
 * Starts workers 1 … threads-1; resolves when all have started (or failed: then `crew.failure` says so). A
 * function apart from the engine so that the workers' listeners cannot keep the engine alive.
 */
function startCrew(
  spawn: NonNullable<Host['spawn']>,
  init: Omit<WorkerInit, 'index'>,
  threads: number,
  crew: Crew,
): Promise<void> {
  const started: Promise<void>[] = [];
  for (let index = 1; index < threads; index++) {
    started.push(
      new Promise<void>((resolve) => {
        const onError = (e: unknown) => {
          crew.failure ??= `a worker failed: ${(e as Error)?.message ?? String(e)}`;
          resolve();
        };
        crew.stops.push(spawn({ ...init, index }, () => resolve(), onError));
      }),
    );
  }
  return Promise.all(started).then(() => undefined);
}

export class WasmEngine {
  readonly plan: MemoryPlan;
  readonly memory: WebAssembly.Memory;
  /** Threads a large job runs on (the calling one included); 1 when single-threaded. */
  readonly threads: number;
  /** Why the engine runs on one thread only, when it does (undefined when it runs `threads` threads). */
  readonly singleThreadReason: string | undefined;
  /** Resolves when every worker has started (at once without workers). Jobs before it run on one thread. */
  readonly ready: Promise<void>;
  readonly minElementsPerThread: number;
  private readonly kernel: KernelExports;
  private readonly ctrl: Int32Array;
  private readonly blocking: boolean;
  /** Threads the last job ran on. */
  lastThreads = 0;
  private readonly tune: boolean;
  /** tuneThreads: ms per step on one thread and on the threads (running averages; NaN before the first). */
  private msOne = NaN;
  private msMany = NaN;
  private steps = 0;
  /** The workers' side: what their listeners and the finalizer may touch (never the engine itself). */
  private readonly crew: Crew;

  /** `name`: who is asking, for messages (the optimizer's class). */
  constructor(
    sizes: readonly number[],
    variance: boolean,
    amsgrad: boolean,
    options: ThreadOptions = {},
    name = 'WasmEngine',
  ) {
    const { threads, minElementsPerThread = MIN_ELEMENTS_PER_THREAD, tuneThreads = true } = options;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
      throw new RangeError(
        `${name}: threads must be an integer in [1, ${MAX_THREADS}], got ${describeValue(threads)}`,
      );
    }
    if (!(Number.isInteger(minElementsPerThread) && minElementsPerThread >= 1)) {
      throw new RangeError(
        `${name}: minElementsPerThread must be an integer >= 1, got ${describeValue(minElementsPerThread)}`,
      );
    }
    if (typeof tuneThreads !== 'boolean') {
      throw new TypeError(`${name}: tuneThreads must be a boolean, got ${describeValue(tuneThreads)}`);
    }
    this.tune = tuneThreads;
    this.minElementsPerThread = minElementsPerThread;
    this.plan = planMemory(sizes, variance, amsgrad);
    const host = detectHost();
    const wanted = Math.min(threads ?? host.cores, MAX_THREADS);
    const shared = wanted > 1 ? sharedMemory(this.plan.pages) : 'threads: 1';
    const reason = typeof shared === 'string' ? shared : host.noWorkers;
    this.memory =
      typeof shared === 'string'
        ? new WebAssembly.Memory({ initial: this.plan.pages, maximum: this.plan.pages })
        : shared;
    const module = kernelModule(typeof shared !== 'string');
    this.kernel = instantiateKernel(module, this.memory);
    this.ctrl = new Int32Array(this.memory.buffer, 0, CTRL.BOUNDS + MAX_THREADS + 1);
    this.ctrl[CTRL.TABLE] = this.plan.table;
    this.ctrl[CTRL.COUNT] = sizes.length;
    writeRecords(new DataView(this.memory.buffer), this.plan);
    this.blocking = canBlock(this.ctrl);

    const crew: Crew = { ctrl: this.ctrl, stops: [], failure: undefined };
    this.crew = crew;
    let ready: Promise<void> = Promise.resolve();
    if (reason === undefined && host.spawn) {
      const words = {
        ...CTRL,
        COPY: JOB.copy,
        EXIT: JOB.exit,
        STATS: JOB.stats,
        STATS_OUT: STATS_BYTE,
        SIZE: this.ctrl.length,
      };
      ready = startCrew(host.spawn, { memory: this.memory, module, words }, wanted, crew);
      // An engine dropped without destroy() (its optimizer collected) stops its workers all the same.
      reaper.register(this, crew, this);
    }
    this.threads = reason === undefined ? wanted : 1;
    this.singleThreadReason = reason;
    this.ready = ready;
  }

  /** Why jobs run on one thread now: the fixed reason, a failed worker, or undefined. */
  get currentReason(): string | undefined {
    return this.singleThreadReason ?? this.crew.failure;
  }

  /** Float32 view of `n` elements at byte `address`. */
  view(address: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, address, n);
  }

  /** Threads the next job of `total` elements runs on. */
  private threadsFor(total: number): number {
    if (this.threads === 1 || this.crew.failure !== undefined) return 1;
    if (Atomics.load(this.ctrl, CTRL.READY) !== this.threads - 1) return 1; // workers still starting
    return Math.max(1, Math.min(this.threads, Math.floor(total / this.minElementsPerThread)));
  }

  /**
   * The guard's statistics of every gradient (the records' invScale applied): the threads' f64 sums of squares
   * added in thread order, and whether any gradient element is inf or NaN.
   */
  stats(): { sum: number; found: boolean } {
    const slots = new DataView(this.memory.buffer, STATS_BYTE, STATS_BYTES * this.threads);
    for (let k = 0; k < this.threads; k++) slots.setFloat64(k * STATS_BYTES, 0, true);
    this.run('stats');
    let sum = 0;
    let found = false;
    for (let k = 0; k < this.threads; k++) {
      sum += slots.getFloat64(k * STATS_BYTES, true);
      found ||= slots.getInt32(k * STATS_BYTES + 8, true) !== 0;
    }
    return { sum, found };
  }

  /** One step of every tensor (the records written), on one thread or on the threads (see tuneThreads). */
  step(): void {
    const many = this.threadsFor(this.plan.total);
    if (many === 1 || !this.tune) {
      this.run('step', many);
      return;
    }
    // The first SEED steps alternate the modes (each one's best time is its first estimate: the first steps
    // also pay for cold caches and compilation); then the faster mode runs, and the slower one again every
    // PROBE_EVERY steps. Every time measured updates its mode's running average.
    const seeding = this.steps < SEED;
    const fast = this.msOne <= this.msMany ? 1 : many;
    const threads = seeding
      ? this.steps % 2
        ? many
        : 1
      : this.steps % PROBE_EVERY === 0
        ? many + 1 - fast
        : fast;
    this.steps++;
    const t0 = performance.now();
    this.run('step', threads);
    const ms = performance.now() - t0;
    const old = threads === 1 ? this.msOne : this.msMany;
    const next = Number.isNaN(old) ? ms : seeding ? Math.min(old, ms) : old + NEWEST * (ms - old);
    if (threads === 1) this.msOne = next;
    else this.msMany = next;
  }

  /**
   * Runs `job` over every tensor (all elements), split among `threads` threads (default: as many as the job's
   * size warrants); returns when all are done.
   */
  run(job: 'step' | 'copy' | 'stats', threads = this.threadsFor(this.plan.total)): void {
    const c = this.ctrl;
    const k = this.kernel;
    const fn =
      job === 'step'
        ? k.stepRange
        : job === 'copy'
          ? k.copyRange
          : (table: number, count: number, lo: number, hi: number) =>
              k.statsRange(table, count, lo, hi, STATS_BYTE);
    const { table, total } = this.plan;
    const count = this.plan.sizes.length;
    const active = threads;
    this.lastThreads = active;
    if (active === 1) {
      fn(table, count, 0, total);
      return;
    }
    writeBounds(c, total, active, this.threads);
    c[CTRL.JOB] = JOB[job];
    c[CTRL.PENDING] = this.threads - 1;
    Atomics.add(c, CTRL.GEN, 1);
    Atomics.notify(c, CTRL.GEN);
    try {
      fn(table, count, c[CTRL.BOUNDS]!, c[CTRL.BOUNDS + 1]!);
    } finally {
      // Even when this thread's part threw: the workers are done with the job's words before anything reuses them.
      for (let spins = 0; ; spins++) {
        const left = Atomics.load(c, CTRL.PENDING);
        if (left === 0) break;
        if (this.blocking && spins >= SPINS) Atomics.wait(c, CTRL.PENDING, left);
      }
    }
    const failed = Atomics.load(c, CTRL.FAILED);
    if (failed !== 0) {
      // That worker has stopped: from now on every job runs on this thread.
      this.crew.failure ??= `worker thread ${failed} failed during a ${job} job`;
      throw new Error(
        `the ${job} job failed on worker thread ${failed} of ${this.threads} (a trap in its part; the other parts ran)`,
      );
    }
  }

  /** Stops the workers (the engine then runs on one thread). Idempotent. */
  destroy(): void {
    reaper.unregister(this);
    stopCrew(this.crew);
  }
}
