/**
 * The option accessors (src/core/option-accessors.ts) of every optimizer class, GPU and CPU: one per option of
 * its rule, so that `opt.lr = x` is never a silently ignored new property; writes validated through `set()`,
 * fixed options refusing a change, `undefined` refused. The CPU classes are exercised here; the GPU classes'
 * writes go through the same code (their contract tests: test/gpu/contract.test.ts). Also the CPU step's guard
 * argument and the WASM optimizer's thread options: bad values refused, naming the class, changing nothing.
 */
import { describe, expect, test } from 'vitest';
import {
  AdaBelief,
  AdaBeliefCPU,
  AdaBeliefFastCPU,
  AdaBeliefWasmCPU,
  Adam,
  AdamCPU,
  AdamW,
  AdamWCPU,
  AdamWasmCPU,
  AdamWWasmCPU,
  SGD,
  SGDCPU,
  SGDWasmCPU,
} from '../../src/index.js';
import { ADABELIEF_SETTABLE_OPTIONS } from '../../src/core/option-accessors.js';
import { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule, type Rule } from '../../src/core/rules.js';

type AnyClass = { name: string; prototype: object };
const CLASSES: [AnyClass, Rule<object>][] = [
  [AdaBelief, adabeliefRule],
  [Adam, adamRuleTorch],
  [AdamW, adamwRuleTorch],
  [SGD, sgdRule],
  [AdaBeliefCPU, adabeliefRule],
  [AdamCPU, adamRuleTorch],
  [AdamWCPU, adamwRuleTorch],
  [SGDCPU, sgdRule],
  [AdaBeliefFastCPU, adabeliefRule],
  [AdaBeliefWasmCPU, adabeliefRule],
  [AdamWasmCPU, adamRuleTorch],
  [AdamWWasmCPU, adamwRuleTorch],
  [SGDWasmCPU, sgdRule],
] as never;

/** The accessor `key` of `proto` or of a prototype above it. */
function accessor(proto: object | null, key: string): PropertyDescriptor | undefined {
  for (let p = proto; p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d) return d;
  }
  return undefined;
}

type CPUOpt = {
  options: Record<string, unknown>;
  params: Float32Array[];
  stepCount: number;
  step(g: Float32Array[], guard?: unknown): unknown;
  destroy?(): void;
} & Record<string, unknown>;
type CPUClass = new (p: Float32Array[], o?: object) => CPUOpt;
const CPU: [string, CPUClass, object][] = [
  ['AdaBeliefCPU', AdaBeliefCPU, {}],
  ['AdamCPU', AdamCPU, {}],
  ['AdamWCPU', AdamWCPU, {}],
  ['SGDCPU', SGDCPU, { momentum: 0.9 }],
  ['AdaBeliefFastCPU', AdaBeliefFastCPU, {}],
  ['AdaBeliefWasmCPU', AdaBeliefWasmCPU, { threads: 1 }],
  ['AdamWasmCPU', AdamWasmCPU, { threads: 1 }],
  ['AdamWWasmCPU', AdamWWasmCPU, { threads: 1 }],
  ['SGDWasmCPU', SGDWasmCPU, { threads: 1, momentum: 0.9 }],
] as never;

const params = () => [Float32Array.from({ length: 37 }, (_, i) => Math.sin(i + 1))];
const grads = () => [Float32Array.from({ length: 37 }, (_, i) => Math.cos(3 * i) * 0.1)];

describe('every optimizer class has an accessor for every option of its rule', () => {
  test.each(CLASSES.map(([c, r]) => [c.name, c, r] as const))('%s', (_, cls, rule) => {
    for (const key of Object.keys(rule.defaults)) {
      const d = accessor(cls.prototype, key);
      expect(typeof d?.get, `${cls.name}.${key} getter`).toBe('function');
      expect(typeof d?.set, `${cls.name}.${key} setter`).toBe('function');
    }
  });

  test("ADABELIEF_SETTABLE_OPTIONS: AdaBelief's options but amsgrad, the one fixed at construction", () => {
    expect([...ADABELIEF_SETTABLE_OPTIONS].sort()).toEqual(
      Object.keys(adabeliefRule.defaults)
        .filter((k) => k !== 'amsgrad')
        .sort(),
    );
  });
});

