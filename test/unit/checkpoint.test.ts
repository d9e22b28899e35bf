/**
 * Checkpoints (src/io/checkpoint.ts over src/io/safetensors.ts), in plain Node: real optimizer states from
 * AdaBeliefCPU survive save → load bit for bit (and training resumed from a checkpoint takes exactly the
 * steps the original takes); the bytes follow the safetensors format, as read by an independent reader
 * written here from the format's description; every kind of bad file is rejected with a message naming
 * what is wrong, and leaves the optimizer's state unchanged.
 *
 * Tolerance everywhere: 0 differing bits (the file stores the f32 values themselves and f64 options in
 * shortest round-trip JSON; nothing is computed).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  adabeliefCheckpoint,
  adamCheckpoint,
  adamwCheckpoint,
  sgdCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  type CheckpointSpec,
} from '../../src/io/checkpoint.js';
import { describeValue, presets, type AdaBeliefOptions } from '../../src/core/options.js';
import { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU } from '../../src/cpu/reference.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import type { AdaBeliefState } from '../../src/core/state.js';
import { randomArray, rng } from '../gpu/scenarios/harness.js';

const SIZES = [1, 3, 17, 256];
const SHAPES = [[1], [3], [17], [16, 16]];
const STEPS = 5;

/** Option sets that exercise every field, including floats that are not short decimals and -0. */
const CASES: [string, Partial<AdaBeliefOptions>][] = [
  ['defaults', {}],
  ['amsgrad + L2 decay', { amsgrad: true, weightDecay: 0.01, weightDecouple: false }],
  ['torch-optimizer semantics, amsgrad', { ...presets.torchOptimizer, amsgrad: true }],
  [
    'awkward floats',
    {
      lr: 0.1 + 0.2,
      betas: [0.8999999999999999, 1 - 2 ** -40],
      eps: 5e-324,
      weightDecay: -0,
      fixedDecay: true,
      rectify: false,
      degeneratedToSgd: false,
    },
  ],
];

/** Parameters and gradients of SIZES elements from a seeded generator. */
function problem(seed: number) {
  const random = rng(seed);
  const params = SIZES.map((n) => randomArray(random, n, 1));
  const grads = Array.from({ length: 2 * STEPS }, () => SIZES.map((n) => randomArray(random, n, 1)));
  return { params, grads };
}

/** An AdaBeliefCPU after STEPS steps, with a copy of its parameters. */
function trained(options: Partial<AdaBeliefOptions>, seed = 7) {
  const { params, grads } = problem(seed);
  const cpu = new AdaBeliefCPU(params, options);
  for (let t = 0; t < STEPS; t++) cpu.step(grads[t]!);
  return { cpu, params, grads };
}

/** Number of elements whose bits differ (NaN payloads and -0 included). */
function differingBits(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) count++;
  return count;
}

/** Differing bits over every state tensor of two states with the same names. */
function stateDifference(a: AdaBeliefState, b: AdaBeliefState): { tensors: number; differing: number } {
  expect(b.tensors.length).toBe(a.tensors.length);
  let tensors = 0;
  let differing = 0;
  a.tensors.forEach((st, i) => {
    const other = b.tensors[i] as Record<string, Float32Array | undefined>;
    expect(Object.keys(other).sort()).toEqual(Object.keys(st).sort());
    for (const [name, values] of Object.entries(st)) {
      tensors++;
      differing += differingBits(values!, other[name]!);
    }
  });
  return { tensors, differing };
}

/** The same options, every number compared with Object.is (so -0 and the last bit count). */
function expectSameOptions(got: AdaBeliefOptions, want: AdaBeliefOptions): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const key of Object.keys(want) as (keyof AdaBeliefOptions)[]) {
    const [g, w]: unknown[] = [got[key], want[key]];
    if (Array.isArray(w) && Array.isArray(g)) {
      expect(g.length).toBe(w.length);
      w.forEach((x, i) => expect(Object.is(g[i], x), `${key}[${i}]: ${g} vs ${w}`).toBe(true));
    } else {
      expect(Object.is(g, w), `${key}: ${String(g)} vs ${String(w)}`).toBe(true);
    }
  }
}

// ---- An independent reader and writer, from the format's description (huggingface/safetensors README):
// 8 bytes little-endian u64 header length N; N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets}};
// then the byte buffer, covered by the tensors' [begin, end) offsets with no holes.

interface SpecTensor {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  values: number[];
}

