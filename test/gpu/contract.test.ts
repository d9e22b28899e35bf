/**
 * The API contract, on Dawn in Node: every way an option enters (constructor, per-entry override, accessor,
 * set(), setOverrides(), importState() fields and options, loadCheckpoint() expectations, GradScaler, the
 * guard, dispatch and precision options) crossed with a table of bad values and with every optimizer class.
 * Each call either has a documented meaning (the value is valid, or undefined = the key absent, see
 * docs/errors.md) or throws an error naming the option and the value, having created no GPU object (device
 * and queue methods are wrapped with counters) and changed nothing (options, step count; the state and the
 * params are read back at the end of each class). A seeded random mixer then combines the same calls;
 * its seed is printed (CONTRACT_SEED=<n> replays it).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AdaBelief,
  Adam,
  AdamW,
  ParamArena,
  GradScaler,
  SGD,
  loadCheckpoint,
  saveCheckpoint,
  type AdaBeliefState,
} from '../../src/index.js';
import { requestNodeDevice } from '../../src/node/index.js';
import { describeValue } from '../../src/core/options.js';
import { readFloat32Buffer } from '../helpers/read-buffer.js';

type Opt = AdaBelief | Adam | AdamW | SGD;
type Ctor = new (device: GPUDevice, entries: never[], options?: object) => Opt;

const N = 37;
let device: GPUDevice;
/** GPU calls made through the wrapped device and queue methods. */
let gpuCalls = 0;

const WRAPPED_DEVICE = [
  'createBuffer',
  'createBindGroup',
  'createBindGroupLayout',
  'createPipelineLayout',
  'createComputePipeline',
  'createShaderModule',
  'createCommandEncoder',
] as const;

beforeAll(async () => {
  device = await requestNodeDevice({ label: 'contract-device' });
  for (const name of WRAPPED_DEVICE) {
    const original = (device[name] as (...a: unknown[]) => unknown).bind(device);
    Object.defineProperty(device, name, {
      value: (...args: unknown[]) => {
        gpuCalls++;
        return original(...args);
      },
    });
  }
  for (const name of ['writeBuffer', 'submit'] as const) {
    const queue = device.queue;
    const original = (queue[name] as (...a: unknown[]) => unknown).bind(queue);
    Object.defineProperty(queue, name, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        gpuCalls++;
        return original(...args);
      },
    });
  }
});
afterAll(() => device?.destroy());

/** The bad values every option is crossed with. */
const VALUES: readonly unknown[] = [
  undefined,
  null,
  Number.NaN,
  Infinity,
  -Infinity,
  -1,
  0,
  0.5,
  1,
  'abc',
  '0.1',
  '',
  true,
  false,
  {},
  [],
  [0.9],
  [0.9, 0.999, 0.5],
  1e300,
  2 ** 53,
  10n,
];

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const bool = (x: unknown) => typeof x === 'boolean';

