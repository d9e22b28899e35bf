/**
 * The training page (demo/training.html). In Node: the spirals and the initial weights are what the page
 * says (seeded, in range), settings are parsed with clear messages. In headless Chromium (WebGPU on whatever
 * adapter it has, served as `npm run demo` serves it): the page trains the three models with no console
 * error and no uncaught (WebGPU) error, from identical initial weights; AdaBelief's loss falls by the factor
 * below; every loss is finite; nothing leaks; "Run again" works; bad settings are named on the page.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initialWeights } from '../../demo/lib/mlp.js';
import { spirals } from '../../demo/lib/spirals.js';
import {
  TRAINING_DEFAULTS,
  settingsFromQuery,
  settingsToQuery,
  type TrainingSettings,
} from '../../demo/lib/training-settings.js';
import { openDemo, type DemoSession, type Visit } from '../../sessions/demo.js';

/** AdaBelief's final loss must be at most its initial loss / this, with the page's default settings. */
const LOSS_FACTOR = 10;

type Name = 'adabelief' | 'adam' | 'sgd';
const NAMES: Name[] = ['adabelief', 'adam', 'sgd'];

interface OptimizerSummary {
  label: string;
  options: Record<string, unknown>;
  initialLoss: number;
  finalLoss: number;
  lossRatio: number;
  finalAccuracy: number;
  stepsTo90: number | null;
  divergedAt: number | null;
  stepMs: number;
  applyHostMs: number;
  optimizerMs: number;
  optimizerHostMs: number;
  /** JSON: a loss that was not finite arrives as null. */
  losses: (number | null)[];
  accuracies: (number | null)[];
}

interface TrainingPageResult {
  page: 'training';
  settings: TrainingSettings;
  adapter: { vendor: string; architecture: string; description: string; fallback: boolean };
  tfjs: string;
  layerSizes: number[];
  parameters: number;
  points: number;
  timedSteps: number;
  tensorsBefore: number;
  tensorsAfter: number;
  tensorsAtEnd: number;
  durationS: number;
  optimizers: Record<Name, OptimizerSummary>;
  timing: {
    forwardBackwardMs: number;
    steps: { name: string; optimizerMs: number; hostMs: number }[];
  };
}

