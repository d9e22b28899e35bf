/**
 * GradScaler's scale update in Node (no GPU; the schedule on the GPU is in test/gpu/guard.test.ts), issue 21
 * item 5: `record()` takes booleans only (a Promise — the await forgotten — or a string was read as "skipped"
 * and backed the scale off every step), and growth stops where the scale would leave the range the GPU can use
 * (torch's _amp_update_scale_ never grows the scale to an infinite f32; here the f32 inverse must stay normal too).
 */
import { describe, expect, test } from 'vitest';
import { GradScaler } from '../../src/gpu/grad-scaler.js';
import { describeValue } from '../../src/core/options.js';
import { thrown as caught } from '../helpers/thrown.js';

describe('GradScaler.record(skipped)', () => {
  test('booleans: torch.amp schedule (backoff on a skip, growth after growthInterval clean steps)', () => {
    const s = new GradScaler({ initScale: 8, growthInterval: 3 });
    s.record(false);
    s.record(false);
    expect(s.scale).toBe(8);
    s.record(false);
    expect(s.scale).toBe(16);
    s.record(false);
    s.record(true);
    expect(s.scale).toBe(8);
    s.record(false);
    s.record(false);
    expect(s.scale, 'the skip restarted the interval').toBe(8);
    s.record(false);
    expect(s.scale).toBe(16);
  });

  test('a Promise (the await forgotten), strings, numbers, null, undefined: TypeError naming the value; nothing changes', async () => {
    const s = new GradScaler({ initScale: 8, growthInterval: 2 });
    s.record(false); // one clean step counted: the next clean one grows the scale
    const promise = Promise.resolve(false);
    const bad: unknown[] = [promise, 'false', 'true', '', 0, 1, null, undefined, {}, [false], 0n];
    for (const value of bad) {
      const e = caught(() => s.record(value as boolean));
      expect(e, describeValue(value)).toBeInstanceOf(TypeError);
      expect(e!.message).toMatch(
        /^GradScaler\.record: skipped must be a boolean \(whether the step was skipped\), got /,
      );
      expect(e!.message).toContain(`got ${describeValue(value)}`);
      expect(s.scale, `${describeValue(value)}: scale unchanged`).toBe(8);
    }
    expect(caught(() => s.record(promise as never))!.message).toBe(
      'GradScaler.record: skipped must be a boolean (whether the step was skipped), got a Promise: await it first ' +
        '(`scaler.record(await opt.lastStepSkipped())`, or `await scaler.update(opt)`)',
    );
    s.record(false);
    expect(s.scale, 'the refused calls did not touch the growth count').toBe(16);
    await promise;
  });

  test('update(opt) awaits the flag: a clean step counts as clean, a skipped one backs off', async () => {
    const s = new GradScaler({ initScale: 8, growthInterval: 1 });
    const opt = (skipped: boolean) => ({
      gradScale: 1 as number | GPUBuffer,
      step: () => Promise.resolve(),
      lastStepSkipped: () => Promise.resolve(skipped),
    });
    expect(await s.update(opt(false))).toBe(false);
    expect(s.scale).toBe(16);
    expect(await s.update(opt(true))).toBe(true);
    expect(s.scale).toBe(8);
  });
});

describe('GradScaler growth stops where the scale would leave the GPU-usable f32 range', () => {
  const usable = (x: number) => Number.isFinite(Math.fround(x)) && Math.fround(1 / x) >= 2 ** -126;

  test('defaults (2^16, factor 2): growth stops at 2^126 (f32(1/2^127) is subnormal); backoff still works', () => {
    const s = new GradScaler({ growthInterval: 1 });
    for (let k = 0; k < 200; k++) {
      s.record(false);
      expect(usable(s.scale), `after ${k + 1} clean steps: scale ${s.scale}`).toBe(true);
    }
    expect(s.scale).toBe(2 ** 126);
    s.record(true);
    expect(s.scale).toBe(2 ** 125);
    s.record(false);
    expect(s.scale).toBe(2 ** 126);
  });

  test('a factor that jumps past the f32 maximum: the scale stays (torch keeps the scale when the grown one is inf)', () => {
    const s = new GradScaler({ initScale: 1e30, growthFactor: 1e9, growthInterval: 2 });
    for (let k = 0; k < 10; k++) s.record(false);
    expect(s.scale).toBe(1e30);
    expect(Number.isFinite(Math.fround(s.scale))).toBe(true);
  });

  test('largest reachable scale with a non-power-of-two factor stays usable', () => {
    const s = new GradScaler({ initScale: 3, growthFactor: 1.7, growthInterval: 1 });
    let previous = s.scale;
    for (let k = 0; k < 400; k++) {
      s.record(false);
      expect(usable(s.scale)).toBe(true);
      if (s.scale === previous) break;
      previous = s.scale;
    }
    expect(s.scale, 'growth stopped').toBe(previous);
    expect(usable(s.scale * 1.7), 'one more growth would leave the range').toBe(false);
  });
});