/** Per option: what its message says (a regex on the option's words) and which values are valid. */
interface OptionSpec {
  words: RegExp;
  valid: (x: unknown) => boolean;
  /** Not changeable after construction (set/accessor/importState refuse a different value). */
  fixed?: boolean;
  /** Per-entry override allowed. */
  perEntry?: boolean;
}
const nonNegative: OptionSpec['valid'] = (x) => isNum(x) && x >= 0;
const COMMON: Record<string, OptionSpec> = {
  lr: { words: /learning rate/, valid: nonNegative, perEntry: true },
  weightDecay: { words: /weight_decay/, valid: nonNegative, perEntry: true },
};
const ADAM_LIKE: Record<string, OptionSpec> = {
  ...COMMON,
  eps: { words: /epsilon/, valid: nonNegative, perEntry: true },
  betas: {
    words: /beta/,
    valid: (x) => Array.isArray(x) && x.length === 2 && x.every((b) => isNum(b) && b >= 0 && b < 1),
    perEntry: true,
  },
  amsgrad: { words: /'amsgrad'|amsgrad/, valid: bool, fixed: true },
};
const SPECS: Record<string, Record<string, OptionSpec>> = {
  AdaBelief: {
    ...ADAM_LIKE,
    weightDecouple: { words: /'weightDecouple'/, valid: bool },
    fixedDecay: { words: /'fixedDecay'/, valid: bool },
    rectify: { words: /'rectify'/, valid: bool },
    degeneratedToSgd: { words: /'degeneratedToSgd'/, valid: bool },
    semantics: { words: /'semantics'/, valid: (x) => x === 'adabelief-pytorch' || x === 'torch-optimizer' },
  },
  Adam: ADAM_LIKE,
  AdamW: ADAM_LIKE,
  SGD: {
    ...COMMON,
    momentum: { words: /momentum/, valid: nonNegative },
    dampening: { words: /dampening/, valid: isNum },
    // nesterov: true needs momentum > 0 (the defaults have 0): refused with its own message.
    nesterov: { words: /'nesterov'|Nesterov/, valid: (x) => x === false },
  },
};
/** Construction-only options every class takes (see construction.ts). */
const EXTRAS: Record<string, OptionSpec> = {
  skipNonFinite: { words: /'skipNonFinite'/, valid: bool },
  gradScale: { words: /gradScale/, valid: (x) => isNum(x) && x > 0 },
  maxGradNorm: { words: /maxGradNorm/, valid: (x) => typeof x === 'number' && x > 0 },
  stateDtype: { words: /'stateDtype'/, valid: (x) => x === 'f32' || x === 'bf16' },
  masterWeights: { words: /'masterWeights'/, valid: bool },
  label: { words: /'label'/, valid: (x) => typeof x === 'string' },
  dispatch: {
    words: /dispatch/,
    valid: (x) => x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0,
  },
};

const CLASSES: [string, Ctor][] = [
  ['AdaBelief', AdaBelief as unknown as Ctor],
  ['Adam', Adam as unknown as Ctor],
  ['AdamW', AdamW as unknown as Ctor],
  ['SGD', SGD as unknown as Ctor],
];

const STORAGE = 0x80 | 0x4 | 0x8;
function buffer(data: Float32Array, label: string): GPUBuffer {
  const b = device.createBuffer({ label, size: data.byteLength, usage: STORAGE, mappedAtCreation: true });
  new Float32Array(b.getMappedRange()).set(data);
  b.unmap();
  return b;
}

const read = (b: GPUBuffer): Promise<Float32Array> => readFloat32Buffer(device, b);

/** The outcome of one call: thrown (with the GPU calls it made) or accepted. */
function attempt(f: () => unknown): { error?: Error; calls: number } {
  const before = gpuCalls;
  try {
    f();
    return { calls: gpuCalls - before };
  } catch (e) {
    return { error: e as Error, calls: gpuCalls - before };
  }
}

/** Asserts a refusal names the option (its words) and the value, made no GPU call. */
function expectRefused(r: { error?: Error; calls: number }, words: RegExp, value: unknown, where: string) {
  expect(r.error, `${where}: expected an error`).toBeInstanceOf(Error);
  const message = r.error!.message;
  expect(message, where).toMatch(words);
  if (!(Array.isArray(value) && value.length === 2)) {
    // (A two-element betas is reported element by element: the bad element is named instead.)
    expect(message, `${where}: the value`).toContain(describeValue(value));
  }
  expect(r.calls, `${where}: GPU calls made before refusing`).toBe(0);
}

/** A class's baseline: an optimizer that took a step, its params, grads, options and state. */
interface Baseline {
  opt: Opt;
  param: GPUBuffer;
  grad: GPUBuffer;
  options: string;
  state: AdaBeliefState;
}

async function baseline(Cls: Ctor): Promise<Baseline> {
  const param = buffer(
    Float32Array.from({ length: N }, (_, i) => Math.sin(i + 1)),
    'param',
  );
  const grad = buffer(
    Float32Array.from({ length: N }, (_, i) => Math.cos(i) * 0.1),
    'grad',
  );
  const opt = new Cls(device, [{ param, grad, size: N }] as never[]);
  await opt.ready;
  await opt.step();
  const state = (await opt.exportState()) as AdaBeliefState;
  return { opt, param, grad, options: JSON.stringify(opt.options), state };
}

function expectUnchanged(b: Baseline, where: string) {
  expect(JSON.stringify(b.opt.options), `${where}: options`).toBe(b.options);
  expect(b.opt.stepCount, `${where}: step count`).toBe(1);
}

