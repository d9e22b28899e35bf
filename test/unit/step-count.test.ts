/** The host's step count (src/core/step-count.ts): exact, authoritative, past 2^32. */
import { describe, expect, test } from 'vitest';
import { StepTracker } from '../../src/core/step-count.js';

describe('StepTracker: the step counts a step in flight may turn out to be', () => {
  test('unguarded steps count at once; a step WebGPU rejected is taken back', () => {
    const t = new StepTracker(false);
    t.push();
    const b = t.push();
    expect([t.count, t.unsure]).toEqual([2, 0]);
    t.fail(b);
    expect(t.count).toBe(1);
    t.fail(b + 1); // not called yet: ignored
    expect(t.count).toBe(1);
  });

  test('guarded steps are unsure until a readback confirms them; stale readbacks are ignored', () => {
    const t = new StepTracker(true);
    const a = t.push();
    const b = t.push();
    t.push();
    expect([t.count, t.unsure, t.firstRow]).toEqual([3, 3, 1]);
    t.confirm(b, 1); // after step call b the GPU had applied 1 step: one of a, b was skipped
    expect([t.count, t.unsure, t.firstRow]).toEqual([2, 1, 2]);
    t.confirm(a, 5); // stale: ignored
    expect([t.count, t.unsure]).toEqual([2, 1]);
  });

  test('a rejected guarded step does not count once the next readback comes', () => {
    const t = new StepTracker(true);
    t.push();
    const b = t.push();
    const c = t.push();
    t.fail(b);
    expect([t.count, t.unsure]).toEqual([2, 2]);
    t.confirm(c, 2);
    expect([t.count, t.unsure]).toEqual([2, 0]);
  });

  test('importState: counts past 2^32 stay exact, the GPU counter is relative to them', () => {
    const t = new StepTracker(true);
    const big = 2 ** 32 + 5;
    t.reset(big);
    expect([t.count, t.origin]).toEqual([big, big]);
    const s = t.push();
    t.confirm(s, 1);
    expect(t.count).toBe(big + 1);
    t.fail(s - 1); // a call before the reset: no longer counts either way
    expect(t.count).toBe(big + 1);
  });
});
