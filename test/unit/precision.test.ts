/**
 * The lower-precision helpers in plain Node: f32 → f16 and f32 → bf16 rounding (nearest even) against known
 * values and against an exhaustive nearest-value search, the CPU mirror's f16 / bf16 / master-weight modes,
 * and the layout of packed tensors.
 */
import { describe, expect, test } from 'vitest';
import {
  AdaBeliefCPU,
  AdaBeliefFastCPU,
  bf16Bits,
  bf16Value,
  f16Bits,
  f16Value,
  fromBf16Array,
  planLayout,
  roundBf16,
  roundF16,
  stateBytesPerElement,
  toBf16Array,
  type MasterWeightsState,
} from '../../src/internal.js';
import { checkEntry } from '../../src/gpu/entries.js';
import { f32Bits, f32FromBits, resolvePrecision } from '../../src/core/precision.js';
import { joinPairs, splitBytes, splitIndex, splitPairs } from '../../src/gpu/state-store.js';

const hex = (x: number) => `0x${x.toString(16).padStart(4, '0')}`;

describe('f32 → f16, round to nearest even', () => {
  test.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00], // halfway between 65504 (odd mantissa) and 2^16: to even, which is infinity
    [-65520, 0xfc00],
    [1e10, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [0, 0x0000],
    [-0, 0x8000],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: to the even mantissa (1)
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 1 + 2^-10 and 1 + 2^-9: to the even one
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even (0)
    [2 ** -25 * 1.0000001, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units: to 2
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal (odd) and the smallest normal
    [2 ** -14, 0x0400],
    [1e-8, 0x0000],
  ])('f16 of %d', (x, bits) => {
    console.log(`f16(${x}) = ${hex(f16Bits(x))}, expected ${hex(bits)}`);
    expect(hex(f16Bits(x))).toBe(hex(bits));
  });

  test('NaN stays NaN (quiet, sign kept)', () => {
    expect(hex(f16Bits(NaN) & 0x7fff)).toBe('0x7e00');
    expect(f16Bits(f32FromBits(0xff800001)) & 0x8000).toBe(0x8000);
    expect(f16Value(f16Bits(f32FromBits(0x7f800001)))).toBeNaN();
  });

  test('every f16 value converts back to itself; f16Value is exact', () => {
    let checked = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = f16Value(h);
      if (Number.isNaN(v)) continue;
      expect(Math.fround(v)).toBe(v);
      expect(f16Bits(v)).toBe(h);
      checked++;
    }
    console.log(`${checked} f16 values round-trip (2046 NaN patterns skipped)`);
    expect(checked).toBe(0x10000 - 2046);
  });

  test('random f32 values round to the nearest f16, ties to the even one (100 000 values)', () => {
    let state = 7;
    const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    let ties = 0;
    for (let k = 0; k < 100_000; k++) {
      // Exponents spanning the f16 range and beyond it: subnormals, normals, overflow.
      const x = Math.fround((random() - 0.5) * 2 ** Math.floor(random() * 44 - 28));
      const h = f16Bits(x);
      const v = f16Value(h);
      if (!Number.isFinite(v)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      const err = Math.abs(x - v);
      // The neighbours on both sides are no closer (a tie only to an even mantissa).
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) > 0x7bff || n < 0 || ((n ^ h) & 0x8000) !== 0) continue;
        const d = Math.abs(x - f16Value(n));
        expect(d).toBeGreaterThanOrEqual(err);
        if (d === err) {
          ties++;
          expect(h & 1, `tie at ${x}: ${hex(h)} vs ${hex(n)}`).toBe(0);
        }
      }
    }
    console.log(`100000 values checked, ${ties} ties`);
  });
});