function littleEndianUint(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let b = count - 1; b >= 0; b--) value = value * 256 + bytes[at + b]!;
  return value;
}

function specRead(file: Uint8Array) {
  const headerLength = littleEndianUint(file, 0, 8);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = file.subarray(8 + headerLength);
  const tensors = new Map<string, SpecTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    const size = { F32: 4, I64: 8 }[info.dtype];
    if (size === undefined) throw new Error(`spec reader: dtype ${info.dtype} not expected here`);
    expect(end - begin, `${name}: bytes = elements × dtype size`).toBe(count * size);
    const values: number[] = [];
    for (let at = begin; at < end; at += size) {
      if (info.dtype === 'F32') {
        const bits = Uint32Array.of(littleEndianUint(data, at, 4));
        values.push(new Float32Array(bits.buffer)[0]!);
      } else {
        const low = littleEndianUint(data, at, 4);
        const high = littleEndianUint(data, at + 4, 4) | 0; // two's complement
        values.push(high * 2 ** 32 + low);
      }
    }
    tensors.set(name, { dtype: info.dtype, shape: info.shape, begin, end, values });
  }
  const ordered = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  let covered = 0;
  for (const t of ordered) {
    expect(t.begin, 'tensors cover the byte buffer without holes or overlaps').toBe(covered);
    covered = t.end;
  }
  expect(covered, 'tensors cover the whole byte buffer').toBe(data.length);
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  return { headerLength, header, metadata, tensors, data };
}

/** A file from header text and data, with `declared` as its header length (the real one by default). */
function specAssemble(headerText: string, data: Uint8Array, declared?: number): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  let n = declared ?? header.length;
  for (let b = 0; b < 8; b++) {
    out[b] = n % 256;
    n = Math.floor(n / 256);
  }
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** `file` with its header JSON changed by `edit` (the data kept). */
function withHeader(
  file: Uint8Array,
  edit: (header: Record<string, Record<string, unknown>>) => void,
): Uint8Array {
  const { header, data } = specRead(file);
  edit(header as unknown as Record<string, Record<string, unknown>>);
  return specAssemble(JSON.stringify(header), data);
}

// ----

describe.each(CASES)('round trip: %s', (_, options) => {
  test('save → load is bit-exact, and training resumed from the file takes the same steps', () => {
    const { cpu, params, grads } = trained(options);
    const exported = cpu.exportState();
    const bytes = saveCheckpoint(exported, { shapes: SHAPES });
    const loaded = loadCheckpoint(bytes, { sizes: SIZES, amsgrad: exported.options.amsgrad });

    expect(loaded.step).toBe(STEPS);
    expectSameOptions(loaded.options, exported.options);
    const diff = stateDifference(loaded, exported);
    console.log(
      `${JSON.stringify(options)}: ${bytes.length} bytes, step ${loaded.step}, ${diff.tensors} state tensors (sizes ${SIZES}), ${diff.differing} elements with differing bits (tolerance 0), options identical`,
    );
    expect(diff.differing).toBe(0);
    expect(saveCheckpoint(loaded, { shapes: SHAPES }), 'save(load(file)) gives the same bytes').toEqual(
      bytes,
    );

    // Resume: a new optimizer over copies of the parameters, state from the file; both take STEPS more steps.
    const copies = params.map((p) => p.slice());
    const resumed = new AdaBeliefCPU(copies, options);
    resumed.importState(loaded);
    for (let t = STEPS; t < 2 * STEPS; t++) {
      cpu.step(grads[t]!);
      resumed.step(grads[t]!);
    }
    const paramDiff = params.reduce((sum, p, i) => sum + differingBits(p, copies[i]!), 0);
    const resumedDiff = stateDifference(resumed.exportState(), cpu.exportState());
    console.log(
      `  resumed for ${STEPS} more steps: params ${paramDiff}, state ${resumedDiff.differing} elements with differing bits (tolerance 0)`,
    );
    expect(paramDiff + resumedDiff.differing).toBe(0);
    expect(resumed.stepCount).toBe(2 * STEPS);
  });
});

