/**
 * The demo pages (demo/). In Node: the toy functions' gradients, the path figures, and how far the claims of
 * the |x| + |y| problem carry beyond the page's own start (the CPU references over 100 starts — the page's
 * note quotes these figures). In headless Chromium (WebGPU on whatever adapter it has): every page loads with
 * no console error and no uncaught (WebGPU) error and finishes its run, served as `npm run demo` serves it
 * and as the static build; the trajectories page's claims are asserted from the numbers it computed, and its
 * GPU paths are checked step by step against the CPU references.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Row } from '../../bench/report.js';
import { claimsFor, pathMetrics, type Claim, type PathMetrics } from '../../demo/lib/metrics.js';
import { TOY_FUNCTIONS, TOY_IDS, type ToyId, type ToySettings } from '../../demo/lib/toy-functions.js';
import { AdaBeliefCPU, AdamCPU, SGDCPU } from '../../src/cpu/reference.js';
import { ulpF32 } from '../helpers/compare.js';
import { DEMO_CONFIG, openDemo, type DemoSession, type Visit } from '../../sessions/demo.js';
import { EPS_F32, ULP_PER_STEP } from '../helpers/tolerance.js';

type Name = 'adabelief' | 'adam' | 'sgd';
const NAMES: Name[] = ['adabelief', 'adam', 'sgd'];

interface TrajectoriesResult {
  page: 'trajectories';
  function: ToyId;
  settings: ToySettings;
  adapter: { vendor: string; architecture: string; description: string; fallback: boolean };
  gpuMs: number;
  optimizers: Record<Name, { label: string; metrics: PathMetrics; path: (number | null)[] }>;
  claims: Claim[];
}

/** The CPU reference of each page optimizer, with the options demo/lib/optimizers.ts gives it. */
function cpuOptimizer(name: Name, p: Float32Array, s: ToySettings): { step(g: Float32Array[]): void } {
  const shared = { lr: s.lr, betas: [s.beta1, s.beta2] as const, eps: s.eps, weightDecay: s.weightDecay };
  if (name === 'adabelief')
    return new AdaBeliefCPU([p], { ...shared, rectify: s.rectify, degeneratedToSgd: s.degeneratedToSgd });
  if (name === 'adam') return new AdamCPU([p], shared);
  return new SGDCPU([p], { lr: s.sgdLr, momentum: s.momentum, weightDecay: s.weightDecay });
}

describe('toy functions and path figures (Node)', () => {
  test('each gradient matches central differences of its value', () => {
    // Central differences in f64 with h = 1e-5: truncation error ~h²·|f'''| (≲ 1e-6 here) plus rounding
    // ~ε64·|f|/h (≲ 1e-9): 1e-5 relative (plus 1e-5 absolute) is far above both and far below a wrong term.
    const h = 1e-5;
    for (const id of TOY_IDS) {
      const f = TOY_FUNCTIONS[id];
      let worst = 0;
      for (let i = 0; i < 50; i++) {
        const x = f.view.x[0] + ((i * 0.6180339887) % 1) * (f.view.x[1] - f.view.x[0]);
        const y = f.view.y[0] + ((i * 0.7548776662 + 0.1) % 1) * (f.view.y[1] - f.view.y[0]);
        if (id === 'abs' && (Math.abs(x) < 2 * h || Math.abs(y) < 2 * h)) continue; // the kinks
        const [gx, gy] = f.gradient(x, y);
        const nx = (f.value(x + h, y) - f.value(x - h, y)) / (2 * h);
        const ny = (f.value(x, y + h) - f.value(x, y - h)) / (2 * h);
        const err = Math.max(Math.abs(gx - nx) / (Math.abs(nx) + 1), Math.abs(gy - ny) / (Math.abs(ny) + 1));
        worst = Math.max(worst, err);
      }
      console.log(`${id}: gradient vs central differences, worst ${worst.toExponential(2)} (tolerance 1e-5)`);
      expect(worst, id).toBeLessThan(1e-5);
    }
  });

  test('path figures: travel per axis, longest step, arrival, divergence', () => {
    const f = TOY_FUNCTIONS.abs;
    const m = pathMetrics(f, [1, 0.01, 0.5, -0.01, 0.02, 0.01, 0.01, 0]);
    expect(m.steps).toBe(3);
    expect(m.sumAbsDx).toBeCloseTo(0.99, 12);
    expect(m.sumAbsDy).toBeCloseTo(0.05, 12);
    expect(m.maxStep).toBeCloseTo(Math.hypot(0.5, 0.02), 12);
    expect(m.stepsToReach).toBe(2); // |(0.02, 0.01)| < reachRadius 0.05
    expect(m.distance).toBeCloseTo(0.01, 12);
    expect(m.diverged).toBeNull();
    const bad = pathMetrics(f, [1, 0, 1e30, 0, NaN, NaN]);
    expect(bad).toMatchObject({ diverged: 2, distance: null, sumAbsDy: null, final: [null, null] });
    expect(() => pathMetrics(f, [1, 2, 3])).toThrow(/path length 3/);
  });
});