describe('CPU optimizers: accessors read and write the options, validated', () => {
  test.each(CPU)('%s', (name, Cls, extra) => {
    const a = new Cls(params(), extra);
    const b = new Cls(params(), { ...extra, lr: 0.05 });
    // A write is the option: the next step runs with it, as an optimizer constructed with it.
    a.lr = 0.05;
    expect(a.lr).toBe(0.05);
    expect(a.options.lr).toBe(0.05);
    a.step(grads());
    b.step(grads());
    expect(Array.from(a.params[0]!)).toEqual(Array.from(b.params[0]!));
    // Refused writes name the option and the value and change nothing.
    expect(() => (a.lr = NaN)).toThrow(/^Invalid learning rate: nan$/);
    expect(() => (a.lr = undefined)).toThrow(
      new RegExp(`^${name}\\.lr cannot be set to undefined \\(assign a value; the default is 0\\.001\\)$`),
    );
    expect(a.lr).toBe(0.05);
    if ('amsgrad' in a.options) {
      expect(a.amsgrad).toBe(false);
      a.amsgrad = false; // its own value: allowed, nothing changes
      expect(() => (a.amsgrad = true)).toThrow(/^amsgrad is fixed at construction/);
      expect(a.options.amsgrad).toBe(false);
    }
    // Not an own property: the write went to the accessor.
    expect(Object.hasOwn(a, 'lr')).toBe(false);
    a.destroy?.();
    b.destroy?.();
  });
});

describe('CPU step guard: bad values refused before anything changes', () => {
  test.each(CPU)('%s', (name, Cls, extra) => {
    const a = new Cls(params(), extra);
    const before = a.params[0]!.slice();
    const cases: [unknown, RegExp][] = [
      [null, new RegExp(`^${name}\\.step: the guard must be an object, got null$`)],
      [{ foo: 1 }, new RegExp(`^Unknown ${name}\\.step guard option: 'foo' \\(`)],
      [{ skipNonFinite: 'yes' }, /^Option 'skipNonFinite' must be a boolean, got 'yes'$/],
      [{ gradScale: -1 }, /^gradScale must be a finite number > 0, got -1$/],
      [{ maxGradNorm: 0 }, /^maxGradNorm must be a number > 0/],
      [{ gradNorm: '1' }, new RegExp(`^${name}\\.step: gradNorm must be a number, got '1'$`)],
    ];
    for (const [guard, message] of cases) expect(() => a.step(grads(), guard)).toThrow(message);
    expect(a.stepCount).toBe(0);
    expect(Array.from(a.params[0]!)).toEqual(Array.from(before));
    a.destroy?.();
  });
});

describe('WASM optimizer: thread options and arrays checked, naming the class', () => {
  test('threads, minElementsPerThread, tuneThreads, Float32Array params', () => {
    const p = params();
    expect(() => new AdaBeliefWasmCPU(p, { threads: 0 })).toThrow(
      /^AdaBeliefWasmCPU: threads must be an integer in \[1, 256\], got 0$/,
    );
    expect(() => new SGDWasmCPU(p, { minElementsPerThread: 0.5 })).toThrow(
      /^SGDWasmCPU: minElementsPerThread must be an integer >= 1, got 0\.5$/,
    );
    expect(() => new AdamWasmCPU(p, { tuneThreads: 'yes' as never })).toThrow(
      /^AdamWasmCPU: tuneThreads must be a boolean, got 'yes'$/,
    );
    expect(() => new AdaBeliefWasmCPU([new Float64Array(4) as never])).toThrow(
      /^AdaBeliefWasmCPU: params\[0\] must be a Float32Array$/,
    );
  });
});
