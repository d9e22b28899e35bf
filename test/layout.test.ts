/** Layout math in plain Node: chunking at binding limits, alignment, state packing, grid sizes. */
import { describe, expect, test } from 'vitest';
import { BINDING_ALIGNMENT, maxChunkElements, planLayout, workgroupsFor } from '../src/index.js';

const MiB = 2 ** 20;
const defaults = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };

describe('planLayout', () => {
  test('small tensors: one chunk each, state slots 256-byte aligned and padded to whole vec4s', () => {
    const l = planLayout(
      [1, 5, 64, 3].map((size) => ({ size, paramOffset: 0, gradOffset: 0 })),
      defaults,
    );
    expect(l.chunks.map((c) => [c.count, c.stateBuffer, c.stateOffset, c.stateBytes])).toEqual([
      [1, 0, 0, 16],
      [5, 0, 256, 32],
      [64, 0, 512, 256],
      [3, 0, 768, 16],
    ]);
    expect(l.stateBufferBytes).toEqual([784]);
  });

  test('a tensor past one binding is cut at 256-byte-aligned element offsets', () => {
    const limits = { maxStorageBufferBindingSize: 1024, maxBufferSize: 4096 };
    expect(maxChunkElements(limits)).toBe(256);
    const l = planLayout([{ size: 600, paramOffset: 512, gradOffset: 256 }], limits);
    expect(l.chunks.map((c) => [c.start, c.count, c.paramOffset, c.gradOffset])).toEqual([
      [0, 256, 512, 256],
      [256, 256, 1536, 1280],
      [512, 88, 2560, 2304],
    ]);
    for (const c of l.chunks) {
      expect(c.paramOffset % BINDING_ALIGNMENT).toBe(0);
      expect(c.count * 4).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
    }
    // All three slots fit one 4 KiB state buffer.
    expect(l.stateBufferBytes).toEqual([1024 + 1024 + 88 * 4]);
  });

  test('edges: a tensor ending exactly on a chunk boundary, and a chunk holding one element', () => {
    const limits = { maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 };
    const exact = planLayout([{ size: 512, paramOffset: 0, gradOffset: 0 }], limits);
    expect(exact.chunks.map((c) => c.count)).toEqual([256, 256]);
    const one = planLayout([{ size: 513, paramOffset: 0, gradOffset: 0 }], limits);
    expect(one.chunks.map((c) => [c.start, c.count, c.stateBytes])).toEqual([
      [0, 256, 1024],
      [256, 256, 1024],
      [512, 1, 16],
    ]);
    // State buffers are capped at maxBufferSize: each full slot opens a new one.
    expect(one.stateBufferBytes).toEqual([1024, 1024, 16]);
    expect(one.chunks.map((c) => c.stateBuffer)).toEqual([0, 1, 2]);
  });

  test('rejects offsets that are not multiples of 256 and limits too small for one chunk', () => {
    expect(() => planLayout([{ size: 4, paramOffset: 16, gradOffset: 0 }], defaults)).toThrow(
      /multiples of 256/,
    );
    expect(() => maxChunkElements({ maxStorageBufferBindingSize: 128, maxBufferSize: 1024 })).toThrow(
      /too small/,
    );
  });

  test('covers every element exactly once, for random sizes and limits', () => {
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
    for (let trial = 0; trial < 200; trial++) {
      const limits = {
        maxStorageBufferBindingSize: 256 * (1 + rand(40)),
        maxBufferSize: 256 * (1 + rand(80)),
      };
      const sizes = Array.from({ length: 1 + rand(6) }, () => 1 + rand(20000));
      const l = planLayout(
        sizes.map((size) => ({ size, paramOffset: 256 * rand(4), gradOffset: 0 })),
        limits,
      );
      sizes.forEach((size, t) => {
        const mine = l.chunks.filter((c) => c.tensor === t);
        expect(mine.reduce((n, c) => n + c.count, 0)).toBe(size);
        mine.forEach((c, k) => expect(c.start).toBe(k === 0 ? 0 : mine[k - 1]!.start + mine[k - 1]!.count));
      });
      for (const c of l.chunks) {
        expect(c.stateOffset % 256).toBe(0);
        expect(c.stateOffset + c.stateBytes).toBeLessThanOrEqual(l.stateBufferBytes[c.stateBuffer]!);
        expect(l.stateBufferBytes[c.stateBuffer]!).toBeLessThanOrEqual(limits.maxBufferSize);
      }
    }
  });
});

describe('workgroupsFor', () => {
  test('one vec4 per invocation, at least one workgroup, capped for the grid-stride loop', () => {
    expect(workgroupsFor(1, 256, 65535)).toBe(1);
    expect(workgroupsFor(1024, 256, 65535)).toBe(1);
    expect(workgroupsFor(1028, 256, 65535)).toBe(2);
    expect(workgroupsFor(2 ** 26 + 5, 256, 65535)).toBe(65535);
    expect(workgroupsFor(2 ** 24, 256, 64)).toBe(64);
  });
});