async function expectStateUnchanged(b: Baseline) {
  const after = (await b.opt.exportState()) as AdaBeliefState;
  expect(after.step).toBe(b.state.step);
  expect(JSON.stringify(after.options)).toBe(JSON.stringify(b.state.options));
  after.tensors.forEach((t, i) => {
    for (const [k, v] of Object.entries(t)) {
      expect(Array.from(v as Float32Array), `tensors[${i}].${k}`).toEqual(
        Array.from((b.state.tensors[i] as Record<string, Float32Array>)[k]!),
      );
    }
  });
}

/** Restores the baseline's options after an accepted change. */
function restore(b: Baseline) {
  b.opt.set(JSON.parse(b.options) as never);
}

/** One option × value through every door; returns the number of calls checked. */
function crossOption(
  name: string,
  Cls: Ctor,
  b: Baseline,
  key: string,
  spec: OptionSpec,
  value: unknown,
): number {
  const where = (door: string) => `${name} ${door} ${key}=${describeValue(value)}`;
  let checked = 0;
  // Constructor.
  const r = attempt(() => {
    const o = new Cls(device, [{ param: b.param, grad: b.grad, size: N }] as never[], { [key]: value });
    try {
      if (value === undefined) {
        const fresh = new Cls(device, [{ param: b.param, grad: b.grad, size: N }] as never[]);
        expect(JSON.stringify(o.options), where('constructor: undefined = default')).toBe(
          JSON.stringify(fresh.options),
        );
        fresh.destroy();
      } else if (key in (o.options as object)) {
        expect(
          (o.options as unknown as Record<string, unknown>)[key],
          where('constructor: applied as given'),
        ).toEqual(value);
      }
    } finally {
      o.destroy();
    }
  });
  if (value === undefined || spec.valid(value)) {
    expect(r.error, where('constructor')).toBeUndefined();
  } else {
    expectRefused(r, spec.words, value, where('constructor'));
  }
  checked++;
  if (key in EXTRAS) return checked;

  // Accessor (every class defines one per option; a fixed option's refuses any value but its own).
  if (spec.fixed) {
    const current = (b.opt.options as unknown as Record<string, unknown>)[key];
    const a = attempt(() => {
      (b.opt as unknown as Record<string, unknown>)[key] = value;
    });
    if (value === current) expect(a.error, where('accessor (fixed, its own value)')).toBeUndefined();
    else
      expectRefused(a, value === undefined ? new RegExp(key) : /amsgrad/, value, where('accessor (fixed)'));
    expectUnchanged(b, where('accessor (fixed)'));
    checked++;
  } else {
    const a = attempt(() => {
      (b.opt as unknown as Record<string, unknown>)[key] = value;
    });
    if (value !== undefined && spec.valid(value)) {
      expect(a.error, where('accessor')).toBeUndefined();
      expect((b.opt.options as unknown as Record<string, unknown>)[key], where('accessor')).toEqual(value);
      restore(b);
    } else {
      // undefined: an assignment has no key to leave out (docs/errors.md).
      expectRefused(a, value === undefined ? new RegExp(key) : spec.words, value, where('accessor'));
    }
    expectUnchanged(b, where('accessor'));
    checked++;
  }

  // set(): undefined = unchanged.
  const s = attempt(() => b.opt.set({ [key]: value } as never));
  const current = (JSON.parse(b.options) as Record<string, unknown>)[key];
  if (value === undefined || (spec.valid(value) && (!spec.fixed || value === current))) {
    expect(s.error, where('set')).toBeUndefined();
    restore(b);
  } else {
    expectRefused(s, spec.fixed ? /fixed at construction/ : spec.words, value, where('set'));
  }
  expectUnchanged(b, where('set'));
  checked++;

  // importState options: undefined = keep the current value.
  const i = attempt(() => b.opt.importState({ ...b.state, options: { [key]: value } } as never));
  if (value === undefined || (spec.valid(value) && (!spec.fixed || value === current))) {
    expect(i.error, where('importState options')).toBeUndefined();
    restore(b);
  } else {
    // A refused import writes nothing: no GPU call.
    expectRefused(i, spec.fixed ? /amsgrad/ : spec.words, value, where('importState options'));
    expectUnchanged(b, where('importState options'));
  }
  checked++;

  if (spec.perEntry) {
    // Per-entry override at construction and through setOverrides: undefined = no override.
    const e = attempt(() => {
      const o = new Cls(device, [{ param: b.param, grad: b.grad, size: N, [key]: value }] as never[]);
      o.destroy();
    });
    const so = attempt(() => b.opt.setOverrides(0, { [key]: value }));
    for (const [door, res] of [
      ['entry override', e],
      ['setOverrides', so],
    ] as const) {
      if (value === undefined || spec.valid(value)) expect(res.error, where(door)).toBeUndefined();
      else expectRefused(res, spec.words, value, where(door));
    }
    b.opt.setOverrides(0, {});
    checked += 2;
  }
  return checked;
}

