/** Layout math in plain Node: pieces, windows, tails, state packing, the kernel's piece lookup. */
import { describe, expect, test } from 'vitest';
import {
  BINDING_ALIGNMENT,
  encodeWindowTable,
  maxChunkElements,
  planLayout,
  workgroupsFor,
  type TensorPlacement,
} from '../../src/internal.js';
import { BLOCK_VEC4, findPiece } from '../../src/gpu/layout.js';

const MiB = 2 ** 20;
const defaults = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };

/** Tensors each in their own param buffer `2k` and grad buffer `2k+1`, of exactly their size. */
const separate = (sizes: number[]): TensorPlacement[] =>
  sizes.map((size, k) => ({
    size,
    param: { buffer: 2 * k, offset: 0, bufferSize: size * 4 },
    grad: { buffer: 2 * k + 1, offset: 0, bufferSize: size * 4 },
  }));

/** Tensors packed into one param and one grad buffer at 256-byte-aligned slots. */
function shared(sizes: number[], bufferPad = 0): TensorPlacement[] {
  let at = 0;
  const offsets = sizes.map((n) => {
    const o = at;
    at += Math.ceil((n * 4) / 256) * 256;
    return o;
  });
  const bufferSize = offsets.at(-1)! + sizes.at(-1)! * 4 + bufferPad;
  return sizes.map((size, k) => ({
    size,
    param: { buffer: 0, offset: offsets[k]!, bufferSize },
    grad: { buffer: 1, offset: offsets[k]!, bufferSize },
  }));
}

