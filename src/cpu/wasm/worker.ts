/**
 * The worker threads of the WASM CPU optimizer: `workerMain` is each worker's whole program. It is sent to the
 * worker as source text (Function.prototype.toString), so it must stay self-contained: no imports, no
 * identifiers from outside its body, no named inner functions (a bundler keeping names would wrap them in a
 * helper the worker lacks). The same function runs in Node (`worker_threads`, eval) and in browsers (a
 * module-less Web Worker from a Blob URL); `workerSource` adds the few lines that differ.
 *
 * Protocol (control words, layout.ts CTRL): the worker instantiates the kernel on the shared memory, counts
 * itself in READY, then waits for GEN to change. On each change it runs JOB over its bounds [BOUNDS + index,
 * BOUNDS + index + 1) — possibly empty; the statistics job writes its slot even then — and decrements PENDING, notifying the caller when it reaches 0. The
 * caller never changes the job's words before PENDING is 0, so every worker sees every generation once. A
 * worker whose job throws (a trap) writes its index into FAILED before it decrements PENDING, so the caller
 * never waits for it forever, and then stops.
 */

/** What a worker gets at start. */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  /** This worker's thread index (1 … threads-1; the calling thread is 0). */
  index: number;
  /** The control word indices and job codes (layout.ts), passed in so that the worker imports nothing. */
  words: {
    GEN: number;
    PENDING: number;
    JOB: number;
    READY: number;
    TABLE: number;
    COUNT: number;
    FAILED: number;
    BOUNDS: number;
    COPY: number;
    EXIT: number;
    STATS: number;
    /** Byte address of thread 0's statistics; thread k's are 16 × k further. */
    STATS_OUT: number;
    SIZE: number;
  };
}

type RangeFn = (table: number, count: number, lo: number, hi: number, out?: number) => void;

/** A worker's program: instantiate, say ready, then serve jobs until JOB.exit. */
export function workerMain(init: WorkerInit, post: (message: string) => void): void {
  const { memory, module, index, words: w } = init;
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as {
    stepRange: RangeFn;
    copyRange: RangeFn;
    statsRange: RangeFn;
  };
  const c = new Int32Array(memory.buffer, 0, w.SIZE);
  let seen = Atomics.load(c, w.GEN);
  Atomics.add(c, w.READY, 1);
  post('ready');
  for (;;) {
    while (Atomics.load(c, w.GEN) === seen) Atomics.wait(c, w.GEN, seen);
    seen = Atomics.load(c, w.GEN);
    const job = c[w.JOB]!;
    if (job === w.EXIT) return;
    const lo = c[w.BOUNDS + index]!;
    const hi = c[w.BOUNDS + index + 1]!;
    let failed = false;
    try {
      if (job === w.STATS) kernel.statsRange(c[w.TABLE]!, c[w.COUNT]!, lo, hi, w.STATS_OUT + 16 * index);
      else if (lo < hi)
        (job === w.COPY ? kernel.copyRange : kernel.stepRange)(c[w.TABLE]!, c[w.COUNT]!, lo, hi);
    } catch {
      // Say so before counting this job done (the caller checks FAILED once PENDING is 0), then stop.
      failed = true;
      Atomics.compareExchange(c, w.FAILED, 0, index);
    }
    if (Atomics.sub(c, w.PENDING, 1) === 1) Atomics.notify(c, w.PENDING);
    if (failed) return;
  }
}

/** The source of a worker: Node's (an eval'd CommonJS script) or the browser's (a classic worker script). */
export function workerSource(kind: 'node' | 'browser'): string {
  const main = `(${workerMain.toString()})`;
  return kind === 'node'
    ? `const wt = require('node:worker_threads');\n${main}(wt.workerData, (m) => wt.parentPort.postMessage(m));`
    : `self.onmessage = (e) => {\n  self.onmessage = null;\n  ${main}(e.data, (m) => self.postMessage(m));\n};`;
}