describe('every option × every bad value × every class: a clear error, no GPU object, nothing changed', () => {
  for (const [name, Cls] of CLASSES) {
    test(`${name}`, async () => {
      const b = await baseline(Cls);
      const params = Array.from(await read(b.param));
      let checked = 0;
      const options = { ...SPECS[name]!, ...EXTRAS };
      for (const [key, spec] of Object.entries(options)) {
        for (const value of VALUES) checked += crossOption(name, Cls, b, key, spec, value);
        if (key === 'betas') {
          for (const value of VALUES) {
            if (value === undefined) continue;
            for (const pair of [
              [value, 0.999],
              [0.9, value],
            ]) {
              checked += crossOption(name, Cls, b, key, spec, pair);
            }
          }
        }
      }
      expect(Array.from(await read(b.param)), 'params untouched').toEqual(params);
      await b.opt.step(); // still steps: nothing was left half-changed
      expect(b.opt.stepCount).toBe(2);
      b.opt.importState(b.state as never);
      await expectStateUnchanged(b);
      b.opt.destroy();
      console.log(`${name}: ${checked} calls checked`);
    });
  }
});

describe('the other doors', () => {
  test('unknown keys are refused naming the key: options, dispatch, entries, GradScaler, loadCheckpoint', () => {
    const entries = () => [
      { param: buffer(new Float32Array(N), 'p'), grad: buffer(new Float32Array(N), 'g'), size: N },
    ];
    const e = entries();
    for (const [name, Cls] of CLASSES) {
      expectRefused(
        attempt(() => new Cls(device, e as never[], { learningRate: 1 })),
        /'learningRate'/,
        'learningRate',
        `${name} unknown option`,
      );
      expectRefused(
        attempt(() => new Cls(device, e as never[], { dispatch: { workgroupsize: 64 } })),
        /'workgroupsize'/,
        'workgroupsize',
        `${name} dispatch key`,
      );
      for (const d of ['abc', 0, [], null, true])
        expectRefused(
          attempt(() => new Cls(device, e as never[], { dispatch: d })),
          /dispatch/,
          d,
          `${name} dispatch ${describeValue(d)}`,
        );
      for (const o of [null, 'abc', 5, []])
        expectRefused(
          attempt(() => new Cls(device, e as never[], o as object)),
          /options/,
          o,
          `${name} options ${describeValue(o)}`,
        );
      expectRefused(
        attempt(() => new Cls(device, [{ ...e[0]!, momentumm: 1 }] as never[])),
        /'momentumm' cannot be set per parameter/,
        'momentumm',
        `${name} entry key`,
      );
    }
    expectRefused(
      attempt(() => new GradScaler({ initscale: 4 } as never)),
      /'initscale'/,
      'initscale',
      'GradScaler key',
    );
    for (const [key, bad] of [
      ['initScale', 'abc'],
      ['initScale', null],
      ['growthFactor', Infinity],
      ['backoffFactor', '0.5'],
      ['growthInterval', 1.5],
      ['growthInterval', 10n],
    ] as const) {
      expectRefused(
        attempt(() => new GradScaler({ [key]: bad })),
        new RegExp(
          key === 'growthFactor' ? 'growth factor' : key === 'backoffFactor' ? 'backoff factor' : key,
        ),
        bad,
        `GradScaler ${key}`,
      );
    }
    expect(new GradScaler({ initScale: undefined }).scale, 'GradScaler: undefined = default').toBe(65536);
    const file = saveCheckpoint({
      step: 3,
      options: new AdaBelief(device, e as never[]).options,
      tensors: [{ exp_avg: new Float32Array(N), exp_avg_var: new Float32Array(N) }],
    });
    expectRefused(
      attempt(() => loadCheckpoint(file, null as never)),
      /expectations/,
      null,
      'loadCheckpoint null',
    );
    expectRefused(
      attempt(() => loadCheckpoint(file, { amsgrad: 'false' as never })),
      /amsgrad/,
      'false',
      'loadCheckpoint amsgrad',
    );
    expectRefused(
      attempt(() => loadCheckpoint(file, { size: [N] } as never)),
      /'size'/,
      'size',
      'loadCheckpoint key',
    );
    expectRefused(
      attempt(() => loadCheckpoint(file, { sizes: 'abc' as never })),
      /sizes/,
      'abc',
      'loadCheckpoint sizes',
    );
    expect(
      loadCheckpoint(file, { sizes: undefined, amsgrad: undefined }).step,
      'undefined = no expectation',
    ).toBe(3);
    for (const step of ['3', 3n, -1, 1.5, NaN, null]) {
      expectRefused(
        attempt(() => saveCheckpoint({ step, options: {}, tensors: [] } as never)),
        /step/,
        step,
        `saveCheckpoint step ${describeValue(step)}`,
      );
    }
  });

  test('gradScale: strings, null, booleans, objects are refused before any GPU object', () => {
    const e = [{ param: buffer(new Float32Array(N), 'p'), grad: buffer(new Float32Array(N), 'g'), size: N }];
    for (const bad of ['abc', null, true, {}, { buffer: 'x' }, [], 0, -2, NaN, Infinity, 10n]) {
      expectRefused(
        attempt(() => new AdaBelief(device, e, { gradScale: bad as never })),
        /gradScale/,
        bad,
        `gradScale ${describeValue(bad)}`,
      );
    }
    const noCopy = device.createBuffer({ label: 'scale-no-copy-src', size: 4, usage: 0x80 });
    expectRefused(
      attempt(() => new AdaBelief(device, e, { gradScale: noCopy })),
      /COPY_SRC/,
      'scale-no-copy-src',
      'gradScale buffer usage',
    );
    noCopy.destroy();
  });

  test('ParamArena: bad tensors and options refused, naming them, before any GPU object', () => {
    const cases: [string, () => unknown, RegExp][] = [
      ['device', () => new ParamArena(null as never, [4]), /^ParamArena: expected a GPUDevice, got null$/],
      [
        'tensors not an array',
        () => new ParamArena(device, 5 as never),
        /^ParamArena: expected an array of tensors \(element counts, shapes or \{ shape, name \}\), got 5$/,
      ],
      ['empty', () => new ParamArena(device, []), /^ParamArena: the tensor list is empty$/],
      [
        'shape',
        () => new ParamArena(device, [[-1, 3]]),
        /^ParamArena: tensor 0 has an invalid shape \[-1,3\]$/,
      ],
      [
        'unknown option',
        () => new ParamArena(device, [4], { labl: 'x' } as never),
        /^Unknown ParamArena option: 'labl' \(ParamArena takes label, usage, bufferBytes\)$/,
      ],
      [
        'label',
        () => new ParamArena(device, [4], { label: 3 as never }),
        /^ParamArena: label must be a string, got 3$/,
      ],
      [
        'usage',
        () => new ParamArena(device, [4], { usage: -1 }),
        /^ParamArena: usage must be GPUBufferUsage flags .*, got -1$/,
      ],
      [
        'bufferBytes',
        () => new ParamArena(device, [4], { bufferBytes: 100 }),
        /^ParamArena: bufferBytes must be an integer in \[256, maxBufferSize=\d+\], got 100$/,
      ],
    ];
    for (const [what, make, message] of cases) {
      const r = attempt(make);
      expect(r.error?.message, what).toMatch(message);
      expect(r.calls, `${what}: GPU calls made before refusing`).toBe(0);
    }
  });

  test('ParamArena.writeParam / writeGrad: exactly a Float32Array of the tensor size, else refused, naming the method, the tensor and the value; nothing written; refused after destroy()', async () => {
    const arena = new ParamArena(device, [
      { shape: [5], name: 'w' },
      { shape: [7], name: 'b' },
    ]);
    const fill = (n: number, base: number) => Float32Array.from({ length: n }, (_, k) => base + k);
    for (const method of ['writeParam', 'writeGrad'] as const) {
      arena[method](0, fill(5, 1));
      arena[method](1, fill(7, 100));
    }
    const snapshot = async () =>
      Promise.all(
        [...arena.paramBuffers, ...arena.gradBuffers].map((b) => read(b).then((x) => Array.from(x))),
      );
    const before = await snapshot();
    // Same length, other element type: a Float64Array would write 40 bytes over the next tensor, a Uint8Array 5.
    const wrongType: unknown[] = [
      new Float64Array(5),
      new Uint8Array(5),
      new Uint16Array(5),
      new Int32Array(5),
      new Uint8Array(20),
      new DataView(new ArrayBuffer(20)),
      new ArrayBuffer(20),
      [1, 2, 3, 4, 5],
      null,
      undefined,
      'abc',
      5,
    ];
    const typeWords: Record<string, string> = {
      Float64Array: 'a Float64Array of 5 elements',
      Uint8Array: 'a Uint8Array of ',
      DataView: 'a DataView of 20 bytes',
    };
    for (const method of ['writeParam', 'writeGrad'] as const) {
      for (const value of wrongType) {
        const where = `${method}(0, ${describeValue(value)})`;
        const r = attempt(() => arena[method](0, value as Float32Array));
        expect(r.error, where).toBeInstanceOf(TypeError);
        expect(r.error!.message, where).toMatch(
          new RegExp(`^ParamArena\\.${method}: tensor 0 \\('w'\\) takes a Float32Array of 5 elements`),
        );
        const name = (value as object | null)?.constructor?.name ?? '';
        expect(r.error!.message, where).toContain(typeWords[name] ?? describeValue(value));
        expect(r.calls, `${where}: GPU calls`).toBe(0);
      }
      for (const n of [0, 4, 6, 7]) {
        const r = attempt(() => arena[method](0, new Float32Array(n)));
        expect(r.error, `${method} length ${n}`).toBeInstanceOf(RangeError);
        expect(r.error!.message).toBe(
          `ParamArena.${method}: tensor 0 ('w') takes a Float32Array of 5 elements, got a Float32Array of ${n} elements`,
        );
        expect(r.calls).toBe(0);
      }
      for (const i of [-1, 2, 1.5, '0', NaN, null]) {
        const r = attempt(() => arena[method](i as number, fill(5, 0)));
        expect(r.error, `${method}(${describeValue(i)})`).toBeInstanceOf(RangeError);
        expect(r.error!.message).toBe(
          `ParamArena.${method}: no tensor ${describeValue(i)} (the arena has 2: indices 0 to 1)`,
        );
        expect(r.calls).toBe(0);
      }
    }
    expect(await snapshot(), 'nothing written by the refused calls').toEqual(before);
    arena.destroy();
    expect(arena.destroyed).toBe(true);
    for (const call of [
      ['writeParam', () => arena.writeParam(0, fill(5, 0))],
      ['writeGrad', () => arena.writeGrad(1, fill(7, 0))],
      ['param', () => arena.param(0)],
      ['grad', () => arena.grad(1)],
    ] as const) {
      const r = attempt(call[1]);
      expect(r.error?.message, `${call[0]} after destroy()`).toBe(
        `ParamArena.${call[0]}: the arena was destroyed (its buffers are freed)`,
      );
      expect(r.calls).toBe(0);
    }
    arena.destroy(); // a second destroy() does nothing
  });

  test('construction-only options (skipNonFinite, stateDtype, masterWeights): readable; a write is a clear error', async () => {
    const e = () => [
      { param: buffer(new Float32Array(N), 'p'), grad: buffer(new Float32Array(N), 'g'), size: N },
    ];
    const plain = new AdaBelief(device, e());
    const guarded = new AdaBelief(device, e(), { skipNonFinite: true, stateDtype: 'bf16' });
    await Promise.all([plain.ready, guarded.ready]);
    expect([plain.skipNonFinite, plain.stateDtype, plain.masterWeights]).toEqual([false, 'f32', true]);
    expect([guarded.skipNonFinite, guarded.stateDtype]).toEqual([true, 'bf16']);
    const writes: [string, unknown][] = [
      ['skipNonFinite', false],
      ['stateDtype', 'f32'],
      ['masterWeights', false],
    ];
    for (const [key, value] of writes) {
      const r = attempt(() => {
        (guarded as unknown as Record<string, unknown>)[key] = value;
      });
      expect(r.error?.message, key).toMatch(
        new RegExp(
          `^AdaBelief\\.${key} is fixed at construction \\(it decides .*\\): create a new optimizer`,
        ),
      );
      expect(r.calls, key).toBe(0);
      expect(Object.hasOwn(guarded, key), `${key}: no own property`).toBe(false);
    }
    expect([guarded.skipNonFinite, guarded.stateDtype]).toEqual([true, 'bf16']);
    plain.destroy();
    guarded.destroy();
  });

  test('importState fields and rebind entries: clear errors, nothing changed', async () => {
    const b = await baseline(AdaBelief as unknown as Ctor);
    for (const step of ['3', 3n, -1, 1.5, NaN, Infinity, null, undefined, 2 ** 53]) {
      expectRefused(
        attempt(() => b.opt.importState({ ...b.state, step } as never)),
        /step/,
        step,
        `importState step ${describeValue(step)}`,
      );
      expectUnchanged(b, 'importState step');
    }
    for (const options of [null, 'abc', 5, [], true]) {
      expectRefused(
        attempt(() => b.opt.importState({ ...b.state, options } as never)),
        /options/,
        options,
        `importState options ${describeValue(options)}`,
      );
    }
    for (const tensors of [null, 'abc', [], [{}], [{ exp_avg: [1], exp_avg_var: [2] }]]) {
      const r = attempt(() => b.opt.importState({ ...b.state, tensors } as never));
      expect(r.error?.message, `importState tensors ${describeValue(tensors)}`).toMatch(
        /importState: .*tensor/,
      );
      expect(r.calls).toBe(0);
    }
    for (const state of [null, 'abc', 5, []]) {
      expectRefused(
        attempt(() => b.opt.importState(state as never)),
        /state/,
        state,
        `importState ${describeValue(state)}`,
      );
    }
    // Missing or {} options keep the current ones (not the defaults).
    b.opt.lr = 0.5;
    const { options: _dropped, ...noOptions } = b.state;
    void _dropped;
    b.opt.importState(noOptions as never);
    expect(b.opt.lr).toBe(0.5);
    b.opt.importState({ ...b.state, options: {} } as never);
    expect(b.opt.lr).toBe(0.5);
    b.opt.importState(b.state as never);
    for (const entries of [[null], ['abc'], [{}], [{ param: b.param }], null, 'abc', []]) {
      const r = attempt(() => b.opt.rebind(entries as never));
      expect(r.error, `rebind(${describeValue(entries)})`).toBeInstanceOf(Error);
      expect(r.error!.message).toMatch(/rebind/);
      expect(r.calls).toBe(0);
    }
    expectUnchanged(b, 'after the refused calls');
    await expectStateUnchanged(b);
    b.opt.destroy();
  });
});

/** A small seeded PRNG (mulberry32). */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('seeded random mixer of the same calls (CONTRACT_SEED replays)', async () => {
  const seed = Number(process.env.CONTRACT_SEED ?? Date.now() % 1e9);
  console.log(`contract mixer seed: ${seed} (replay: CONTRACT_SEED=${seed})`);
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pool = [...VALUES, 1e-3, 0.9, 'f32', 'bf16', 'torch-optimizer', [0.8, 0.99], 64, 128];
  let checked = 0;
  for (const [name, Cls] of CLASSES) {
    const b = await baseline(Cls);
    const options = { ...SPECS[name]!, ...EXTRAS };
    const keys = Object.keys(options);
    for (let k = 0; k < 60; k++) {
      const key = pick(keys);
      checked += crossOption(name, Cls, b, key, options[key]!, pick(pool));
    }
    b.opt.importState(b.state as never);
    await expectStateUnchanged(b);
    b.opt.destroy();
  }
  console.log(`mixer: ${checked} calls checked`);
});