describe('planLayout', () => {
  test('tensors in their own buffers: one window each; a buffer ending mid-vec4 sends the rest to a tail', () => {
    const l = planLayout(separate([1, 5, 64, 3]), defaults);
    expect(l.windows.length).toBe(4);
    expect(l.pieces.map((p) => [p.count, p.vec4s, p.tail])).toEqual([
      [1, 0, true],
      [5, 1, true],
      [64, 16, false],
      [3, 0, true],
    ]);
    expect(l.windows.map((w) => [w.stateOffset, w.stateBytes])).toEqual([
      [0, 16],
      [256, 32],
      [512, 256],
      [768, 16],
    ]);
  });

  test('tensors sharing buffers share one window; partial vec4s stay in the main dispatch', () => {
    const l = planLayout(shared([5, 64, 3, 1]), defaults);
    expect(l.windows.length).toBe(1);
    const w = l.windows[0]!;
    expect(l.pieces.map((p) => [p.workStart, p.vec4s, p.paramIndex, p.stateIndex, p.tail])).toEqual([
      [0, 2, 0, 0, false],
      [2, 16, 16, 2, false],
      [18, 1, 32, 18, false],
      [19, 0, 48, 19, true], // the last tensor ends at the buffer's end: its vec4 cannot be read whole
    ]);
    expect(w.totalVec4).toBe(19);
    expect([w.paramOffset, w.paramBytes, w.stateBytes]).toEqual([0, 48 * 16, 20 * 16]);
    // With 12 spare bytes at the end of the buffers, the last one needs no tail either.
    expect(planLayout(shared([5, 64, 3, 1], 12), defaults).pieces.some((p) => p.tail)).toBe(false);
  });

  test('a shared buffer past one binding opens a new window; a tensor past one binding is cut at 256 bytes', () => {
    const limits = { maxStorageBufferBindingSize: 1024, maxBufferSize: 4096 };
    expect(maxChunkElements(limits)).toBe(256);
    const l = planLayout(shared([100, 100, 100, 600], 12), limits);
    expect(l.pieces.map((p) => [p.tensor, p.start, p.count, p.window, p.paramOffset])).toEqual([
      [0, 0, 100, 0, 0],
      [1, 0, 100, 0, 512],
      [2, 0, 100, 1, 1024],
      [3, 0, 256, 2, 1536],
      [3, 256, 256, 3, 2560],
      [3, 512, 88, 4, 3584],
    ]);
    for (const w of l.windows) {
      expect(w.paramOffset % BINDING_ALIGNMENT).toBe(0);
      expect(w.paramBytes).toBeLessThanOrEqual(1024);
    }
  });

  test('edges: a tensor ending exactly on a chunk boundary, a chunk holding one element', () => {
    const limits = { maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 };
    expect(planLayout(separate([512]), limits).pieces.map((p) => p.count)).toEqual([256, 256]);
    const one = planLayout(separate([513]), limits);
    expect(one.pieces.map((p) => [p.start, p.count, p.vec4s, p.tail])).toEqual([
      [0, 256, 64, false],
      [256, 256, 64, false],
      [512, 1, 0, true],
    ]);
    // State buffers are capped at maxBufferSize: each full slot opens a new one.
    expect(one.stateBufferBytes).toEqual([1024, 1024, 16]);
  });

  test('rejects offsets that are not multiples of 256 and limits too small for one chunk', () => {
    const bad = separate([4]);
    bad[0]!.param.offset = 16;
    expect(() => planLayout(bad, defaults)).toThrow(/multiples of 256/);
    expect(() => maxChunkElements({ maxStorageBufferBindingSize: 128, maxBufferSize: 1024 })).toThrow(
      /too small/,
    );
  });

  test('random layouts: every element updated exactly once, bindings in bounds, lookup finds every piece', () => {
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
    for (let trial = 0; trial < 300; trial++) {
      const limits = {
        maxStorageBufferBindingSize: 256 * (1 + rand(40)),
        maxBufferSize: 256 * (1 + rand(80)),
      };
      const sizes = Array.from({ length: 1 + rand(12) }, () => 1 + (rand(3) === 0 ? rand(9) : rand(20000)));
      const tensors = rand(2) ? shared(sizes, rand(3) * 4) : separate(sizes);
      const l = planLayout(tensors, limits);
      sizes.forEach((size, t) => {
        const mine = l.pieces.filter((p) => p.tensor === t);
        expect(mine.reduce((n, p) => n + p.count, 0)).toBe(size);
        for (const p of mine) {
          // The main dispatch covers min(count, 4 * vec4s) elements, the tail dispatch the rest.
          const main = Math.min(p.count, p.vec4s * 4);
          expect(main + (p.tail ? p.count - main : 0)).toBe(p.count);
          expect(p.tail).toBe(p.vec4s * 4 < p.count);
          const w = l.windows[p.window]!;
          // Windows with work are bound (windows of tail pieces only are not dispatched).
          if (w.totalVec4 > 0) {
            expect((p.paramIndex + p.vec4s) * 16).toBeLessThanOrEqual(w.paramBytes);
            expect(w.paramOffset + w.paramBytes).toBeLessThanOrEqual(tensors[t]!.param.bufferSize);
            expect(w.gradOffset + w.gradBytes).toBeLessThanOrEqual(tensors[t]!.grad.bufferSize);
            expect(w.paramBytes).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
          }
        }
      });
      l.windows.forEach((w, k) => {
        expect(w.stateOffset % 256).toBe(0);
        expect(w.stateOffset + w.stateBytes).toBeLessThanOrEqual(l.stateBufferBytes[w.stateBuffer]!);
        const table = encodeWindowTable(l, k);
        // (Collected, then one assertion per window: an expect() per vec4 made this test take seconds.)
        const misplaced: number[] = [];
        for (let v = 0; v < w.totalVec4; v += 1 + rand(7)) {
          const p = l.pieces[w.pieces[findPiece(table, v)]!]!;
          if (!(v >= p.workStart && v < p.workStart + p.vec4s)) misplaced.push(v);
        }
        expect(misplaced, `trial ${trial}, window ${k}: vec4s findPiece misplaces`).toEqual([]);
      });
    }
  });
});

describe('window table', () => {
  test('header, piece records and block map, as the kernel reads them', () => {
    const sizes = Array.from({ length: 40 }, (_, i) => 1 + i * 97);
    const l = planLayout(shared(sizes, 12), defaults);
    const table = encodeWindowTable(l, 0);
    const w = l.windows[0]!;
    expect(Array.from(table.subarray(0, 3))).toEqual([40, w.totalVec4, 40 * 8]);
    expect(table.length).toBe(4 + 40 * 8 + Math.ceil(w.totalVec4 / BLOCK_VEC4));
  });
});

describe('workgroupsFor', () => {
  test('one vec4 per invocation, at least one workgroup, capped for the grid-stride loop', () => {
    expect(workgroupsFor(0, 256, 65535)).toBe(1);
    expect(workgroupsFor(256, 256, 65535)).toBe(1);
    expect(workgroupsFor(257, 256, 65535)).toBe(2);
    expect(workgroupsFor(Math.ceil((2 ** 26 + 5) / 4), 256, 65535)).toBe(65535);
    expect(workgroupsFor(2 ** 22, 256, 64)).toBe(64);
  });
});
