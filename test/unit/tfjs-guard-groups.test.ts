/**
 * The guard options and parameter groups of the TF.js optimizers (issue 23) on TF.js' cpu backend in Node (the
 * adapters run their CPU reference there; the webgpu path and the full AMP loop are in test/gpu/tfjs.test.ts):
 * every new option's refusals (naming the option and the value, nothing changed), groups (first match wins,
 * a "no weight decay for biases and norms" recipe against AdamWCPU with per-entry overrides), clipping by the
 * global norm against clip_grad_norm_'s rule, getConfig → fromConfig and model.save → tf.loadLayersModel of
 * the guard and RegExp groups, a predicate group refused at getConfig(), model.fit and minimize with the guard.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, test } from 'vitest';
import { AdamWCPU, GradScaler } from '../../src/index.js';
import { AdaBeliefOptimizer, AdamWOptimizer, SGDOptimizer } from '../../src/tfjs/index.js';
import { caught, values } from '../helpers/tfjs-cpu.js';

beforeAll(async () => {
  if (!(await tf.setBackend('cpu'))) throw new Error("TF.js could not initialise its 'cpu' backend");
  await tf.ready();
});

describe('refusals name the option and the value; nothing is changed', () => {
  test('guard options at construction and through the setters', () => {
    const m = {
      scaleNegative: caught(() => new AdamWOptimizer({ gradScale: -1 })),
      scaleString: caught(() => new AdamWOptimizer({ gradScale: '128' as never })),
      scaleInfinite: caught(() => new AdaBeliefOptimizer({ gradScale: Infinity })),
      skipString: caught(() => new SGDOptimizer({ skipNonFinite: 'yes' as never })),
      normZero: caught(() => new AdamWOptimizer({ maxGradNorm: 0 })),
      normTiny: caught(() => new AdamWOptimizer({ maxGradNorm: 1e-50 })),
    };
    console.log(m);
    expect(m.scaleNegative).toBe('RangeError: AdamWOptimizer: gradScale must be a finite number > 0, got -1');
    expect(m.scaleString).toBe(
      "RangeError: AdamWOptimizer: gradScale must be a finite number > 0, got '128'",
    );
    expect(m.scaleInfinite).toContain('gradScale must be a finite number > 0, got Infinity');
    expect(m.skipString).toBe("TypeError: SGDOptimizer: skipNonFinite must be a boolean, got 'yes'");
    expect(m.normZero).toBe(
      'RangeError: AdamWOptimizer: maxGradNorm must be a number > 0 (Infinity: no clipping), got 0',
    );
    expect(m.normTiny).toContain('which rounds to 0');

    const plain = new AdamWOptimizer();
    expect(plain.gradScale).toBe(1);
    expect(plain.maxGradNorm).toBe(Infinity);
    expect(plain.skipNonFinite).toBe(false);
    expect(caught(() => (plain.gradScale = 2))).toMatch(
      /AdamWOptimizer\.gradScale: construct the optimizer with gradScale, skipNonFinite or maxGradNorm/,
    );
    const guarded = new AdamWOptimizer({ gradScale: 128, maxGradNorm: 1 });
    expect(guarded.skipNonFinite).toBe(true); // the default with gradScale, as on the GPU optimizers
    expect(caught(() => (guarded.gradScale = 0))).toBe(
      'RangeError: AdamWOptimizer.gradScale: gradScale must be a finite number > 0, got 0',
    );
    expect(caught(() => (guarded.maxGradNorm = -1))).toContain(
      'AdamWOptimizer.maxGradNorm: maxGradNorm must be',
    );
    expect(caught(() => (guarded.skipNonFinite = false))).toContain('skipNonFinite is fixed at construction');
    expect([guarded.gradScale, guarded.maxGradNorm]).toEqual([128, 1]);
    guarded.gradScale = 64;
    guarded.maxGradNorm = Infinity;
    expect([guarded.gradScale, guarded.maxGradNorm]).toEqual([64, Infinity]);
  });

  test('lastStepReport: without the guard, and before any step', async () => {
    await expect(new AdamWOptimizer().lastStepReport()).rejects.toThrow(
      /construct the optimizer with gradScale/,
    );
    await expect(new AdamWOptimizer({ maxGradNorm: 1 }).lastStepReport()).rejects.toThrow(
      'AdamWOptimizer.lastStepReport: no step has run yet',
    );
  });

  test('groups', () => {
    const m = {
      notArray: caught(() => new AdamWOptimizer({ groups: { match: /b/ } as never })),
      notObject: caught(() => new AdamWOptimizer({ groups: [3] as never })),
      badMatch: caught(() => new AdamWOptimizer({ groups: [{ match: 'bias', weightDecay: 0 }] as never })),
      badLr: caught(() => new AdamWOptimizer({ groups: [{ match: /x/ }, { match: /bias/, lr: -1 }] })),
      badBeta: caught(() => new AdaBeliefOptimizer({ groups: [{ match: /bias/, betas: [1, 0.9] }] })),
      sgdBetas: caught(() => new SGDOptimizer({ groups: [{ match: /bias/, betas: [0.9, 0.99] }] as never })),
      momentum: caught(() => new AdamWOptimizer({ groups: [{ match: /bias/, amsgrad: true }] as never })),
    };
    console.log(m);
    expect(m.notArray).toBe(
      'TypeError: AdamWOptimizer: groups must be an array of { match, ...overrides }, got {"match":{}}',
    );
    expect(m.notObject).toBe(
      'TypeError: AdamWOptimizer: groups[0] must be an object { match, ...overrides }, got 3',
    );
    expect(m.badMatch).toContain(
      "groups[0].match must be a RegExp (tested on the variable's name) or a function",
    );
    expect(m.badMatch).toContain("got 'bias'");
    expect(m.badLr).toBe(
      'RangeError: AdamWOptimizer: groups[1]: Invalid learning rate: -1 (group matching /bias/)',
    );
    expect(m.badBeta).toContain('groups[0]: Invalid beta parameter at index 0: 1');
    expect(m.sgdBetas).toContain("groups[0]: 'betas' cannot be set per parameter (only lr, weightDecay)");
    expect(m.momentum).toContain("'amsgrad' cannot be set per parameter");
  });

  test('a predicate that does not return a boolean: applyGradients throws, nothing stepped', async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'gg-predicate');
    const g = tf.tensor1d([0.1, 0.2, 0.3]);
    const opt = new AdamWOptimizer({ lr: 0.1, groups: [{ match: (x) => x.name as unknown as boolean }] });
    expect(caught(() => opt.applyGradients({ [v.name]: g }))).toBe(
      "TypeError: AdamWOptimizer: groups[0].match returned 'gg-predicate' for variable 'gg-predicate'; expected true or false",
    );
    expect(Array.from(await v.data())).toEqual([1, 2, 3]);
    expect([opt.iterations, opt.stepCount]).toEqual([0, 0]);
    opt.dispose();
    tf.dispose([v, g]);
  });
});

describe('groups: first match wins, unmatched variables use the optimizer options', () => {
  test('"no weight decay for biases and norms" + a lower lr for one kernel, 8 steps: equals AdamWCPU with per-entry overrides', async () => {
    const specs = [
      { name: 'gg-attn/kernel', n: 12, over: { lr: 5e-3 } }, // groups[0]
      { name: 'gg-attn/bias', n: 4, over: { weightDecay: 0 } }, // groups[1] (a /bias$/ hit; [0] does not match)
      { name: 'gg-ln/gamma', n: 4, over: { weightDecay: 0 } }, // groups[2] (predicate)
      { name: 'gg-mlp/kernel', n: 8, over: {} }, // no group: the optimizer's options
    ];
    const vars = specs.map((s, i) => tf.variable(tf.tensor1d(values(10 + i, s.n, 1)), true, s.name));
    const opt = new AdamWOptimizer({
      lr: 1e-2,
      weightDecay: 0.1,
      groups: [
        { match: /attn\/kernel$/, lr: 5e-3 },
        { match: /bias$/i, weightDecay: 0 },
        { match: (v) => v.name.includes('ln/'), weightDecay: 0 },
      ],
    });
    const cpu = new AdamWCPU(
      specs.map((s, i) => ({ param: values(10 + i, s.n, 1), ...s.over })),
      { lr: 1e-2, weightDecay: 0.1 },
    );
    for (let t = 0; t < 8; t++) {
      const gs = specs.map((s, i) => values(100 * t + i + 1, s.n, 0.5));
      const grads = gs.map((g) => tf.tensor1d(g));
      opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
      cpu.step(gs);
      tf.dispose(grads);
    }
    for (const [i, v] of vars.entries()) {
      expect(Array.from(await v.data()), v.name).toEqual(Array.from(cpu.params[i]!));
    }
    // Without the groups the decay and lr differ: the check can fail.
    const plain = new AdamWCPU(
      specs.map((s, i) => values(10 + i, s.n, 1)),
      { lr: 1e-2, weightDecay: 0.1 },
    );
    for (let t = 0; t < 8; t++) plain.step(specs.map((s, i) => values(100 * t + i + 1, s.n, 0.5)));
    for (const i of [0, 1, 2]) {
      expect(Array.from(plain.params[i]!)).not.toEqual(Array.from(cpu.params[i]!));
    }
    opt.dispose();
    tf.dispose(vars);
  });
});

test("maxGradNorm clips by the global norm over every variable of the step (clip_grad_norm_'s rule)", async () => {
  const a = tf.variable(tf.tensor1d(values(1, 6, 1)), true, 'gg-clip-a');
  const b = tf.variable(tf.tensor1d(values(2, 5, 1)), true, 'gg-clip-b');
  const ga = values(3, 6, 2);
  const gb = values(4, 5, 2);
  const opt = new SGDOptimizer({ lr: 0.1, maxGradNorm: 0.5 });
  const [ta, tb] = [tf.tensor1d(ga), tf.tensor1d(gb)];
  opt.applyGradients({ [a.name]: ta, [b.name]: tb });
  const rep = await opt.lastStepReport();
  // torch: total = ‖concat(grads)‖₂; coef = max_norm / (total + 1e-6), clamped to 1; every grad *= coef.
  let sq = 0;
  for (const x of [...ga, ...gb]) sq += x * x;
  const total = Math.sqrt(sq);
  const coef = Math.min(1, 0.5 / (total + 1e-6));
  console.log(`global norm ${rep.gradNorm} (f64 ${total}), clip ${rep.clipCoef} (f64 ${coef})`);
  expect(rep.gradNorm).toBeCloseTo(total, 6);
  expect(rep.clipCoef).toBeCloseTo(coef, 6);
  expect(rep.skipped).toBe(false);
  // SGD: p -= lr * g * coef. Per-variable clipping would give each variable its own (larger) coefficient.
  const a1 = await a.data();
  const want = values(1, 6, 1).map((p, i) => p - 0.1 * ga[i]! * coef);
  a1.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 6));
  let sqa = 0;
  for (const x of ga) sqa += x * x;
  expect(0.5 / Math.sqrt(sqa)).toBeGreaterThan(coef * 1.1);
  opt.dispose();
  tf.dispose([a, b, ta, tb]);
});

test('a non-finite gradient in one variable skips the step for every variable; GradScaler backs off', async () => {
  const a = tf.variable(tf.tensor1d([1, 2]), true, 'gg-skip-a');
  const b = tf.variable(tf.tensor1d([3, 4]), true, 'gg-skip-b');
  const scaler = new GradScaler({ initScale: 1024 });
  const opt = new AdamWOptimizer({ lr: 0.1, gradScale: scaler.scale });
  const [ta, tb] = [tf.tensor1d([0.1, NaN]), tf.tensor1d([0.2, 0.3])];
  opt.applyGradients({ [a.name]: ta, [b.name]: tb });
  scaler.record(await opt.lastStepSkipped());
  expect(Array.from(await a.data())).toEqual([1, 2]);
  expect(Array.from(await b.data())).toEqual([3, 4]);
  expect([opt.stepCount, opt.iterations, scaler.scale]).toEqual([0, 1, 512]);
  tf.dispose([a, b, ta, tb]);
  opt.dispose();
});

describe('serialization of the guard and the groups', () => {
  test('getConfig → fromConfig; model.save → tf.loadLayersModel keeps a RegExp with an underscore', async () => {
    const opt = new AdamWOptimizer({
      lr: 2e-3,
      gradScale: 256,
      maxGradNorm: 1,
      groups: [
        { match: /_bias$|layer_norm/i, weightDecay: 0 },
        { match: /kernel/, lr: 1e-3, betas: [0.8, 0.9] },
      ],
    });
    const config = opt.getConfig();
    console.log(JSON.stringify(config));
    expect(config).toMatchObject({
      gradScale: 256,
      skipNonFinite: true,
      maxGradNorm: 1,
      groups: [
        { match: { name: '/_bias$|layer_norm/i' }, weightDecay: 0 },
        { match: { name: '/kernel/' }, lr: 1e-3, betas: [0.8, 0.9] },
      ],
    });
    const rebuilt = AdamWOptimizer.fromConfig(AdamWOptimizer, config);
    expect(rebuilt.getConfig()).toEqual(config);
    expect(new AdamWOptimizer({ maxGradNorm: 2 }).getConfig()).toMatchObject({
      skipNonFinite: false,
      gradScale: 1,
    });
    expect('maxGradNorm' in new AdamWOptimizer({ gradScale: 2 }).getConfig()).toBe(false); // Infinity: not JSON
    expect(caught(() => AdamWOptimizer.fromConfig(AdamWOptimizer, { groups: [{ match: '/x/' }] }))).toContain(
      "config groups[0] must be { match: { name: '/regexp/flags' }, ...overrides }",
    );

    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const x = tf.tensor2d(values(5, 12, 1), [4, 3]);
    const y = tf.tensor2d(values(6, 8, 1), [4, 2]);
    await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const back = loaded.optimizer as AdamWOptimizer;
    expect(back).toBeInstanceOf(AdamWOptimizer);
    expect(back.getConfig()).toEqual(config);
    expect(back.stepCount).toBe(2);
    await loaded.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    expect(back.stepCount).toBe(3);
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
  });

  test('a group matched by a predicate: getConfig() (and so model.save with includeOptimizer) throws, naming it', () => {
    const noDecay = (v: tf.Variable) => v.shape.length === 1;
    const opt = new AdamWOptimizer({ groups: [{ match: /x/ }, { match: noDecay, weightDecay: 0 }] });
    expect(caught(() => opt.getConfig())).toMatch(
      /^TypeError: AdamWOptimizer\.getConfig: groups\[1\] is matched by the predicate noDecay, which cannot be serialized/,
    );
  });
});

test('model.fit and minimize with the guard and a group: the loss falls, the report is of the whole step', async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [4], activation: 'relu' }),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const opt = new AdamWOptimizer({
    lr: 1e-2,
    maxGradNorm: 0.5,
    skipNonFinite: true,
    groups: [{ match: (v) => v.shape.length === 1, weightDecay: 0 }],
  });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = tf.tensor2d(values(7, 64, 1), [16, 4]);
  const y = tf.tensor2d(values(8, 32, 2), [16, 2]);
  const h = await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0 });
  const losses = h.history.loss as number[];
  const rep = await opt.lastStepReport();
  console.log(`model.fit losses ${losses[0]} → ${losses.at(-1)}; last report ${JSON.stringify(rep)}`);
  expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  expect(rep.applied).toBe(10);
  expect(rep.gradNorm).toBeGreaterThan(0);
  expect(rep.clipCoef).toBeLessThanOrEqual(1);
  const f = () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
  for (let k = 0; k < 3; k++) tf.dispose(opt.minimize(f, true)!);
  expect(opt.stepCount).toBe(13);
  tf.dispose([x, y]);
  model.dispose();
});
