/**
 * TF.js conventions of the TF.js adapters (adabelief-webgpu/tfjs), side by side with TF.js' own optimizers,
 * on TF.js' cpu backend in Node (the adapters run their CPU mirror there; the webgpu path is in
 * test/gpu/tfjs.test.ts): `optimizer.learningRate` read and written as on `tf.train.adam(...)`, getConfig()
 * with TF.js' config keys, fromConfig() reading them, save → load keeping a changed learning rate, and the
 * messages of bad values (options, learning rates, applyGradients arguments).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, test } from 'vitest';
import { AdaBeliefCPU, AdamCPU } from '../../src/index.js';
import { AdaBeliefOptimizer, AdamOptimizer, AdamWOptimizer, SGDOptimizer } from '../../src/tfjs/index.js';
import { compareArrays } from '../helpers/compare.js';
import { paramTolerance, ULP_PER_STEP } from '../helpers/tolerance.js';
import { caught, values } from '../helpers/tfjs-cpu.js';

beforeAll(async () => {
  if (!(await tf.setBackend('cpu'))) throw new Error("TF.js could not initialise its 'cpu' backend");
  await tf.ready();
});

/** A dense 4→3 model with fixed weights and a fixed batch. */
function model(seed: number): { m: tfl.Sequential; x: tf.Tensor; y: tf.Tensor } {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4] })] });
  m.setWeights(m.getWeights().map((w, i) => tf.tensor(values(seed + i, w.size, 0.5), w.shape)));
  const x = tf.tensor2d(values(seed + 10, 16 * 4, 1), [16, 4]);
  const y = tf.tensor2d(values(seed + 11, 16 * 3, 1), [16, 3]);
  return { m, x, y };
}

function flatWeights(m: tfl.LayersModel): Float32Array {
  return Float32Array.from(m.getWeights().flatMap((w) => [...(w.dataSync() as Float32Array)]));
}

/** `rebuild(cls, config)`, typed as the class's instances. */
function rebuild<T>(cls: new (options?: never) => T, config: object): T {
  const from = (cls as unknown as typeof AdaBeliefOptimizer).fromConfig;
  return from(cls as never, config as tf.serialization.ConfigDict) as T;
}

type AnyOptimizer = tf.Optimizer & { learningRate: number };

/** The optimizers compared: TF.js' own and this package's, all at learning rate `lr`. */
const OPTIMIZERS: { name: string; make: (lr: number) => AnyOptimizer }[] = [
  { name: 'tf.train.adam', make: (lr) => tf.train.adam(lr) as unknown as AnyOptimizer },
  { name: 'tf.train.rmsprop', make: (lr) => tf.train.rmsprop(lr) as unknown as AnyOptimizer },
  { name: 'AdaBeliefOptimizer', make: (lr) => new AdaBeliefOptimizer({ lr }) },
  { name: 'AdamOptimizer', make: (lr) => new AdamOptimizer({ lr }) },
  { name: 'AdamWOptimizer', make: (lr) => new AdamWOptimizer({ lr }) },
  { name: 'SGDOptimizer (momentum 0.9)', make: (lr) => new SGDOptimizer({ lr, momentum: 0.9 }) },
];