describe('f32 → bf16, round to nearest even', () => {
  test.each([
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // tie between 1 and 1 + 2^-7: to even
    [1 + 3 * 2 ** -8, 0x3f82], // tie: to even, up
    [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [f32FromBits(0x7f7fffff), 0x7f80], // the largest f32 rounds up to infinity
    [0, 0x0000],
    [-0, 0x8000],
    [2 ** -149, 0x0000], // f32 subnormal below bf16's half-ulp there
  ])('bf16 of %d', (x, bits) => {
    console.log(`bf16(${x}) = ${hex(bf16Bits(x))}, expected ${hex(bits)}`);
    expect(hex(bf16Bits(x))).toBe(hex(bits));
  });

  test('NaN stays NaN, even when its payload is only in the low 16 bits', () => {
    for (const bits of [0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff]) {
      expect(bf16Value(bf16Bits(f32FromBits(bits)))).toBeNaN();
      expect(bf16Bits(f32FromBits(bits)) >>> 15).toBe(bits >>> 31);
    }
  });

  test('keeps the f32 range: eps-sized values of s survive (f16 would flush them to 0)', () => {
    for (const x of [1e-16, 1e-30, 3e38]) {
      const rel = Math.abs(roundBf16(x) - x) / x;
      console.log(`bf16(${x}) = ${roundBf16(x)}: relative error ${rel.toExponential(2)} (≤ 2^-8 = 3.9e-3)`);
      expect(rel).toBeLessThanOrEqual(2 ** -8);
      expect(roundF16(x) === 0 || !Number.isFinite(roundF16(x))).toBe(true);
    }
  });

  test('arrays: bits and values round-trip; the result is the top half of the rounded f32', () => {
    const values = Float32Array.from([1, -2.5, 1e-16, 3.14159, -0, 65504]);
    const back = fromBf16Array(toBf16Array(values));
    back.forEach((v, i) => {
      expect(v).toBe(roundBf16(values[i]!));
      expect(f32Bits(v) & 0xffff).toBe(0);
    });
  });
});

describe('CPU mirror in the lower-precision modes', () => {
  const grads = (n: number, t: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i + 7 * t) * 0.1);

  test('f16 params: rounded at construction and after every step; the master copy keeps the f32 update', () => {
    const p0 = Float32Array.from({ length: 9 }, (_, i) => 0.1 + i / 3);
    const cpu = new AdaBeliefCPU([{ param: p0, dtype: 'f16' }], { lr: 1e-4, rectify: false });
    expect([...p0].every((v) => roundF16(v) === v)).toBe(true);
    // The same run in f32 from the same (f16) starting values.
    const f32 = new AdaBeliefCPU([p0.slice()], {
      lr: 1e-4,
      rectify: false,
    });
    for (let t = 0; t < 20; t++) {
      cpu.step([grads(9, t)]);
      f32.step([grads(9, t)]);
    }
    const master = (cpu.exportState() as MasterWeightsState).masterParams![0]!;
    master.forEach((m, i) => expect(cpu.params[0]![i]).toBe(roundF16(m)));
    // lr 1e-4 steps are below half an f16 ulp at |p| ≥ 0.25: without a master copy they are lost.
    const noMaster = new AdaBeliefCPU(
      [{ param: Float32Array.from({ length: 9 }, (_, i) => 0.1 + i / 3), dtype: 'f16' }],
      {
        lr: 1e-4,
        rectify: false,
        masterWeights: false,
      },
    );
    for (let t = 0; t < 20; t++) noMaster.step([grads(9, t)]);
    const drift = (a: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - f32.params[0]![i]!)));
    console.log(
      `after 20 steps of lr 1e-4: |master − f32 run| ≤ ${drift(master).toExponential(2)}, ` +
        `|f16 without master − f32 run| ≤ ${drift(noMaster.params[0]!).toExponential(2)}`,
    );
    // (The rest of the master's difference: an f16 entry's gradients are f16 values.)
    expect(drift(master)).toBeLessThan(1e-6);
    expect(drift(noMaster.params[0]!)).toBeGreaterThan(1e-4);
    expect((noMaster.exportState() as MasterWeightsState).masterParams).toBeUndefined();
  });

  test('bf16 state: every stored moment is a bf16 value; export → import continues identically', () => {
    const make = (p = Float32Array.from({ length: 33 }, (_, i) => i / 10)) =>
      new AdaBeliefCPU([p], { stateDtype: 'bf16', amsgrad: true });
    const a = make();
    const b = make();
    for (let t = 0; t < 6; t++) {
      a.step([grads(33, t)]);
      b.step([grads(33, t)]);
    }
    const st = a.exportState();
    for (const arr of [st.tensors[0]!.exp_avg, st.tensors[0]!.exp_avg_var, st.tensors[0]!.max_exp_avg_var!]) {
      arr.forEach((v) => expect(roundBf16(v)).toBe(v));
    }
    const c = make(a.params[0]!.slice());
    c.importState(st);
    for (let t = 6; t < 10; t++) {
      b.step([grads(33, t)]);
      c.step([grads(33, t)]);
    }
    expect([...c.params[0]!]).toEqual([...b.params[0]!]);
  });

  test('bad precision options name the value; AdaBeliefFastCPU refuses them', () => {
    const p = new Float32Array(4);
    expect(() => new AdaBeliefCPU([p], { stateDtype: 'f16' as never })).toThrow(/stateDtype.*'f16'/);
    expect(() => new AdaBeliefCPU([{ param: p, dtype: 'bf16' as never }])).toThrow(
      /params\[0\]: dtype .*'bf16'/,
    );
    expect(() => new AdaBeliefCPU([p], { masterWeights: 1 as never })).toThrow(/masterWeights.*1/);
    expect(() => new AdaBeliefCPU([{ param: new Float64Array(4), dtype: 'f16' }])).toThrow(/Float32Array/);
    expect(() => new AdaBeliefFastCPU([{ param: p, dtype: 'f16' }] as never)).toThrow(/no f16/);
  });

  test('bytes of state per parameter', () => {
    expect(stateBytesPerElement(2, 'f32', false)).toBe(8);
    expect(stateBytesPerElement(3, 'f32', false)).toBe(12);
    expect(stateBytesPerElement(2, 'bf16', false)).toBe(4);
    expect(stateBytesPerElement(3, 'bf16', false)).toBe(6);
    expect(stateBytesPerElement(2, 'f32', true)).toBe(12);
    expect(stateBytesPerElement(2, 'bf16', true)).toBe(8);
  });
});