describe('file layout', () => {
  test('an independent reader finds the PyTorch state_dict layout and the exact values', () => {
    const { cpu } = trained({ amsgrad: true, weightDecay: 1e-4 });
    const state = cpu.exportState();
    const file = specRead(saveCheckpoint(state, { shapes: SHAPES, metadata: { model: 'test' } }));

    expect(file.headerLength % 8, 'header padded so that the byte buffer is 8-byte aligned').toBe(0);
    const names = ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'];
    const expected = SIZES.flatMap((_, i) => [`state.${i}.step`, ...names.map((n) => `state.${i}.${n}`)]);
    expect([...file.tensors.keys()].sort()).toEqual(expected.sort());
    let checked = 0;
    SIZES.forEach((_, i) => {
      const step = file.tensors.get(`state.${i}.step`)!;
      expect([step.dtype, step.shape, step.values]).toEqual(['I64', [], [STEPS]]);
      expect(step.begin % 8, 'I64 aligned').toBe(0);
      for (const name of names) {
        const t = file.tensors.get(`state.${i}.${name}`)!;
        expect([t.dtype, t.shape]).toEqual(['F32', SHAPES[i]]);
        expect(t.begin % 4, 'F32 aligned').toBe(0);
        const want = state.tensors[i]![name as keyof (typeof state.tensors)[0]]!;
        expect(differingBits(Float32Array.from(t.values), want)).toBe(0);
        checked += t.values.length;
      }
    });

    const { metadata } = file;
    expect(Object.keys(metadata).sort()).toEqual(['model', 'optimizer', 'options', 'param_groups', 'step']);
    expect([metadata.optimizer, metadata.step, metadata.model]).toEqual(['AdaBelief', String(STEPS), 'test']);
    expect(JSON.parse(metadata.options!)).toEqual({
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-16,
      weight_decay: 1e-4,
      amsgrad: true,
      weight_decouple: true,
      fixed_decay: false,
      rectify: true,
      degenerated_to_sgd: true,
      semantics: 'adabelief-pytorch',
    });
    expect(JSON.parse(metadata.param_groups!)).toEqual([
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-16, weight_decay: 1e-4, amsgrad: true, params: [0, 1, 2, 3] },
    ]);
    console.log(
      `independent reader: ${file.tensors.size} tensors, ${checked} state values bit-equal, metadata ${Object.keys(metadata).join(', ')}`,
    );
  });

  test('per-parameter overrides become param groups and come back as overrides', () => {
    const overrides = [{}, { lr: 0.01 }, { betas: [0.8, 0.9] as const, weightDecay: 0.5 }, { lr: 0.01 }];
    const { params, grads } = problem(3);
    const cpu = new AdaBeliefCPU(
      params.map((param, i) => ({ param, ...overrides[i] })),
      { lr: 1e-3 },
    );
    cpu.step(grads[0]!);
    const bytes = saveCheckpoint(cpu.exportState(), { overrides });
    const groups = JSON.parse(specRead(bytes).metadata.param_groups!) as { params: number[]; lr: number }[];
    expect(groups.map((g) => [g.params, g.lr])).toEqual([
      [[0], 1e-3],
      [[1, 3], 0.01],
      [[2], 1e-3],
    ]);
    const contents = readCheckpoint(bytes, { sizes: SIZES });
    expect(contents.overrides).toEqual(overrides);
    expect(contents.shapes).toEqual(SIZES.map((n) => [n]));
    expect(() => loadCheckpoint(bytes)).toThrow(/parameters 0 and 1 have different hyperparameters/);
    console.log(`param groups ${JSON.stringify(groups.map((g) => g.params))}; overrides read back identical`);

    // One group whose values all differ from the options: loadCheckpoint folds them into the options.
    const uniform = saveCheckpoint(cpu.exportState(), { overrides: SIZES.map(() => ({ lr: 0.05 })) });
    expect(loadCheckpoint(uniform).options.lr).toBe(0.05);
  });

  test('option values survive JSON bit for bit (fast-check, 300 random option sets)', () => {
    const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    const positive = fc.double({ min: 0, max: 1e300, noNaN: true });
    let runs = 0;
    fc.assert(
      fc.property(positive, unit, unit, positive, positive, (lr, b1, b2, eps, weightDecay) => {
        const options = { ...presets.adabeliefPytorch, lr, betas: [b1, b2] as const, eps, weightDecay };
        const state: AdaBeliefState = {
          step: 3,
          options,
          tensors: [{ exp_avg: new Float32Array([1]), exp_avg_var: new Float32Array([2]) }],
        };
        expectSameOptions(loadCheckpoint(saveCheckpoint(state)).options, options);
        runs++;
      }),
      { seed: 20260101, numRuns: 300 },
    );
    console.log(`${runs} random option sets (doubles incl. -0 and subnormals): identical after save → load`);
  });

  test('generic over the state names: a spec for another optimizer', () => {
    interface MomentumOptions {
      lr: number;
      momentum: number;
    }
    const momentumSpec: CheckpointSpec<MomentumOptions> = {
      name: 'Momentum',
      resolve: (user) => ({ lr: 0.1, momentum: 0.9, ...user }),
      validateOverrides: () => {},
      slots: () => [{ name: 'momentum_buffer' }],
      groupKeys: ['lr', 'momentum'],
    };
    const state = {
      step: 2,
      options: { lr: 0.5, momentum: 0.25 },
      tensors: [{ momentum_buffer: new Float32Array([1, -2]) }, { momentum_buffer: new Float32Array([3]) }],
    };
    const bytes = saveCheckpoint(state, { spec: momentumSpec });
    expect([...specRead(bytes).tensors.keys()]).toContain('state.1.momentum_buffer');
    const back = loadCheckpoint(bytes, { spec: momentumSpec, sizes: [2, 1] });
    expect(back).toEqual(state);
    expect(() => loadCheckpoint(bytes)).toThrow(
      /the file holds the state of optimizer 'Momentum', expected 'AdaBelief'/,
    );
    expect(() => saveCheckpoint(trained({}).cpu.exportState(), { spec: adabeliefCheckpoint })).not.toThrow();
    console.log(`Momentum spec: ${[...specRead(bytes).tensors.keys()].join(', ')} round trip`);
  });
});