describe('how far the |x| + |y| claims carry: CPU references over 100 starts (the page quotes this)', () => {
  const preset = TOY_FUNCTIONS.abs.preset;
  const sign = (v: number) => (v > 0 ? 1 : v < 0 ? -1 : 0);
  const checkpoints = [100, 200, 300, 400];

  /** AdaBelief's Σ|Δy| over Adam's, and whether AdaBelief ends nearer, at each checkpoint. */
  function race(startY: number, rectify: boolean): { ratio: number; nearer: boolean }[] {
    const s = { ...preset, startY, rectify };
    const a = new Float32Array([s.startX, startY]);
    const b = new Float32Array([s.startX, startY]);
    const optA = cpuOptimizer('adabelief', a, s);
    const optB = cpuOptimizer('adam', b, s);
    let dyA = 0;
    let dyB = 0;
    const out = [];
    for (let t = 1; t <= checkpoints.at(-1)!; t++) {
      const [ya, yb] = [a[1]!, b[1]!];
      optA.step([new Float32Array([sign(a[0]!), sign(a[1]!)])]);
      optB.step([new Float32Array([sign(b[0]!), sign(b[1]!)])]);
      dyA += Math.abs(a[1]! - ya);
      dyB += Math.abs(b[1]! - yb);
      if (checkpoints.includes(t))
        out.push({ ratio: dyA / dyB, nearer: Math.hypot(a[0]!, a[1]!) < Math.hypot(b[0]!, b[1]!) });
    }
    return out;
  }

  const starts = Array.from({ length: 100 }, (_, i) => (i + 1) * 1e-4);
  const summary = (rectify: boolean) => {
    const runs = starts.map((y) => race(y, rectify));
    return checkpoints.map((steps, k) => {
      const ratios = runs.map((r) => r[k]!.ratio);
      const s = {
        steps,
        min: Math.min(...ratios),
        max: Math.max(...ratios),
        below: ratios.filter((r) => r < 1).length,
        nearer: runs.filter((r) => r[k]!.nearer).length,
      };
      console.log(
        `rectify ${rectify ? 'on ' : 'off'} ${steps} steps: AdaBelief Σ|Δy| / Adam's ${s.min.toFixed(2)}..${s.max.toFixed(2)}, ` +
          `below 1 for ${s.below}/100 starts; AdaBelief nearer the minimum for ${s.nearer}/100`,
      );
      return s;
    });
  };

  test('rectify on (the preset): less travel in y for every start; nearer after 200-400 steps', () => {
    const [at100, ...later] = summary(true);
    expect(at100!.nearer, 'after 100 steps Adam is still nearer (the page says so)').toBe(0);
    for (const s of later) {
      expect(s.below).toBe(100);
      expect(s.min).toBeGreaterThanOrEqual(0.15); // page: 0.19–0.68×
      expect(s.max).toBeLessThanOrEqual(0.7);
      expect(s.nearer).toBe(100);
    }
  });

  test('rectify off: nearer for most starts, but Σ|Δy| from 0.4x to 3x of Adam’s', () => {
    for (const s of summary(false).slice(1)) {
      expect(s.nearer).toBeGreaterThanOrEqual(80); // page: "for most starts"
      expect(s.min).toBeGreaterThan(0.35); // page: "from 0.4×"
      expect(s.min).toBeLessThan(0.5);
      expect(s.max).toBeGreaterThan(2.5); // page: "to 3×"
      expect(s.max).toBeLessThan(3.2);
      expect(s.below).toBeGreaterThanOrEqual(18); // page: "only about a quarter of the starts"
      expect(s.below).toBeLessThanOrEqual(35);
    }
  });

  test('the rectification factor at step 200 is about 0.3 (β2 = 0.999)', () => {
    const b2 = preset.beta2;
    const rhoInf = 2 / (1 - b2) - 1;
    const t = 200;
    const rho = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
    const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
    console.log(`rectification factor at step ${t}: ${r.toFixed(3)}`);
    expect(Math.abs(r - 0.3)).toBeLessThan(0.02);
  });
});