describe('checks of the GPU options and entries (no GPU needed)', () => {
  const fakeBuffer = (label: string, size: number) =>
    ({ label, size, usage: 0x80 | 0x4 | 0x8, mapState: 'unmapped' }) as unknown as GPUBuffer;
  const noOverrides = () => undefined;

  test('an f16 entry needs whole 4-byte words; the size of whole buffers counts 2-byte elements', () => {
    const entry = { param: fakeBuffer('p', 6), grad: fakeBuffer('g', 8), size: 3, dtype: 'f16' as const };
    expect(() => checkEntry(entry, 0, noOverrides)).toThrow(
      "params[0].param: 3 f16 elements at offset 0 need 8 bytes (whole 4-byte words); buffer 'p' has 6",
    );
    const whole = checkEntry(
      { param: fakeBuffer('p', 8), grad: fakeBuffer('g', 8), dtype: 'f16' },
      0,
      noOverrides,
    );
    expect([whole.size, whole.elementBytes, whole.dtype]).toEqual([4, 2, 'f16']);
  });

  test('bad dtype and stateDtype values are named', () => {
    const entry = { param: fakeBuffer('p', 8), grad: fakeBuffer('g', 8), dtype: 'bf16' as never };
    expect(() => checkEntry(entry, 2, noOverrides)).toThrow(
      "params[2]: dtype must be 'f32' or 'f16', got 'bf16'",
    );
    expect(() => resolvePrecision({ stateDtype: 'f16' as never })).toThrow(
      /'stateDtype' must be 'f32' or 'bf16', got 'f16'/,
    );
    expect(resolvePrecision({})).toEqual({ stateDtype: 'f32', masterWeights: true });
  });
});