describe('safetensors encoding against hand-assembled bytes', () => {
  test('the writer produces exactly the bytes the format describes', () => {
    const bytes = encodeSafetensors([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) }]], {
      k: 'v',
    });
    const header = '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = header + ' '.repeat(Math.ceil(header.length / 8) * 8 - header.length);
    // 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian.
    const expected = specAssemble(padded, Uint8Array.of(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0));
    expect(bytes).toEqual(expected);
  });

  test('the reader accepts what the format allows: any order, padding, empty and scalar tensors', () => {
    const header =
      '\t {"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]},"empty":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]},' +
      '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"x":"y"}}   ';
    const data = Uint8Array.of(0, 0, 0xc0, 0x3f, 5, 0, 0, 0, 0, 0, 0, 0); // 1.5f, then I64 5
    const file = decodeSafetensors(specAssemble(header, data));
    expect([...file.tensors.keys()]).toEqual(['a', 'empty', 'b']); // in data order
    expect(file.metadata).toEqual({ x: 'y' });
    expect(file.tensors.get('b')!.shape).toEqual([]);
    expect(Array.from(file.tensors.get('a')!.bytes)).toEqual([0, 0, 0xc0, 0x3f]);
  });
});

describe('bad files are rejected and change nothing', () => {
  const options = { amsgrad: true };
  const { cpu } = trained(options);
  const good = saveCheckpoint(cpu.exportState());
  const expectation = { sizes: SIZES, amsgrad: true };

  /** A file like `good` but with `tensors` (name → F32 values or raw tensor) replaced or removed (null). */
  function rebuilt(change: Record<string, unknown>, metadataChange: Record<string, string | null> = {}) {
    const decoded = decodeSafetensors(good);
    const tensors = new Map<string, unknown>(
      [...decoded.tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: t.bytes }]),
    );
    for (const [name, value] of Object.entries(change)) {
      if (value === null) tensors.delete(name);
      else tensors.set(name, value);
    }
    const metadata = { ...decoded.metadata };
    for (const [key, value] of Object.entries(metadataChange)) {
      if (value === null) delete metadata[key];
      else metadata[key] = value;
    }
    return encodeSafetensors(tensors as never, metadata);
  }
  const f32 = (n: number) => ({ dtype: 'F32', shape: [n], data: new Float32Array(n) });
  const i64 = (x: number) => ({ dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(x)) });
  const options3 = JSON.parse(decodeSafetensors(good).metadata.options!);

  const BAD: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header length/],
    [
      'truncated: last byte missing',
      () => good.subarray(0, good.length - 1),
      /ends at byte \d+ of a \d+-byte data section: truncated/,
    ],
    [
      'truncated inside the header',
      () => good.subarray(0, 40),
      /header length \d+ runs past the end of the 40-byte file/,
    ],
    [
      'trailing bytes',
      () => Uint8Array.of(...good, 0, 0, 0, 0),
      /4 bytes after the last tensor belong to no tensor/,
    ],
    [
      'header length past the end',
      () => specAssemble(JSON.stringify(specRead(good).header), specRead(good).data, good.length),
      /header length \d+ runs past the end/,
    ],
    [
      'absurd header length',
      () => specAssemble('{}', new Uint8Array(0), 2 ** 40),
      /header length 1099511627776 is larger than the 100000000-byte limit/,
    ],
    [
      'header not UTF-8',
      () => specAssemble('{"a":"', Uint8Array.of(0xff, 0xfe, 0x22, 0x7d), 10),
      /header is not valid UTF-8/,
    ],
    ['header not JSON', () => specAssemble('{"a": nope}', new Uint8Array(0)), /header is not valid JSON/],
    ['header a JSON array', () => specAssemble('[1, 2]', new Uint8Array(0)), /header must be a JSON object/],
    [
      'duplicate key',
      () => {
        const text = new TextDecoder().decode(good.subarray(8, 8 + specRead(good).headerLength)).trimEnd();
        return specAssemble(
          text.replace(
            '{"__metadata__"',
            '{"state.0.step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"__metadata__"',
          ),
          specRead(good).data,
        );
      },
      /header repeats the key "state.0.step"/,
    ],
    [
      'unknown dtype',
      () => withHeader(good, (h) => (h['state.0.exp_avg']!.dtype = 'F33')),
      /tensor 'state.0.exp_avg' has unknown dtype "F33"/,
    ],
    [
      'F16 state tensor',
      () => rebuilt({ 'state.1.exp_avg': { dtype: 'F16', shape: [3], data: new Uint8Array(6) } }),
      /tensor 'state.1.exp_avg' has dtype F16, expected F32/,
    ],
    [
      'F64 state tensor',
      () => rebuilt({ 'state.2.exp_avg_var': { dtype: 'F64', shape: [17], data: new Float64Array(17) } }),
      /tensor 'state.2.exp_avg_var' has dtype F64, expected F32/,
    ],
    [
      'BF16 step',
      () => rebuilt({ 'state.0.step': { dtype: 'BF16', shape: [], data: new Uint8Array(2) } }),
      /tensor 'state.0.step' has dtype BF16: expected an integer, F32 or F64/,
    ],
    [
      'offsets overlapping',
      () => withHeader(good, (h) => (h['state.1.step']!.data_offsets = h['state.0.step']!.data_offsets)),
      /tensor 'state.1.step' \[0, 8\) overlaps tensor 'state.0.step' \(ends at 8\)/,
    ],
    [
      'a hole between tensors',
      () => withHeader(good, (h) => (h['state.0.step']!.data_offsets = h['state.1.step']!.data_offsets)),
      /bytes \[0, 8\) before tensor 'state.0.step' belong to no tensor \(holes are not allowed\)/,
    ],
    [
      'offsets outside the data',
      () => withHeader(good, (h) => (h['state.3.max_exp_avg_var']!.data_offsets = [1e9, 1e9 + 1024])),
      /tensor 'state.3.max_exp_avg_var' ends at byte 1000001024/,
    ],
    [
      'begin after end',
      () => withHeader(good, (h) => (h['state.0.step']!.data_offsets = [8, 0])),
      /data_offsets must be \[begin, end\] with 0 <= begin <= end, got \[8,0\]/,
    ],
    [
      'byte count ≠ shape × dtype',
      () => withHeader(good, (h) => (h['state.2.exp_avg']!.shape = [18])),
      /tensor 'state.2.exp_avg' has data_offsets \[\d+, \d+\] \(68 bytes\), but shape \[18\] of F32 is 72 bytes/,
    ],
    [
      'negative dimension',
      () => withHeader(good, (h) => (h['state.2.exp_avg']!.shape = [-17])),
      /tensor 'state.2.exp_avg' has shape \[-17\]: dimensions must be non-negative integers/,
    ],
    [
      'metadata value not a string',
      () => withHeader(good, (h) => (h.__metadata__!.step = 5)),
      /metadata 'step' must be a string, got 5/,
    ],
    [
      'missing tensor',
      () => rebuilt({ 'state.1.exp_avg_var': null }),
      /missing tensor 'state.1.exp_avg_var'/,
    ],
    ['missing step tensor', () => rebuilt({ 'state.2.step': null }), /missing tensor 'state.2.step'/],
    [
      'missing parameter',
      () =>
        rebuilt(
          Object.fromEntries(
            ['step', 'exp_avg', 'exp_avg_var', 'max_exp_avg_var'].map((n) => [`state.3.${n}`, null]),
          ),
        ),
      /the file has no state for parameter 3/,
    ],
    [
      'shape ≠ parameter size',
      () =>
        rebuilt({
          'state.2.exp_avg': f32(16),
          'state.2.exp_avg_var': f32(16),
          'state.2.max_exp_avg_var': f32(16),
        }),
      /'state.2.exp_avg' has shape \[16\] \(16 elements\), parameter 2 has 17/,
    ],
    [
      'shapes differ within a parameter',
      () =>
        rebuilt({ 'state.3.exp_avg_var': { dtype: 'F32', shape: [16, 16], data: new Float32Array(256) } }),
      /'state.3.exp_avg_var' has shape \[16,16\], but 'state.3.exp_avg' has \[256\]/,
    ],
    [
      'extra parameter',
      () => rebuilt({ 'state.4.step': i64(STEPS), 'state.4.exp_avg': f32(2) }),
      /the file has state for parameter 4, but the optimizer has 4 parameters/,
    ],
    [
      'extra state tensor',
      () => rebuilt({ 'state.0.exp_avg_sq': f32(1) }),
      /unexpected tensor 'state.0.exp_avg_sq': AdaBelief with these options keeps exp_avg, exp_avg_var, max_exp_avg_var/,
    ],
    [
      'tensor outside the state',
      () => rebuilt({ 'param.0': f32(1) }),
      /unexpected tensor 'param.0' \(a checkpoint holds only state.<i>.<name>\)/,
    ],
    [
      'inconsistent steps',
      () => rebuilt({ 'state.1.step': i64(4) }),
      /'state.1.step' is 4, but the metadata step is 5 \(inconsistent steps\)/,
    ],
    [
      'step not an integer',
      () => rebuilt({}, { step: '5.5' }),
      /metadata 'step' must be a non-negative integer, got "5.5"/,
    ],
    ['no optimizer', () => rebuilt({}, { optimizer: null }), /metadata 'optimizer' is missing/],
    [
      'another optimizer',
      () => rebuilt({}, { optimizer: 'Adam' }),
      /the file holds the state of optimizer 'Adam', expected 'AdaBelief'/,
    ],
    ['options not JSON', () => rebuilt({}, { options: '{lr: 1}' }), /metadata 'options' is not valid JSON/],
    [
      'invalid option value',
      () => rebuilt({}, { options: JSON.stringify({ ...options3, lr: -1 }) }),
      /metadata 'options': Invalid learning rate: -1/,
    ],
    [
      'unknown option',
      () => rebuilt({}, { options: JSON.stringify({ ...options3, nesterov: true }) }),
      /metadata 'options' has unknown option 'nesterov'/,
    ],
    [
      'option missing',
      () => rebuilt({}, { options: JSON.stringify({ ...options3, semantics: undefined }) }),
      /metadata 'options' lacks 'semantics'/,
    ],
    [
      'amsgrad differs from the optimizer',
      () => rebuilt({}, { options: JSON.stringify({ ...options3, amsgrad: false }) }),
      /the file has amsgrad=false, the optimizer has amsgrad=true/,
    ],
    [
      'parameter in no group',
      () =>
        rebuilt(
          {},
          {
            param_groups: JSON.stringify(
              [{ ...options3, params: [0, 1, 3] }].map(
                ({ lr, betas, eps, weight_decay, amsgrad, params }) => ({
                  lr,
                  betas,
                  eps,
                  weight_decay,
                  amsgrad,
                  params,
                }),
              ),
            ),
          },
        ),
      /parameter 2 is in no param group/,
    ],
    [
      'group with a bad value',
      () =>
        rebuilt(
          {},
          {
            param_groups: JSON.stringify([
              {
                lr: 1e-3,
                betas: [0.9, 1.5],
                eps: 1e-16,
                weight_decay: 0,
                amsgrad: true,
                params: [0, 1, 2, 3],
              },
            ]),
          },
        ),
      /param_groups\[0\]: Invalid beta parameter at index 1: 1.5/,
    ],
    [
      'group with amsgrad of its own',
      () =>
        rebuilt(
          {},
          {
            param_groups: JSON.stringify([
              {
                lr: 1e-3,
                betas: [0.9, 0.999],
                eps: 1e-16,
                weight_decay: 0,
                amsgrad: false,
                params: [0, 1, 2, 3],
              },
            ]),
          },
        ),
      /param_groups\[0\]: 'amsgrad' cannot be set per parameter/,
    ],
  ];

  test.each(BAD)('%s', (_, make, message) => {
    const before = cpu.exportState();
    const bad = make();
    let error: Error | undefined;
    try {
      cpu.importState(loadCheckpoint(bad, expectation));
    } catch (e) {
      error = e as Error;
    }
    console.log(`rejected: ${error?.message}`);
    expect(error?.message).toMatch(message);
    const after = cpu.exportState();
    expect(after.step).toBe(before.step);
    expectSameOptions(after.options, before.options);
    expect(stateDifference(after, before).differing).toBe(0);
  });

  test('random damage (fast-check, 1000 files): a clean message or a valid state, never a crash', () => {
    const outcomes = { rejected: 0, loaded: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(good.length), { nil: undefined }),
        (edits, cut) => {
          const bad = good.slice(0, cut);
          for (const [at, value] of edits) if (at < bad.length) bad[at] = value;
          try {
            const state = loadCheckpoint(bad, expectation);
            expect(state.tensors.map((t) => t.exp_avg.length)).toEqual(SIZES);
            outcomes.loaded++;
          } catch (e) {
            expect((e as Error).message).toMatch(/^(safetensors|checkpoint): /);
            outcomes.rejected++;
          }
        },
      ),
      { seed: 20260101, numRuns: 1000 },
    );
    console.log(
      `random damage: ${outcomes.rejected} files rejected with a safetensors:/checkpoint: message, ${outcomes.loaded} loaded (the change left a valid file: in tensor data, padding or a value that is still valid)`,
    );
    expect(outcomes.rejected).toBeGreaterThan(0);
  });

  test('not a Uint8Array (an ArrayBuffer from fetch/readFile, other views, anything): the message names what was given', () => {
    const cases: [unknown, string][] = [
      [good.buffer, 'got an ArrayBuffer (wrap it: new Uint8Array(buffer))'],
      [
        new Float32Array(4),
        'got a Float32Array (its bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength))',
      ],
      [
        new DataView(good.buffer),
        'got a DataView (its bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength))',
      ],
      [Array.from(good.subarray(0, 3)), `got ${describeValue(Array.from(good.subarray(0, 3)))}`],
      ['abc', "got 'abc'"],
      [null, 'got null'],
      [undefined, 'got undefined'],
      [42, 'got 42'],
    ];
    for (const [given, words] of cases) {
      for (const [name, read] of [
        ['loadCheckpoint', () => loadCheckpoint(given as Uint8Array)],
        ['readCheckpoint', () => readCheckpoint(given as Uint8Array)],
        ['decodeSafetensors', () => decodeSafetensors(given as Uint8Array)],
      ] as const) {
        const where = `${name}(${describeValue(given)})`;
        expect(read, where).toThrow(`safetensors: expected the file's bytes as a Uint8Array, ${words}`);
      }
    }
  });

  test('importState refuses a checkpoint of another shape (loaded without expect) and changes nothing', () => {
    for (const [what, other, pattern] of [
      ['amsgrad off', trained({}).cpu, /the state has amsgrad=false, this optimizer has amsgrad=true/],
      [
        '3 parameters',
        new AdaBeliefCPU(
          SIZES.slice(0, 3).map((n) => new Float32Array(n)),
          options,
        ),
        /expected 4 tensor states, got 3/,
      ],
    ] as const) {
      const state = loadCheckpoint(saveCheckpoint(other.exportState()));
      const before = cpu.exportState();
      expect(() => cpu.importState(state)).toThrow(pattern);
      const after = cpu.exportState();
      expect(after.step).toBe(before.step);
      expect(stateDifference(after, before).differing).toBe(0);
      console.log(`importState of a checkpoint with ${what}: refused (${pattern}), state unchanged`);
    }
  });

  test('saveCheckpoint refuses what a checkpoint cannot hold', () => {
    const state = cpu.exportState();
    const cases: [string, () => unknown, RegExp][] = [
      [
        'lr Infinity',
        () => saveCheckpoint({ ...state, options: { ...state.options, lr: Infinity } }),
        /options: Invalid learning rate: inf/,
      ],
      [
        'Float64Array state',
        () => saveCheckpoint(new AdaBeliefCPU([new Float64Array(2)], options).exportState() as never),
        /tensors\[0\].exp_avg is a Float64Array: checkpoints hold F32 values/,
      ],
      [
        'plain Array state',
        () =>
          saveCheckpoint({
            ...state,
            tensors: state.tensors.map((t) => ({ ...t, exp_avg: Array.from(t.exp_avg) })),
          } as never),
        /tensors\[0\].exp_avg is an Array: checkpoints hold F32 values/,
      ],
      [
        'Uint16Array state (f16 bits)',
        () =>
          saveCheckpoint({
            ...state,
            tensors: state.tensors.map((t) => ({ ...t, exp_avg: new Uint16Array(t.exp_avg.length) })),
          } as never),
        /tensors\[0\].exp_avg is a Uint16Array: checkpoints hold F32 values/,
      ],
      [
        'Int32Array state',
        () =>
          saveCheckpoint({
            ...state,
            tensors: state.tensors.map((t) => ({ ...t, exp_avg: new Int32Array(t.exp_avg.length) })),
          } as never),
        /tensors\[0\].exp_avg is an Int32Array: checkpoints hold F32 values/,
      ],
      [
        'missing AMSGrad tensor',
        () =>
          saveCheckpoint({
            ...state,
            tensors: state.tensors.map((t) => ({ exp_avg: t.exp_avg, exp_avg_var: t.exp_avg_var })),
          }),
        /tensors\[0\] has no max_exp_avg_var/,
      ],
      [
        'wrong shape',
        () => saveCheckpoint(state, { shapes: [[1], [3], [17], [15, 16]] }),
        /shapes\[3\] is \[15,16\], but tensors\[3\].exp_avg has 256 elements/,
      ],
      [
        'reserved metadata',
        () => saveCheckpoint(state, { metadata: { step: '1' } }),
        /metadata 'step' is written by saveCheckpoint itself/,
      ],
      [
        'bad override',
        () => saveCheckpoint(state, { overrides: [{ lr: -1 }, {}, {}, {}] }),
        /overrides\[0\]: Invalid learning rate: -1/,
      ],
      [
        'negative step',
        () => saveCheckpoint({ ...state, step: -1 }),
        /step must be a non-negative integer \(a number\), got -1/,
      ],
    ];
    for (const [what, save, message] of cases) {
      expect(save, what).toThrow(message);
      console.log(`save refused (${what}): ${message}`);
    }
  });
});

