/** Host scalars of a step: rectification phases, decay modes, step sizes, the kernel's record. */
import { describe, expect, test } from 'vitest';
import {
  Amsgrad,
  DEFAULTS,
  Update,
  presets,
  rectifyRho,
  stepScalars,
  type AdaBeliefOptions,
} from '../../src/internal.js';
import { HYPER_BYTES, packHyper } from '../../src/gpu/records.js';

const phase = (o: Partial<AdaBeliefOptions>, t: number) =>
  (['none', 'sgd', 'adaptive'] as const)[stepScalars({ ...DEFAULTS, ...o }, t).update];

describe('rectification phase, steps 1..10', () => {
  test.each([0.9, 0.99, 0.999])(
    'beta2 = %s: official SGD through step 5 then adaptive; torch-optimizer adaptive from 5',
    (b2) => {
      const official = [];
      const torch = [];
      for (let t = 1; t <= 10; t++) {
        official.push(phase({ betas: [0.9, b2] }, t));
        torch.push(phase({ ...presets.torchOptimizer, rectify: true, betas: [0.9, b2] }, t));
      }
      console.log(
        `beta2=${b2} rho: ${Array.from({ length: 10 }, (_, i) => rectifyRho(b2, i + 1).rho.toFixed(3)).join(' ')}`,
      );
      expect(official).toEqual([...Array(5).fill('sgd'), ...Array(5).fill('adaptive')]);
      expect(torch).toEqual([...Array(4).fill('sgd'), ...Array(6).fill('adaptive')]);
    },
  );

  test('without degeneratedToSgd the warm-up steps do not move the parameters', () => {
    expect(phase({ degeneratedToSgd: false }, 5)).toBe('none');
    expect(stepScalars({ ...DEFAULTS, degeneratedToSgd: false }, 5).stepSize).toBe(0);
    expect(phase({ degeneratedToSgd: false }, 6)).toBe('adaptive');
  });
});

describe('step scalars', () => {
  const lr = 0.01;
  test('rectify off: bias-corrected denominator and -lr/bc1', () => {
    const s = stepScalars({ ...DEFAULTS, rectify: false, lr }, 3);
    expect(s.update).toBe(Update.adaptive);
    expect(s.divideBc2).toBe(true);
    expect(s.stepSize).toBe(-(lr / (1 - 0.9 ** 3)));
    expect(s.sqrtBc2).toBe(Math.sqrt(1 - 0.999 ** 3));
  });

  test('official rectified step: sqrt(s) + eps (no bias correction, never smax), the official k', () => {
    const t = 20;
    const s = stepScalars({ ...DEFAULTS, amsgrad: true, lr }, t);
    const { rho, rhoInf } = rectifyRho(0.999, t);
    const bc2 = 1 - 0.999 ** t;
    const k =
      Math.sqrt((((((bc2 * (rho - 4)) / (rhoInf - 4)) * (rho - 2)) / rho) * rhoInf) / (rhoInf - 2)) /
      (1 - 0.9 ** t);
    expect(s).toMatchObject({
      update: Update.adaptive,
      divideBc2: false,
      denomFromMax: false,
      amsgrad: Amsgrad.epsBeforeMax,
    });
    expect(s.stepSize).toBe(-k * lr);
  });

  test('torch-optimizer: SGD warm-up with plain lr, rectified step with bias-corrected smax denominator', () => {
    const o = { ...presets.torchOptimizer, rectify: true, amsgrad: true, lr };
    expect(stepScalars(o, 2)).toMatchObject({ update: Update.sgd, stepSize: -lr });
    expect(stepScalars(o, 7)).toMatchObject({
      update: Update.adaptive,
      divideBc2: true,
      denomFromMax: true,
      amsgrad: Amsgrad.epsAfterMax,
    });
  });

  test('decay modes: decoupled (1 - lr wd), fixed (1 - wd), L2 (g + wd p), and nothing for L2 with wd = 0', () => {
    const wd = 0.1;
    expect(stepScalars({ ...DEFAULTS, lr, weightDecay: wd }, 1)).toMatchObject({
      decayMul: 1 - lr * wd,
      l2: 0,
    });
    expect(stepScalars({ ...DEFAULTS, lr, weightDecay: wd, fixedDecay: true }, 1)).toMatchObject({
      decayMul: 1 - wd,
      l2: 0,
    });
    expect(stepScalars({ ...DEFAULTS, weightDecay: wd, weightDecouple: false }, 1)).toMatchObject({
      decayMul: 1,
      l2: wd,
    });
    expect(stepScalars({ ...DEFAULTS, weightDecouple: false }, 1)).toMatchObject({ decayMul: 1, l2: 0 });
  });

  test('1 - beta is computed in f64, then rounded once', () => {
    const s = stepScalars({ ...DEFAULTS, betas: [0.9, 0.999] }, 1);
    expect(s.oneMinusBeta1).toBe(1 - 0.9);
    const view = new DataView(new ArrayBuffer(HYPER_BYTES));
    packHyper(s, view, 0);
    expect(view.getUint32(0, true)).toBe(Update.sgd); // step 1 of the rectified rule
    expect(view.getFloat32(28, true)).toBe(Math.fround(1 - 0.9));
    expect(view.getFloat32(28, true)).not.toBe(Math.fround(1 - Math.fround(0.9)));
  });

  test('step count must be a positive integer', () => {
    expect(() => stepScalars(DEFAULTS, 0)).toThrow(/>= 1/);
  });
});
