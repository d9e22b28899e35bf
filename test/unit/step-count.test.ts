/**
 * The range of step counts the host allows for (src/core/step-count.ts): the count lives on the GPU; the host
 * keeps [lo, hi], every count the GPU may be at once everything issued has run, and narrows it with readbacks.
 */
import { describe, expect, test } from 'vitest';
import { CountWindow } from '../../src/core/step-count.js';

describe('CountWindow: the counts the GPU may be at', () => {
  test('unguarded step() calls are sure: the range stays one count wide', () => {
    const w = new CountWindow();
    for (let i = 0; i < 5; i++) w.issue(true, true);
    expect([w.lo, w.hi, w.unsureSinceRead]).toEqual([5, 5, 0]);
  });

  test('guarded steps and encode() widen it; a readback narrows it to what the GPU ran', () => {
    const w = new CountWindow();
    w.issue(true, false); // guarded step(): runs, may be skipped
    w.issue(false, false); // encode(): may run later, or never
    w.issue(true, false);
    expect([w.lo, w.hi, w.unsureSinceRead]).toEqual([0, 3, 3]);
    const at = w.point();
    w.issue(true, true); // after the readback's copy: sure
    // The GPU ran the two step() calls (one skipped), not the encoded step: count 1, runs 2.
    expect(w.read(at, 1, 2)).toBe(2);
    // lo: 1 + the sure step since; hi: 1 + every step not known to have run (the encode, and the sure one).
    expect([w.lo, w.hi, w.unsureSinceRead]).toEqual([2, 3, 0]);
  });

  test('a readback older than the reference point, or than an import, changes nothing', () => {
    const w = new CountWindow();
    w.issue(false, false);
    const old = w.point();
    w.issue(false, false);
    const newer = w.point();
    w.read(newer, 2, 2);
    expect([w.lo, w.hi]).toEqual([2, 2]);
    w.read(old, 0, 0);
    expect([w.lo, w.hi]).toEqual([2, 2]);

    const beforeImport = w.point();
    w.reset(40);
    w.read(beforeImport, 2, 2);
    expect([w.lo, w.hi]).toEqual([40, 40]);
  });

  test('an import keeps the steps not known to have run: an encoded step submitted after it still counts', () => {
    const w = new CountWindow();
    w.issue(false, false); // encoded, not submitted
    w.issue(true, true); // step(): ran
    w.reset(10);
    // The encoded step may run after the import: 10 or 11; the step() call surely ran before it.
    expect([w.lo, w.hi]).toEqual([10, 11]);
    const at = w.point();
    w.read(at, 11, 2); // it ran
    expect([w.lo, w.hi]).toEqual([11, 11]);
  });

  test("runs wrap at 2^32 on the GPU: the host's total stays exact", () => {
    const w = new CountWindow();
    // 2^32 + 3 steps issued (as counts: no loop), of which all ran; the GPU's u32 counter reads 3.
    const at = { issued: 2 ** 32 + 3, stepped: 2 ** 32 + 3, sure: 0, imports: 0 };
    expect(w.read(at, 2 ** 32 + 3, 3)).toBe(2 ** 32 + 3);
    expect(w.read({ ...at, issued: 2 ** 32 + 5 }, 2 ** 32 + 3, 3)).toBe(2 ** 32 + 3);
    expect(w.read({ ...at, issued: 2 ** 32 + 5 }, 2 ** 32 + 3, 4)).toBe(2 ** 32 + 4);
  });
});
