/**
 * The guard's pure parts in Node: the CPU reference's guarded step (skip leaves everything unchanged,
 * clipping coefficient as torch.nn.utils.clip_grad_norm_), the host's step bookkeeping for steps in
 * flight, GradScaler's torch.amp schedule and the options' messages.
 */
import { describe, expect, test } from 'vitest';
import { AdaBeliefCPU, GradScaler } from '../../src/index.js';
import { guardDecision } from '../../src/core/guard.js';

describe('guarded CPU step', () => {
  test('a non-finite gradient skips the step: params, state and step count unchanged', () => {
    const cpu = new AdaBeliefCPU([new Float32Array([1, 2, 3]), new Float32Array([4])]);
    cpu.step([new Float32Array([0.1, 0.2, 0.3]), new Float32Array([0.4])], { skipNonFinite: true });
    const before = cpu.exportState();
    const params = cpu.params.map((p) => p.slice());
    const r = cpu.step([new Float32Array([0.1, NaN, 0.3]), new Float32Array([0.4])], { gradScale: 2 });
    expect(r).toMatchObject({ skipped: true, foundNonFinite: true });
    expect(cpu.stepCount).toBe(1);
    expect(cpu.params).toEqual(params);
    expect(cpu.exportState()).toEqual(before);
  });

  test('loss scale: a power-of-two scale gives exactly the unscaled step', () => {
    const g = new Float32Array([0.5, -0.25, 3e-5]);
    const a = new AdaBeliefCPU([new Float32Array([1, 1, 1])]);
    const b = new AdaBeliefCPU([new Float32Array([1, 1, 1])]);
    a.step([g]);
    b.step([g.map((x) => x * 1024)], { gradScale: 1024 });
    expect(b.params[0]).toEqual(a.params[0]);
  });

  test('clipping coefficient: max_norm / (norm + 1e-6), clamped to 1; NaN norm gives NaN (as torch)', () => {
    const grads = [new Float32Array([3, 4])]; // norm 5
    const d = guardDecision(grads, { scale: 1, maxNorm: 1, skipNonFinite: false });
    console.log(`norm ${d.gradNorm}, coefficient ${d.clipCoef} (expected f32(1 / f32(5 + 1e-6)))`);
    expect(d.gradNorm).toBe(5);
    expect(d.clipCoef).toBe(Math.fround(1 / Math.fround(5 + Math.fround(1e-6))));
    expect(guardDecision(grads, { scale: 1, maxNorm: 10, skipNonFinite: false }).clipCoef).toBe(1);
    expect(guardDecision(grads, { scale: 1, maxNorm: Infinity, skipNonFinite: false }).clipCoef).toBe(1);
    const nan = guardDecision([new Float32Array([NaN])], { scale: 1, maxNorm: 1, skipNonFinite: false });
    expect(nan.clipCoef).toBeNaN();
    expect(nan.skipped).toBe(false);
  });

  test('invalid guard values are refused with the value in the message', () => {
    const cpu = new AdaBeliefCPU([new Float32Array(2)]);
    const g = [new Float32Array(2)];
    expect(() => cpu.step(g, { gradScale: 0 })).toThrow('gradScale must be a finite number > 0, got 0');
    expect(() => cpu.step(g, { gradScale: Infinity })).toThrow('got inf');
    expect(() => cpu.step(g, { maxGradNorm: -1 })).toThrow(
      'maxGradNorm must be a number > 0 (Infinity: no clipping), got -1',
    );
    expect(cpu.stepCount).toBe(0);
  });
});

describe('GradScaler (torch.amp defaults and schedule)', () => {
  test('defaults: 2^16, x2 every 2000 clean steps, x0.5 on a skipped step', () => {
    const s = new GradScaler();
    expect([s.scale, s.growthFactor, s.backoffFactor, s.growthInterval]).toEqual([65536, 2, 0.5, 2000]);
    for (let i = 0; i < 1999; i++) s.record(false);
    expect(s.scale).toBe(65536);
    s.record(false);
    expect(s.scale).toBe(131072);
    s.record(true);
    expect(s.scale).toBe(65536);
  });

  test('a skip resets the growth count', () => {
    const s = new GradScaler({ initScale: 8, growthInterval: 2 });
    s.record(false);
    s.record(true); // 4
    s.record(false);
    expect(s.scale).toBe(4);
    s.record(false);
    expect(s.scale).toBe(8);
  });

  test.each([
    [{ growthFactor: 1 }, 'The growth factor must be > 1.0. Got 1'],
    [{ backoffFactor: 1 }, 'The backoff factor must be < 1.0. Got 1'],
    [{ growthInterval: 0 }, 'growthInterval must be a positive integer, got 0'],
    [{ initScale: -1 }, 'initScale must be a finite number > 0, got -1'],
  ])('%o is refused', (options, message) => {
    expect(() => new GradScaler(options)).toThrow(message);
  });
});