describe('learningRate, read and written as on tf.train.adam', () => {
  test.each(OPTIMIZERS)(
    '$name: a model.fit callback setting model.optimizer.learningRate = 0 stops the weights',
    async ({ make }) => {
      const { m, x, y } = model(3);
      m.compile({ optimizer: make(0.05), loss: 'meanSquaredError' });
      const after: Float32Array[] = [];
      const lrSeen: number[] = [];
      await m.fit(x, y, {
        epochs: 6,
        batchSize: 16,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onEpochEnd: async (epoch) => {
            after.push(flatWeights(m));
            const opt = m.optimizer as AnyOptimizer;
            lrSeen.push(opt.learningRate);
            if (epoch === 2) opt.learningRate = 0;
          },
        },
      });
      const moved = after.map((w, i) => (i === 0 ? NaN : compareArrays(w, after[i - 1]!, () => 0).maxAbs));
      console.log(
        `learningRate read at each epoch end: ${lrSeen.join(', ')}; max |Δw| per epoch: ${moved.join(', ')}`,
      );
      expect(lrSeen).toEqual([0.05, 0.05, 0.05, 0, 0, 0]);
      expect(moved[1]).toBeGreaterThan(0);
      expect(moved[2]).toBeGreaterThan(0);
      // Epochs 4-6 run with learning rate 0: the weights stay bit for bit.
      for (const k of [3, 4, 5]) expect(moved[k], `epoch ${k + 1}`).toBe(0);
      m.optimizer.dispose();
      m.dispose();
      tf.dispose([x, y]);
    },
  );

  test("tf.train.sgd caches its learning rate: assigning learningRate is ignored, setLearningRate() works (TF.js' behaviour; ours honour both)", () => {
    const run = (opt: tf.Optimizer, change: (o: tf.Optimizer) => void) => {
      const v = tf.variable(tf.tensor1d([1, 1]));
      const g = tf.tensor1d([1, -1]);
      opt.applyGradients([{ name: v.name, tensor: g }]);
      change(opt);
      const before = Float32Array.from(v.dataSync());
      opt.applyGradients([{ name: v.name, tensor: g }]);
      const moved = compareArrays(v.dataSync() as Float32Array, before, () => 0).maxAbs;
      tf.dispose([v, g]);
      opt.dispose();
      return moved;
    };
    const assign = (o: tf.Optimizer) => ((o as AnyOptimizer).learningRate = 0);
    const method = (o: tf.Optimizer) => (o as tf.SGDOptimizer).setLearningRate(0);
    const r = {
      tfAssign: run(tf.train.sgd(0.1), assign),
      tfMethod: run(tf.train.sgd(0.1), method),
      oursAssign: run(new SGDOptimizer({ lr: 0.1 }), assign),
      oursMethod: run(new SGDOptimizer({ lr: 0.1 }), method),
    };
    console.log(`|Δw| of the step after learning rate 0: ${JSON.stringify(r)}`);
    expect(r.tfAssign).toBeCloseTo(0.1, 6);
    expect(r).toMatchObject({ tfMethod: 0, oursAssign: 0, oursMethod: 0 });
  });

  test('a new learningRate applies from the next step: AdaBeliefOptimizer equals AdaBeliefCPU with lr changed at step 6 (tolerance 0: same f32 operations)', () => {
    const n = 37;
    const steps = 10;
    const p0 = values(21, n, 1);
    const v = tf.variable(tf.tensor1d(p0));
    const opt = new AdaBeliefOptimizer({ lr: 1e-2, rectify: false });
    const cpu = new AdaBeliefCPU([Float32Array.from(p0)], { lr: 1e-2, rectify: false });
    for (let t = 1; t <= steps; t++) {
      if (t === 6) {
        opt.learningRate = 3e-3;
        cpu.set({ lr: 3e-3 });
      }
      const g = values(100 + t, n, 1);
      const gt = tf.tensor1d(g);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      cpu.step([g]);
      gt.dispose();
    }
    const s = compareArrays(v.dataSync() as Float32Array, cpu.params[0]!, () => 0);
    console.log(`AdaBeliefOptimizer vs AdaBeliefCPU, lr 1e-2 → 3e-3 at step 6: max |Δ| ${s.maxAbs}`);
    expect(s.maxAbs).toBe(0);
    expect(opt.learningRate).toBe(3e-3);
    expect(opt.lr).toBe(3e-3);
    expect(opt.getConfig().learningRate).toBe(3e-3);
    opt.dispose();
    v.dispose();
  });

  test('AdamOptimizer next to tf.train.adam on the same gradients, learningRate 1e-2 → 2e-3 at step 8 on both', () => {
    const n = 64;
    const steps = 15;
    const eps = 1e-7;
    const p0 = values(31, n, 1);
    const ours = tf.variable(tf.tensor1d(p0));
    const theirs = tf.variable(tf.tensor1d(p0));
    const a = new AdamOptimizer({ lr: 1e-2, eps });
    const b = tf.train.adam(1e-2, 0.9, 0.999, eps) as unknown as AnyOptimizer;
    const ref = new AdamCPU([Float32Array.from(p0)], { lr: 1e-2, eps });
    const travel = new Float32Array(n);
    for (let t = 1; t <= steps; t++) {
      if (t === 8) {
        a.learningRate = 2e-3;
        b.learningRate = 2e-3;
        ref.set({ lr: 2e-3 });
      }
      const g = values(200 + t, n, 1);
      const gt = tf.tensor1d(g);
      a.applyGradients([{ name: ours.name, tensor: gt }]);
      b.applyGradients([{ name: theirs.name, tensor: gt }]);
      const before = Float32Array.from(ref.params[0]!);
      ref.step([g]);
      for (let i = 0; i < n; i++) travel[i]! += Math.abs(ref.params[0]![i]! - before[i]!);
      gt.dispose();
    }
    const want = ref.params[0]!;
    // TF.js' Adam computes the same update with its operations in another order (m/bc1, sqrt(v/bc2) + eps);
    // each rounds fewer than 16 times per step: the GPU parity budget (test/helpers/tolerance.ts) bounds it.
    const tol = paramTolerance(want, travel, steps);
    const vsTfjs = compareArrays(theirs.dataSync() as Float32Array, want, tol);
    const vsOurs = compareArrays(ours.dataSync() as Float32Array, want, () => 0);
    // Had either ignored the change, the last 8 steps would have moved 5× too far.
    const lateTravel = 7 * 2e-3;
    console.log(
      `Adam, lr 1e-2 → 2e-3 at step 8, ${steps} steps: AdamOptimizer vs AdamCPU max |Δ| ${vsOurs.maxAbs} (tolerance 0); ` +
        `tf.train.adam vs AdamCPU max |Δ| ${vsTfjs.maxAbs.toExponential(2)}, ${vsTfjs.maxUlp.toFixed(1)} ulp, ` +
        `${(vsTfjs.worst * 100).toFixed(2)}% of the tolerance (${ULP_PER_STEP} ulp/step × ${steps} steps + 1 ulp of p per step); ` +
        `5× the last 7 steps' lr would differ by up to ${(4 * lateTravel).toExponential(1)}`,
    );
    expect(vsOurs.maxAbs).toBe(0);
    expect(vsTfjs.worst).toBeLessThanOrEqual(1);
    expect(b.learningRate).toBe(2e-3);
    a.dispose();
    b.dispose();
    tf.dispose([ours, theirs]);
  });

  test('bad values throw naming learningRate and the value, and change nothing', () => {
    const opt = new AdaBeliefOptimizer({ lr: 1e-2 });
    const set = (value: unknown) => caught(() => ((opt as { learningRate: unknown }).learningRate = value));
    const m = {
      negative: set(-1),
      nan: set(NaN),
      string: set('0.1'),
      undefined: set(undefined),
      null: set(null),
      lr: caught(() => ((opt as { lr: unknown }).lr = undefined)),
      method: caught(() => (opt as unknown as { setLearningRate(v: unknown): void }).setLearningRate('x')),
    };
    console.log(m);
    expect(m.negative).toBe('RangeError: AdaBeliefOptimizer.learningRate: Invalid learning rate: -1');
    expect(m.nan).toBe('RangeError: AdaBeliefOptimizer.learningRate: Invalid learning rate: nan');
    expect(m.string).toBe(
      "TypeError: AdaBeliefOptimizer.learningRate: the learning rate must be a number, got '0.1'",
    );
    expect(m.undefined).toBe(
      'TypeError: AdaBeliefOptimizer.learningRate: the learning rate must be a number, got undefined',
    );
    expect(m.null).toBe(
      'TypeError: AdaBeliefOptimizer.learningRate: the learning rate must be a number, got null',
    );
    expect(m.lr).toBe('TypeError: AdaBeliefOptimizer.lr: the learning rate must be a number, got undefined');
    expect(m.method).toBe(
      "TypeError: AdaBeliefOptimizer.setLearningRate: the learning rate must be a number, got 'x'",
    );
    expect(opt.learningRate).toBe(1e-2);
    expect(opt.getConfig().learningRate).toBe(1e-2);
    opt.dispose();
  });
});