test('size: a 2^20-element parameter with AMSGrad', () => {
  const n = 2 ** 20;
  const random = rng(11);
  const cpu = new AdaBeliefCPU([randomArray(random, n, 1)], { amsgrad: true });
  cpu.step([randomArray(random, n, 1)]);
  const state = cpu.exportState();
  const best = (f: () => void) => {
    let min = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const start = performance.now();
      f();
      min = Math.min(min, performance.now() - start);
    }
    return min;
  };
  let bytes: Uint8Array = new Uint8Array(0);
  let loaded: AdaBeliefState | undefined;
  const saveMs = best(() => (bytes = saveCheckpoint(state)));
  const loadMs = best(() => (loaded = loadCheckpoint(bytes, { sizes: [n], amsgrad: true })));
  expect(stateDifference(loaded!, state).differing).toBe(0);
  console.log(
    `2^20 elements × 3 state tensors: ${(bytes.length / 2 ** 20).toFixed(2)} MiB, save ${saveMs.toFixed(1)} ms, load ${loadMs.toFixed(1)} ms (best of 3, this machine)`,
  );
});

describe('Adam, AdamW and SGD checkpoints (torch.optim state names)', () => {
  test.each([
    [
      'Adam',
      () => new AdamCPU([new Float32Array([1, 2, 3]), new Float32Array([4])], { amsgrad: true }),
      adamCheckpoint,
    ],
    ['AdamW', () => new AdamWCPU([new Float32Array([1, 2, 3]), new Float32Array([4])]), adamwCheckpoint],
    [
      'SGD',
      () => new SGDCPU([new Float32Array([1, 2, 3]), new Float32Array([4])], { momentum: 0.9 }),
      sgdCheckpoint,
    ],
  ] as const)('%s: save → load → import is bit-exact and keeps the names', (name, make, spec) => {
    const a = make();
    const grads = [new Float32Array([0.1, -0.2, 0.3]), new Float32Array([0.5])];
    a.step(grads);
    a.step(grads);
    const saved = a.exportState();
    const file = saveCheckpoint(saved, { spec: spec as CheckpointSpec<object> });
    const loaded = loadCheckpoint(file, { spec: spec as CheckpointSpec<object> });
    const b = make();
    b.importState(loaded as never);
    expect(b.exportState()).toEqual(saved);
    console.log(
      `${name}: ${file.byteLength}-byte checkpoint, state names ${Object.keys(saved.tensors[0]!).join(', ')}`,
    );
  });
});