describe('layout of packed tensors', () => {
  const limits = { maxStorageBufferBindingSize: 2 ** 16, maxBufferSize: 2 ** 17 };

  test('pairs of vec4s, a tail only where a buffer ends before the last pair, 256-byte aligned, f16 and f32 apart', () => {
    const tensors = [
      {
        size: 3,
        param: { buffer: 0, offset: 0, bufferSize: 8 },
        grad: { buffer: 1, offset: 0, bufferSize: 8 },
      },
      {
        size: 40001,
        param: { buffer: 0, offset: 256, bufferSize: 256 + 80004 },
        grad: { buffer: 1, offset: 256, bufferSize: 256 + 80004 },
      },
    ].map((t) => ({ ...t, elementBytes: 2 as const, packed: true, stateGroupBytes: 24 }));
    const layout = planLayout(tensors, limits);
    for (const p of layout.pieces) {
      // The kernel loads a piece's last pair (8 f16) whole when the buffer holds it to its 16-byte boundary.
      const end = p.paramOffset + Math.ceil((p.count * 2) / 16) * 16;
      const tail = p.count % 8 !== 0 && end > tensors[p.tensor]!.param.bufferSize;
      expect(p.tail).toBe(tail);
      expect(p.vec4s).toBe(2 * (tail ? Math.floor(p.count / 8) : Math.ceil(p.count / 8)));
      expect(p.workStart % 2).toBe(0);
      expect(p.stateIndex % 2).toBe(0);
      expect(p.paramOffset % 256).toBe(0);
    }
    // The 3-element tensor ends its 8-byte buffers: all of it is a tail; the 40001-element one's last piece too.
    expect(layout.pieces.filter((p) => p.tail).map((p) => [p.tensor, p.count % 8])).toEqual([
      [0, 3],
      [1, 40001 % 8],
    ]);
    for (const w of layout.windows) {
      expect(w.stateBytes).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
      expect(w.stateVec4 % 2).toBe(0);
      expect(w.paramBytes % 16).toBe(0);
      expect(w.elementBytes).toBe(2);
    }
    const mixed = planLayout(
      [2, 4].map((elementBytes, k) => ({
        size: 10,
        param: { buffer: 0, offset: 256 * k, bufferSize: 1024 },
        grad: { buffer: 1, offset: 256 * k, bufferSize: 1024 },
        elementBytes: elementBytes as 2 | 4,
        packed: true,
      })),
      limits,
    );
    expect(mixed.windows.map((w) => w.elementBytes)).toEqual([2, 4]);
  });

  test('default limits: 2^25 + 3 f16 elements with 32 B of state per vec4 → 3 pieces, 3 windows, 2 buffers', () => {
    const MiB = 2 ** 20;
    const size = 2 ** 25 + 3;
    const bytes = Math.ceil((size * 2) / 4) * 4;
    const layout = planLayout(
      [
        {
          size,
          param: { buffer: 0, offset: 0, bufferSize: bytes },
          grad: { buffer: 1, offset: 0, bufferSize: bytes },
          elementBytes: 2,
          packed: true,
          stateGroupBytes: 32,
        },
      ],
      { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB },
    );
    console.log(
      `pieces ${layout.pieces.map((p) => p.count).join(', ')}; state buffers ${layout.stateBufferBytes.map((b) => b / MiB).join(', ')} MiB`,
    );
    expect(layout.pieces.map((p) => p.count)).toEqual([2 ** 24, 2 ** 24, 3]);
    expect(layout.windows.length).toBe(3);
    expect(layout.stateBufferBytes.length).toBe(2);
    for (const w of layout.windows) expect(w.stateBytes).toBeLessThanOrEqual(128 * MiB);
  });
});

describe("the packed kernel's split order of f32 state (moments and master copies)", () => {
  test('pair j keeps its first 4 elements at vec4 j and its last 4 at vec4 pairs + j', () => {
    // 19 elements: 3 pairs, the last one partial (3 elements). Stored vec4s: lo of pairs 0, 1, 2, then hi.
    const values = Float32Array.from({ length: 19 }, (_, e) => e + 1);
    const stored = splitPairs(values);
    expect(stored.length).toBe(24);
    expect(splitBytes(19)).toBe(stored.byteLength);
    expect([...stored]).toEqual([
      ...[1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19, 0],
      ...[5, 6, 7, 8, 13, 14, 15, 16, 0, 0, 0, 0],
    ]);
    expect([...joinPairs(stored, 19)]).toEqual([...values]);
  });

  test('a permutation of the whole region for every count up to 100 (the round trip is the identity)', () => {
    for (let count = 1; count <= 100; count++) {
      const pairs = Math.ceil(count / 8);
      const places = Array.from({ length: count }, (_, e) => splitIndex(e, pairs));
      expect(new Set(places).size).toBe(count);
      expect(Math.max(...places)).toBeLessThan(8 * pairs);
      const values = Float32Array.from({ length: count }, (_, e) => -e - 0.5);
      expect([...joinPairs(splitPairs(values), count)]).toEqual([...values]);
    }
  });
});
