/** Options, presets and the official validation messages. */
import { describe, expect, test } from 'vitest';
import { DEFAULTS, presets, resolveOptions, validateHyper } from '../../src/internal.js';

describe('validation messages (same words as adabelief-pytorch / torch.optim)', () => {
  test.each([
    [{ lr: -1e-3 }, 'Invalid learning rate: -0.001'],
    [{ lr: Number.NaN }, 'Invalid learning rate: nan'],
    [{ eps: -1 }, 'Invalid epsilon value: -1'],
    [{ eps: Number.NaN }, 'Invalid epsilon value: nan'],
    [{ betas: [1, 0.999] as const }, 'Invalid beta parameter at index 0: 1'],
    [{ betas: [-0.1, 0.999] as const }, 'Invalid beta parameter at index 0: -0.1'],
    [{ betas: [Number.NaN, 0.999] as const }, 'Invalid beta parameter at index 0: nan'],
    [{ betas: [0.9, 1] as const }, 'Invalid beta parameter at index 1: 1'],
    [{ betas: [0.9, Number.POSITIVE_INFINITY] as const }, 'Invalid beta parameter at index 1: inf'],
    [{ weightDecay: -0.5 }, 'Invalid weight_decay value: -0.5'],
    [{ weightDecay: Number.NaN }, 'Invalid weight_decay value: nan'],
  ])('%o → %s', (bad, message) => {
    expect(() => validateHyper(bad)).toThrow(new RangeError(message));
    expect(() => resolveOptions(bad)).toThrow(message);
  });

  test('boundary values are accepted', () => {
    expect(() => validateHyper({ lr: 0, eps: 0, betas: [0, 0.9999999], weightDecay: 0 })).not.toThrow();
  });

  test('unknown keys, non-boolean flags and unknown semantics are rejected', () => {
    expect(() => resolveOptions({ betas1: 0.9 } as never)).toThrow("Unknown AdaBelief option: 'betas1'");
    expect(() => resolveOptions({ amsgrad: 1 } as never)).toThrow(
      "Option 'amsgrad' must be a boolean, got 1",
    );
    expect(() => resolveOptions({ semantics: 'optax' } as never)).toThrow(/'semantics' must be/);
  });
});

describe('defaults and presets', () => {
  test('defaults are adabelief-pytorch 0.2.1', () => {
    expect(DEFAULTS).toEqual({
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-16,
      weightDecay: 0,
      amsgrad: false,
      weightDecouple: true,
      fixedDecay: false,
      rectify: true,
      degeneratedToSgd: true,
      semantics: 'adabelief-pytorch',
    });
    expect(presets.adabeliefPytorch).toEqual(DEFAULTS);
  });

  test("torchOptimizer: eps 1e-8, L2 decay, no rectify, torch-optimizer's quirks", () => {
    expect(presets.torchOptimizer).toEqual({
      ...DEFAULTS,
      eps: 1e-8,
      weightDecouple: false,
      rectify: false,
      semantics: 'torch-optimizer',
    });
  });
});