describe("getConfig() / fromConfig() with TF.js' config keys", () => {
  test("getConfig() has tf.train.adam's keys; fromConfig() reads tf.train.adam's config", () => {
    const tfConfig = tf.train.adam(0.02, 0.8, 0.99, 1e-6).getConfig();
    const ours = new AdamOptimizer({ lr: 0.02, betas: [0.8, 0.99], eps: 1e-6 });
    console.log(
      `tf.train.adam getConfig: ${JSON.stringify(tfConfig)}; AdamOptimizer: ${JSON.stringify(ours.getConfig())}`,
    );
    expect(Object.keys(tfConfig).sort()).toEqual(['beta1', 'beta2', 'epsilon', 'learningRate']);
    expect(ours.getConfig()).toEqual({ ...tfConfig, weightDecay: 0, amsgrad: false });
    const rebuilt = rebuild(AdamOptimizer, tfConfig);
    expect(rebuilt.options).toEqual({
      lr: 0.02,
      betas: [0.8, 0.99],
      eps: 1e-6,
      weightDecay: 0,
      amsgrad: false,
    });
    const momentum = tf.train.momentum(0.1, 0.9, true).getConfig();
    expect(rebuild(SGDOptimizer, momentum).options).toEqual({
      lr: 0.1,
      momentum: 0.9,
      dampening: 0,
      weightDecay: 0,
      nesterov: true,
    });
    for (const o of [ours, rebuilt]) o.dispose();
  });

  test.each([
    {
      cls: AdaBeliefOptimizer,
      options: { lr: 0.5, betas: [0.8, 0.9], eps: 1e-12, amsgrad: true, rectify: false },
    },
    { cls: AdamOptimizer, options: { lr: 2e-3, betas: [0.8, 0.99], weightDecay: 1e-4, amsgrad: true } },
    { cls: AdamWOptimizer, options: { lr: 3e-3, eps: 1e-6 } },
    { cls: SGDOptimizer, options: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 } },
  ] as const)('$cls.name: getConfig() → fromConfig() gives the same options', ({ cls, options }) => {
    const Cls = cls as unknown as typeof AdaBeliefOptimizer;
    const a = new Cls(options as never);
    const config = a.getConfig();
    for (const key of ['lr', 'betas', 'eps', 'nesterov']) expect(config).not.toHaveProperty(key);
    const b = rebuild(Cls, { ...config, customObjects: {} });
    expect(b.options).toEqual(a.options);
    expect(b.getConfig()).toEqual(config);
    a.dispose();
    b.dispose();
  });

  test("fromConfig(AdaBeliefOptimizer, { learningRate: 0.5 }) gives lr 0.5; configs saved with 'lr'/'betas'/'eps' still load", () => {
    const a = rebuild(AdaBeliefOptimizer, { learningRate: 0.5 });
    expect(a.learningRate).toBe(0.5);
    const b = rebuild(AdaBeliefOptimizer, { beta2: 0.99 });
    expect(b.options.betas).toEqual([0.9, 0.99]);
    const legacy = rebuild(AdaBeliefOptimizer, {
      lr: 0.25,
      betas: [0.8, 0.9],
      eps: 1e-10,
      weightDecay: 0,
    });
    expect(legacy.options).toMatchObject({ lr: 0.25, betas: [0.8, 0.9], eps: 1e-10 });
    for (const o of [a, b, legacy]) o.dispose();
  });

  test('bad configs throw naming the key and the value; TF.js names in the constructor get a hint', () => {
    const from = (config: object) =>
      caught(() => rebuild(AdaBeliefOptimizer, config as tf.serialization.ConfigDict));
    const m = {
      negative: from({ learningRate: -1 }),
      string: from({ learningRate: 'fast' }),
      nullValue: from({ epsilon: null }),
      beta: from({ beta1: 1 }),
      flag: from({ amsgrad: 'yes' }),
      conflict: from({ learningRate: 0.1, lr: 0.2 }),
      betasConflict: from({ beta1: 0.5, betas: [0.9, 0.999] }),
      notObject: from(null as never),
      sgd: caught(() => rebuild(SGDOptimizer, { learningRate: 0.1, useNesterov: true })),
      constructor: caught(() => new AdaBeliefOptimizer({ learningRate: 0.1 } as never)),
      constructorEps: caught(() => new AdamOptimizer({ epsilon: 1e-7 } as never)),
    };
    console.log(m);
    expect(m.negative).toMatch(
      /^RangeError: AdaBeliefOptimizer\.fromConfig: Invalid learning rate: -1 \(options read from the config: \{"lr":-1\}\)$/,
    );
    expect(m.string).toMatch(/^RangeError: AdaBeliefOptimizer\.fromConfig: Invalid learning rate: '?fast/);
    expect(m.nullValue).toBe(
      "TypeError: AdaBeliefOptimizer.fromConfig: config key 'epsilon' is null; give a value or leave the key out",
    );
    expect(m.beta).toContain('Invalid beta parameter at index 0: 1');
    expect(m.flag).toMatch(
      /^TypeError: AdaBeliefOptimizer\.fromConfig: Option 'amsgrad' must be a boolean, got '?yes/,
    );
    expect(m.conflict).toBe(
      "RangeError: AdaBeliefOptimizer.fromConfig: config keys 'learningRate' (0.1) and 'lr' (0.2) disagree",
    );
    expect(m.betasConflict).toContain(
      "config keys 'betas' ([0.9,0.999]) and 'beta1'/'beta2' (0.5, undefined) disagree",
    );
    expect(m.notObject).toBe(
      'TypeError: AdaBeliefOptimizer.fromConfig: the config must be an object, got null',
    );
    expect(m.sgd).toMatch(
      /^RangeError: SGDOptimizer\.fromConfig: Nesterov momentum requires a momentum and zero dampening/,
    );
    expect(m.constructor).toBe(
      "TypeError: AdaBeliefOptimizer: unknown option 'learningRate' (TF.js' config name); the constructor takes 'lr'. fromConfig() reads TF.js' names",
    );
    expect(m.constructorEps).toContain(
      "unknown option 'epsilon' (TF.js' config name); the constructor takes 'eps'",
    );
  });

  test('model.save({ includeOptimizer }) → tf.loadLayersModel keeps a changed learningRate, as for tf.train.adam', async () => {
    const loaded: Record<string, { className: string; learningRate: number; config: unknown }> = {};
    for (const [name, make] of [
      ['tf.train.adam', () => tf.train.adam(0.05) as unknown as AnyOptimizer],
      ['AdaBeliefOptimizer', () => new AdaBeliefOptimizer({ lr: 0.05, amsgrad: true })],
      ['SGDOptimizer', () => new SGDOptimizer({ lr: 0.05, momentum: 0.5, nesterov: true })],
    ] as const) {
      const { m, x, y } = model(7);
      m.compile({ optimizer: make(), loss: 'meanSquaredError' });
      await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
      (m.optimizer as AnyOptimizer).learningRate = 0.0125;
      let saved: tf.io.ModelArtifacts | undefined;
      await m.save(
        tf.io.withSaveHandler(async (artifacts) => {
          saved = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
        { includeOptimizer: true },
      );
      const back = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      loaded[name] = {
        className: back.optimizer.getClassName(),
        learningRate: (back.optimizer as AnyOptimizer).learningRate,
        config: (saved!.trainingConfig as { optimizer_config: unknown }).optimizer_config,
      };
      for (const mm of [m, back]) {
        mm.optimizer.dispose();
        mm.dispose();
      }
      tf.dispose([x, y]);
    }
    console.log(`saved optimizer configs: ${JSON.stringify(loaded)}`);
    for (const r of Object.values(loaded)) expect(r.learningRate).toBe(0.0125);
    expect(loaded.AdaBeliefOptimizer!.className).toBe('AdaBeliefOptimizer');
    expect(loaded.SGDOptimizer!.className).toBe('FusedSGDOptimizer');
  });
});

describe('applyGradients: malformed arguments refused, naming the method, nothing stepped', () => {
  test('null, a number, list entries that are not { name, tensor }', () => {
    const v = tf.variable(tf.ones([3]), true, 'applyGradients-shape-check');
    const opt = new AdaBeliefOptimizer({ lr: 0.1 });
    expect(caught(() => opt.applyGradients(null as never))).toBe(
      'TypeError: AdaBeliefOptimizer.applyGradients: expected { [variableName]: gradient } or [{ name, tensor }], got null',
    );
    expect(caught(() => opt.applyGradients(5 as never))).toMatch(/applyGradients: expected .*, got 5$/);
    expect(caught(() => opt.applyGradients([7] as never))).toBe(
      'TypeError: AdaBeliefOptimizer.applyGradients: entry 0 must be { name, tensor }, got 7',
    );
    expect(Array.from(v.dataSync())).toEqual([1, 1, 1]);
    expect(opt.iterations).toBe(0);
    v.dispose();
    opt.dispose();
  });

  test('a variable listed twice in one call: refused naming it, on every adapter, nothing stepped (the webgpu backend: test/gpu/tfjs.test.ts)', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'applyGradients-twice');
    const w = tf.variable(tf.tensor1d([4, 5]), true, 'applyGradients-once');
    const g = tf.tensor1d([0.5, -0.25, 1]);
    const h = tf.tensor1d([0.125, 0.5]);
    const twice = [
      [
        { name: v.name, tensor: g },
        { name: w.name, tensor: h },
        { name: v.name, tensor: g },
      ],
      [
        { name: v.name, tensor: null },
        { name: v.name, tensor: g },
      ],
    ];
    for (const [Cls, name] of [
      [AdaBeliefOptimizer, 'AdaBeliefOptimizer'],
      [AdamOptimizer, 'AdamOptimizer'],
      [AdamWOptimizer, 'AdamWOptimizer'],
      [SGDOptimizer, 'SGDOptimizer'],
    ] as const) {
      const opt = new Cls({ lr: 0.1 });
      for (const list of twice) {
        const last = list.length - 1;
        expect(
          caught(() => opt.applyGradients(list as never)),
          name,
        ).toBe(
          `Error: ${name}.applyGradients: variable 'applyGradients-twice' is listed twice (entries 0 and ${last}); give each variable one gradient per call (sum them first)`,
        );
      }
      expect(Array.from(v.dataSync()), `${name}: nothing stepped`).toEqual([1, 2, 3]);
      expect(Array.from(w.dataSync())).toEqual([4, 5]);
      expect(opt.iterations).toBe(0);
      expect(opt.stepCounts).toEqual({});
      opt.applyGradients([{ name: v.name, tensor: g }]); // once: stepped
      expect(opt.stepCounts).toEqual({ 'applyGradients-twice': 1 });
      v.assign(tf.tensor1d([1, 2, 3]));
      opt.dispose();
    }
    tf.dispose([v, w, g, h]);
  });
});