/** Fails with the page's own words when it logged an error, threw, or did not finish. */
function expectClean(v: Visit, what: string): void {
  expect(v.errors, `${what}: console errors / uncaught exceptions`).toEqual([]);
  expect(v.state, `${what}: final state`).toBe('done');
  console.log(`${what}: done in ${(v.ms / 1e3).toFixed(1)} s, no console error`);
}

const fmt = (x: number | null) => (x === null ? 'null' : x.toPrecision(4));

describe('demo pages in headless Chromium (the dev server of npm run demo)', () => {
  let demo: DemoSession;
  const visits = new Map<string, Promise<Visit>>();
  /** Opens `path` once per test file (later tests reuse the visit) and closes its tab. */
  const visit = (path: string) => {
    if (!visits.has(path))
      visits.set(
        path,
        demo.visit(path).then(async (v) => {
          await v.page.close();
          return v;
        }),
      );
    return visits.get(path)!;
  };
  const trajectories = async (query: string) => {
    const v = await visit(`/trajectories.html?${query}`);
    expectClean(v, `trajectories ?${query}`);
    const r = v.result as TrajectoriesResult;
    for (const n of NAMES) {
      const m = r.optimizers[n].metrics;
      console.log(
        `  ${r.optimizers[n].label.padEnd(34)} final (${fmt(m.final[0])}, ${fmt(m.final[1])}) distance ${fmt(m.distance)} ` +
          `Σ|Δx| ${fmt(m.sumAbsDx)} Σ|Δy| ${fmt(m.sumAbsDy)} longest step ${fmt(m.maxStep)} reached at ${m.stepsToReach}`,
      );
    }
    return r;
  };
  const claim = (r: TrajectoriesResult, id: string) => {
    const c = r.claims.find((x) => x.id === id);
    expect(c, `claim ${id}`).toBeDefined();
    console.log(`  claim ${id}: ${c!.holds ? 'holds' : 'does not hold'} — ${c!.text}: ${c!.detail}`);
    return c!;
  };

  beforeAll(async () => {
    demo = await openDemo();
  });
  afterAll(async () => demo?.close());

  test('index page: shows the adapter', async () => {
    const v = await visit('/index.html');
    expectClean(v, 'index');
    const { adapter } = v.result as { adapter: TrajectoriesResult['adapter'] };
    console.log(
      `WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}${adapter.fallback ? ' (CPU fallback)' : ''}`,
    );
    expect(adapter.vendor + adapter.architecture + adapter.description).not.toBe('');
  });

  test('|x| + |y| (preset): AdaBelief travels less in y than Adam and ends nearer the minimum', async () => {
    const r = await trajectories('fn=abs');
    const [a, b] = [r.optimizers.adabelief.metrics, r.optimizers.adam.metrics];
    expect(a.steps).toBe(300);
    console.log(`  GPU: ${a.steps} steps x 3 optimizers in ${r.gpuMs.toFixed(0)} ms`);
    expect(a.sumAbsDy!).toBeLessThan(b.sumAbsDy!);
    expect(a.distance!).toBeLessThan(b.distance!);
    // The page's own verdicts agree with its numbers.
    expect(claim(r, 'less-oscillation').holds).toBe(true);
    expect(claim(r, 'nearer').holds).toBe(true);
  });

  test('|x| + |y|: every GPU step of every optimizer matches its CPU reference', async () => {
    // The gradient of |x| + |y| is exact (±1 or 0) in any precision, so the CPU reference (f32) is fed the
    // GPU's own point at each step and must land where the GPU did. Tolerance per step k (test/helpers/tolerance.ts):
    // one ulp of the result for the final rounding, plus ULP_PER_STEP·k·ε of the step's length for the
    // optimizer state's error carried over k steps (WGSL's sqrt and division are not correctly rounded).
    const r = await trajectories('fn=abs');
    for (const name of NAMES) {
      const path = r.optimizers[name].path as number[];
      const p = new Float32Array(2);
      const opt = cpuOptimizer(name, p, r.settings);
      let worst = 0;
      for (let k = 0; 2 * k + 3 < path.length; k++) {
        p.set([path[2 * k]!, path[2 * k + 1]!]);
        const g = TOY_FUNCTIONS.abs.gradient(p[0]!, p[1]!);
        opt.step([new Float32Array(g)]);
        for (const i of [0, 1]) {
          const gpu = path[2 * k + 2 + i]!;
          const step = Math.abs(p[i]! - path[2 * k + i]!);
          const tol = ulpF32(p[i]!) + ULP_PER_STEP * (k + 1) * EPS_F32 * step;
          worst = Math.max(worst, Math.abs(gpu - p[i]!) / tol);
        }
      }
      console.log(
        `  ${name}: GPU vs CPU reference, worst step at ${(worst * 100).toFixed(1)}% of its tolerance`,
      );
      expect(worst, name).toBeLessThanOrEqual(1);
    }
  });

  test('|x| + |y| with rectify off: the numbers the page quotes for this start', async () => {
    const r = await trajectories('fn=abs&rectify=0');
    const [a, b] = [r.optimizers.adabelief.metrics, r.optimizers.adam.metrics];
    const ratio = a.sumAbsDy! / b.sumAbsDy!;
    console.log(`  Σ|Δy| AdaBelief / Adam = ${ratio.toFixed(3)} (the page says 0.41× at this start)`);
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(0.42);
    expect(a.distance!).toBeLessThan(b.distance!);
  });

  test('steep slope (preset): AdaBelief keeps a large step where Adam’s stays at lr', async () => {
    const r = await trajectories('fn=slope');
    const [a, b] = [r.optimizers.adabelief.metrics, r.optimizers.adam.metrics];
    expect(a.maxStep!).toBeGreaterThan(3 * r.settings.lr); // the page: "grows past 3× lr with this preset"
    expect(b.maxStep!).toBeLessThanOrEqual(r.settings.lr * Math.SQRT2 * 1.01); // Adam: ≈ lr per coordinate
    expect(a.maxStep!).toBeGreaterThan(2 * b.maxStep!);
    expect(a.stepsToReach!).toBeLessThan(b.stepsToReach!);
    expect(claim(r, 'larger-step').holds).toBe(true);
    expect(claim(r, 'arrives-sooner').holds).toBe(true);
    expect(claim(r, 'nearer').holds).toBe(true);
  });

  test('steep slope, rectify on: 5 long warm-up steps, then shorter than Adam’s until about step 90 (as the page says)', async () => {
    const r = await trajectories('fn=slope&rectify=1');
    const len = (name: Name, k: number) => {
      const p = r.optimizers[name].path as number[];
      return Math.hypot(p[2 * k]! - p[2 * k - 2]!, p[2 * k + 1]! - p[2 * k - 1]!);
    };
    const warm = [1, 2, 3, 4, 5].map((k) => len('adabelief', k));
    console.log(
      `  AdaBelief steps 1-5: ${warm.map((x) => x.toFixed(3)).join(', ')} (lr·|g| = ${r.settings.lr * 10})`,
    );
    for (const x of warm) expect(x).toBeGreaterThan(0.45);
    let firstLonger = 6;
    while (firstLonger <= r.settings.steps && len('adabelief', firstLonger) < len('adam', firstLonger))
      firstLonger++;
    console.log(`  from step 6, AdaBelief's step is first as long as Adam's at step ${firstLonger}`);
    expect(firstLonger).toBeGreaterThanOrEqual(85);
    expect(firstLonger).toBeLessThanOrEqual(95);
  });

  test('Rosenbrock with rectify on: the warm-up throws AdaBelief off the map, as the page says; no error', async () => {
    const r = await trajectories('fn=rosenbrock&rectify=1');
    const m = r.optimizers.adabelief.metrics;
    const path = r.optimizers.adabelief.path;
    const far = path.findIndex((v) => v === null || Math.abs(v) > 1e3);
    console.log(
      `  AdaBelief: first coordinate beyond 1e3 or not finite at index ${far} (step ${far >> 1}); diverged at ${m.diverged}`,
    );
    expect(far).toBeGreaterThan(0);
    expect(far >> 1).toBeLessThanOrEqual(5); // within the 5 warm-up steps
    expect(r.optimizers.adam.metrics.diverged).toBeNull();
  });

  test.each(['rosenbrock', 'beale', 'slope', 'abs'] as const)(
    '%s: finite paths; the GPU gradient (from SGD’s first step) matches the JS one',
    async (id) => {
      const r = await trajectories(`fn=${id}`);
      for (const n of NAMES) {
        const m = r.optimizers[n].metrics;
        expect(m.diverged, `${n} diverged`).toBeNull();
        expect(Number.isFinite(m.distance), `${n} distance`).toBe(true);
      }
      if (id === 'rosenbrock' || id === 'beale') claim(r, 'nearer'); // printed, not asserted: not a claim of the issue
      // SGD's first step is p1 = p0 - lr·g (momentum buffer = g), so g = (p0 - p1) / lr, up to the rounding of
      // lr·g and of p1 (one ulp each, divided by lr). The f32 gradient itself: a few roundings on terms of one
      // sign at these starts (no cancellation), < ULP_PER_STEP·ε relative.
      const s = r.settings;
      const [x0, y0, x1, y1] = r.optimizers.sgd.path as number[];
      const want = TOY_FUNCTIONS[id].gradient(Math.fround(s.startX), Math.fround(s.startY));
      const got = [(x0! - x1!) / s.sgdLr, (y0! - y1!) / s.sgdLr];
      [0, 1].forEach((i) => {
        const p1 = [x1!, y1!][i]!;
        const tol =
          (ulpF32(p1) + ulpF32(s.sgdLr * want[i]!)) / s.sgdLr + ULP_PER_STEP * EPS_F32 * Math.abs(want[i]!);
        console.log(
          `  ${id} gradient[${i}] at the start: GPU ${got[i]!.toPrecision(8)}, JS ${want[i]!.toPrecision(8)}, |Δ| ${Math.abs(got[i]! - want[i]!).toExponential(2)} (tolerance ${tol.toExponential(2)})`,
        );
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(tol);
      });
    },
  );

  test('benchmark page: the quick run finishes with every implementation at every size', async () => {
    const v = await visit('/benchmark.html');
    expectClean(v, 'benchmark');
    const r = v.result as {
      durationS: number;
      settings: { sizes: number[] };
      rows: Row[];
      headline: unknown;
    };
    console.log(
      `  quick run: ${r.durationS.toFixed(1)} s in the page; headline ${JSON.stringify(r.headline)}`,
    );
    const impls = ['fused', 'copy', 'tfjs-adam', 'tfjs-adabelief', 'cpu-fast', 'cpu-ref', 'cpu-copy'];
    for (const size of r.settings.sizes)
      for (const impl of impls) {
        const row = r.rows.find((x) => x.size === size && x.impl === impl);
        expect(row, `${impl} at ${size}`).toBeDefined();
        expect(row!.wallMs).toBeGreaterThan(0);
        expect(Number.isFinite(row!.effectiveGBps)).toBe(true);
      }
  });

  test('without WebGPU every page says so, with what to do, and logs no error', async () => {
    const noGpu =
      "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true })";
    const noAdapter = 'if (self.GPU) GPU.prototype.requestAdapter = async () => null';
    for (const [why, script] of [
      ['navigator.gpu missing', noGpu],
      ['no adapter', noAdapter],
    ] as const) {
      for (const page of ['/index.html', '/trajectories.html', '/training.html', '/benchmark.html']) {
        const v = await demo.visit(page, {
          beforeLoad: (p) => p.evaluateOnNewDocument(script).then(() => undefined),
        });
        const text = (await v.page.$eval('#adapter', (e) => e.textContent)) ?? '';
        await v.page.close();
        console.log(`${page} (${why}): ${v.state}: ${text.slice(0, 90)}…`);
        expect(v.state).toBe('no-webgpu');
        expect(v.errors).toEqual([]);
        expect(text).toContain('No WebGPU here');
        expect(text).toContain('--enable-unsafe-webgpu');
      }
    }
  });

  test('bad settings are named in a clear error on the page', async () => {
    for (const [query, message] of [
      ['fn=abs&lr=-1', 'Invalid learning rate: -1'],
      ['fn=nope', 'unknown function fn=nope'],
      ['fn=abs&steps=abc', "steps: 'abc' is not a number"],
      ['fn=abs&beta2=1', 'Invalid beta parameter at index 1: 1'],
    ]) {
      const v = await demo.visit(`/trajectories.html?${query}`);
      const shown = (await v.page.$eval('#error', (e) => e.textContent)) ?? '';
      await v.page.close();
      console.log(`?${query}: ${v.state}: ${shown}`);
      expect(v.state).toBe('error');
      expect(shown).toContain(message);
      expect(v.errors.length).toBe(1);
      expect(v.errors[0]).toContain(message);
    }
  });
});

describe('the static build of the demo (the demo part of npm run build)', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'adabelief-demo-'));
  let demo: DemoSession;
  beforeAll(async () => {
    await build({ configFile: DEMO_CONFIG, logLevel: 'error', build: { outDir, emptyOutDir: true } });
    demo = await openDemo(outDir);
  });
  afterAll(async () => {
    await demo?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  test.each([
    '/index.html',
    '/trajectories.html?fn=rosenbrock',
    '/training.html?steps=20',
    '/benchmark.html',
  ])('%s runs from the build', async (path) => {
    const v = await demo.visit(path);
    await v.page.close();
    expectClean(v, `built ${path}`);
  });

  test('the built trajectories page: the |x| + |y| claims hold as well', async () => {
    const v = await demo.visit('/trajectories.html?fn=abs');
    await v.page.close();
    expectClean(v, 'built trajectories ?fn=abs');
    const r = v.result as TrajectoriesResult;
    expect(
      claimsFor(TOY_FUNCTIONS.abs, {
        adabelief: r.optimizers.adabelief.metrics,
        adam: r.optimizers.adam.metrics,
      }).every((c) => c.holds),
    ).toBe(true);
  });
});