describe('training page data, weights and settings (Node)', () => {
  test('spirals: seeded, interleaved by class, inside the unit disc, arms apart', () => {
    const o = { classes: 3, pointsPerClass: 50, turns: 1, noise: 0.1, seed: 7 };
    const a = spirals(o);
    const b = spirals(o);
    const c = spirals({ ...o, seed: 8 });
    expect(a.count).toBe(150);
    expect(a.xy).toEqual(b.xy);
    expect(a.xy).not.toEqual(c.xy);
    expect(Array.from(a.labels.slice(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    for (let k = 0; k < a.count; k++) {
      const r = Math.hypot(a.xy[2 * k]!, a.xy[2 * k + 1]!);
      // Radius (i + 1) / n exactly, up to f32 rounding of the coordinates (2 ulp of numbers ≤ 1: 2.4e-7).
      const i = Math.floor(k / o.classes);
      expect(Math.abs(r - (i + 1) / o.pointsPerClass)).toBeLessThan(2.4e-7);
    }
    // Without noise, arm c's first point sits at angle 2π·c/classes + 2π·turns/n.
    const clean = spirals({ ...o, noise: 0 });
    for (let arm = 0; arm < 3; arm++) {
      const want = (2 * Math.PI * arm) / 3 + (2 * Math.PI) / o.pointsPerClass;
      const got = Math.atan2(clean.xy[2 * arm + 1]!, clean.xy[2 * arm]!);
      expect(Math.abs(Math.atan2(Math.sin(got - want), Math.cos(got - want)))).toBeLessThan(1e-5);
    }
    expect(() => spirals({ ...o, classes: 9 })).toThrow('classes must be an integer from 2 to 8, got 9');
    expect(() => spirals({ ...o, noise: -1 })).toThrow('noise must be ≥ 0, got -1');
  });

  test('initial weights: seeded Glorot-uniform kernels, zero biases', () => {
    const w = initialWeights([2, 16, 16, 2], 2);
    expect(w.layers.map((l) => [l.kernel.length, l.bias.length])).toEqual([
      [32, 16],
      [256, 16],
      [32, 2],
    ]);
    expect(initialWeights([2, 16, 16, 2], 2)).toEqual(w);
    w.layers.forEach(({ kernel, bias }, l) => {
      const limit = Math.sqrt(6 / (w.sizes[l]! + w.sizes[l + 1]!));
      const largest = Math.max(...Array.from(kernel, Math.abs));
      console.log(`layer ${l}: largest |w| ${largest.toFixed(4)}, Glorot limit ${limit.toFixed(4)}`);
      expect(largest).toBeLessThanOrEqual(limit);
      expect(largest).toBeGreaterThan(0.8 * limit); // uniform over the range, not squeezed
      expect(bias.every((b) => b === 0)).toBe(true);
    });
    expect(() => initialWeights([2], 1)).toThrow('layer sizes must be ≥ 2 integers');
  });

  test('settings from the URL: defaults, overrides, round trip, clear errors', () => {
    expect(settingsFromQuery(new URLSearchParams(''))).toEqual(TRAINING_DEFAULTS);
    const s = settingsFromQuery(new URLSearchParams('steps=20&lrAdam=0.05&rectify=1'));
    expect(s).toEqual({ ...TRAINING_DEFAULTS, steps: 20, lrAdam: 0.05, rectify: true });
    expect(settingsToQuery(s).toString()).toBe('rectify=1&lrAdam=0.05&steps=20');
    expect(() => settingsFromQuery(new URLSearchParams('steps=abc'))).toThrow("steps: 'abc' is not a number");
    expect(() => settingsFromQuery(new URLSearchParams('steps=0'))).toThrow(
      'steps: expected an integer from 1 to 5000, got 0',
    );
    expect(() => settingsFromQuery(new URLSearchParams('rectify=yes'))).toThrow(
      "rectify: expected 1 or 0, got 'yes'",
    );
    expect(() => settingsFromQuery(new URLSearchParams('lr=1'))).toThrow("unknown setting 'lr'");
  });
});

/** Fails with the page's own words when it logged an error, threw, reloaded or did not finish. */
async function expectClean(v: Visit, what: string): Promise<void> {
  expect(v.errors, `${what}: console errors / uncaught exceptions`).toEqual([]);
  expect(v.state, `${what}: final state`).toBe('done');
  // A dev server that discovers a dependency mid-run reloads the page: the run must be the first navigation's.
  const navigation = await v.page.evaluate("performance.getEntriesByType('navigation')[0].type");
  expect(navigation, `${what}: the page reloaded`).toBe('navigate');
  console.log(`${what}: done in ${(v.ms / 1e3).toFixed(1)} s, no console error, no reload`);
}

const finite = (xs: (number | null)[]) => xs.every((x) => typeof x === 'number' && Number.isFinite(x));

describe('training page in headless Chromium (the dev server of npm run demo)', () => {
  let demo: DemoSession;
  let visit: Visit;
  let result: TrainingPageResult;

  beforeAll(async () => {
    demo = await openDemo();
    visit = await demo.visit('/training.html');
    result = visit.result as TrainingPageResult;
  });
  afterAll(async () => demo?.close());

  test('default run: no error, identical starts, AdaBelief’s loss falls by the stated factor, every loss finite', async () => {
    await expectClean(visit, 'training');
    const r = result;
    const a = r.adapter;
    console.log(
      `adapter ${a.vendor} / ${a.architecture} / ${a.description}${a.fallback ? ' (CPU fallback)' : ''}; TF.js ${r.tfjs}; ` +
        `${r.points} points, model ${r.layerSizes.join('→')} (${r.parameters} parameters), ${r.settings.steps} steps in ${r.durationS.toFixed(1)} s`,
    );
    for (const n of NAMES) {
      const o = r.optimizers[n];
      console.log(
        `  ${o.label.padEnd(34)} loss ${o.initialLoss.toFixed(4)} → ${o.finalLoss.toFixed(4)} (÷${o.lossRatio.toFixed(1)}), ` +
          `accuracy ${(o.finalAccuracy * 100).toFixed(1)}%, 90% at step ${o.stepsTo90 ?? 'never'}; ` +
          `whole step ${o.stepMs.toFixed(1)} ms (JS in applyGradients ${o.applyHostMs.toFixed(3)}), step alone ${o.optimizerMs.toFixed(2)} ms`,
      );
      expect(o.losses).toHaveLength(r.settings.steps + 1);
      expect(o.accuracies).toHaveLength(r.settings.steps + 1);
      expect(finite(o.losses), `${n}: a loss is not finite (first at step ${o.divergedAt})`).toBe(true);
      expect(o.divergedAt).toBeNull();
      expect(o.accuracies.every((x) => x !== null && x >= 0 && x <= 1)).toBe(true);
      expect(o.stepMs).toBeGreaterThan(0);
      expect(o.optimizerMs).toBeGreaterThan(0);
    }
    // Same initial weights, same data, same TF.js kernels: the step-0 losses are the same f32 number.
    const starts = NAMES.map((n) => r.optimizers[n].losses[0]);
    expect(new Set(starts).size, `initial losses ${starts.join(', ')}`).toBe(1);
    const ab = r.optimizers.adabelief;
    console.log(
      `AdaBelief: final loss ${ab.finalLoss.toFixed(4)} ≤ initial ${ab.initialLoss.toFixed(4)} / ${LOSS_FACTOR} = ` +
        `${(ab.initialLoss / LOSS_FACTOR).toFixed(4)}? (measured factor ${ab.lossRatio.toFixed(1)})`,
    );
    expect(ab.finalLoss).toBeLessThanOrEqual(ab.initialLoss / LOSS_FACTOR);
    console.log(
      `timing: forward + backward alone ${r.timing.forwardBackwardMs.toFixed(1)} ms; step alone: ` +
        r.timing.steps
          .map((s) => `${s.name} ${s.optimizerMs.toFixed(2)} ms (JS ${s.hostMs.toFixed(3)})`)
          .join('; '),
    );
    expect(r.timing.steps).toHaveLength(5);
    console.log(
      `TF.js tensors: ${r.tensorsBefore} before, ${r.tensorsAfter} after the run, ${r.tensorsAtEnd} after the timing`,
    );
    expect(r.tensorsAfter).toBe(r.tensorsBefore);
    expect(r.tensorsAtEnd).toBe(r.tensorsBefore);
  });

  test('the page shows the adapter, the curves, the decision maps and the tables', async () => {
    const page = visit.page;
    const text = (sel: string) => page.$eval(sel, (e) => e.textContent ?? '');
    expect(await text('#adapter')).toContain('WebGPU adapter');
    expect(await text('#adapter')).toContain('TF.js 4.22');
    // The curves: uPlot's canvas; the decision maps: Observable Plot's SVG, its raster and one dot per point.
    for (const id of ['loss', 'accuracy']) {
      const size = (await page.$eval(`#${id} canvas`, (c) => [
        (c as HTMLCanvasElement).width,
        (c as HTMLCanvasElement).height,
      ])) as number[];
      expect(size[0]! * size[1]!, `#${id} drawn`).toBeGreaterThan(0);
    }
    for (const id of ['map-adabelief', 'map-adam', 'map-sgd']) {
      const marks = await page.$eval(`#${id} svg`, (svg) => ({
        images: svg.querySelectorAll('image').length,
        dots: svg.querySelectorAll('circle').length,
      }));
      expect(marks.images, `#${id} raster`).toBe(1);
      expect(marks.dots, `#${id} points`).toBe(result.points);
    }
    expect(await page.$$eval('#figures tr[data-optimizer]', (rows) => rows.length)).toBe(3);
    expect(await text('#timing')).toContain('TF.js tf.train.adam');
  });

  test('"Run again" with changed settings trains again, from the controls, and frees what it made', async () => {
    const page = visit.page;
    await page.$eval('#in-steps', (e) => {
      const input = e as HTMLInputElement;
      input.value = '20';
      input.dispatchEvent(new Event('change'));
    });
    await page.$eval('#in-lrSgd', (e) => {
      const input = e as HTMLInputElement;
      input.value = '0.1';
      input.dispatchEvent(new Event('change'));
    });
    await page.click('#run');
    await page.waitForFunction(
      "document.body.dataset.demoState === 'done' && window.demoResult.settings.steps === 20",
      {
        timeout: 120_000,
        polling: 100,
      },
    );
    const r = (await page.evaluate('window.demoResult')) as TrainingPageResult;
    console.log(
      `run again (steps 20, SGD lr 0.1): ${r.durationS.toFixed(1)} s; losses ${NAMES.map((n) => r.optimizers[n].finalLoss.toFixed(4)).join(', ')}; ` +
        `tensors ${r.tensorsBefore} → ${r.tensorsAfter} → ${r.tensorsAtEnd}; URL ${await page.evaluate('location.search')}`,
    );
    expect(r.optimizers.sgd.options).toMatchObject({ learningRate: 0.1, momentum: 0.9 }); // getConfig(): TF.js' keys
    expect(r.optimizers.adabelief.losses).toHaveLength(21);
    // The same settings' first 20 steps as the first run's (same weights, data and kernels), for the
    // optimizers whose settings did not change.
    expect(r.optimizers.adam.losses).toEqual(result.optimizers.adam.losses.slice(0, 21));
    expect(r.tensorsAtEnd).toBe(r.tensorsBefore);
    expect(await page.evaluate('location.search')).toBe('?lrSgd=0.1&steps=20');
    expect(visit.errors).toEqual([]);
  });

  test('bad settings are named in a clear error on the page', async () => {
    for (const [query, message] of [
      ['lrAdam=-1', 'Invalid learning rate: -1'],
      ['momentum=-0.5', 'Invalid momentum value: -0.5'],
      ['steps=abc', "steps: 'abc' is not a number"],
      ['foo=1', "unknown setting 'foo'"],
    ]) {
      const v = await demo.visit(`/training.html?${query}`);
      const shown = (await v.page.$eval('#error', (e) => e.textContent)) ?? '';
      await v.page.close();
      console.log(`?${query}: ${v.state}: ${shown}`);
      expect(v.state).toBe('error');
      expect(shown).toContain(message);
      expect(v.errors).toHaveLength(1);
      expect(v.errors[0]).toContain(message);
    }
  });
});
