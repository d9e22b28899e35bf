/**
 * Update rules: what distinguishes AdaBelief, Adam, AdamW and SGD for the fused kernel and the CPU
 * reference. A rule resolves and validates its options, computes the host scalars of a step (f64, see
 * step-scalars.ts) and names the state it keeps. Everything else (layout, dispatch, export/import) is shared.
 */
import { stepScalars, type StepScalars } from './step-scalars.js';
import {
  DEFAULTS,
  definedOptions,
  describeValue,
  resolveOptions,
  validateOverrides,
  type AdaBeliefOptions,
} from './options.js';
import {
  ADAMW_DEFAULTS,
  ADAM_DEFAULTS,
  SGD_DEFAULTS,
  adamScalars,
  resolveAdamOptions,
  resolveSGDOptions,
  sgdScalars,
  type AdamOptions,
  type SGDOptions,
} from './torch-options.js';

/** The kernel's state slots (shaders/adabelief.wgsl bindings 4, 5, 6). */
export type Slot = 'exp_avg' | 'exp_avg_var' | 'max_exp_avg_var';

/** Per-parameter overrides any rule accepts a subset of (PyTorch's param groups). */
export interface Overrides {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface Rule<O extends object> {
  /** The optimizer's name, used in messages ('AdaBelief', 'Adam', 'AdamW', 'SGD'). */
  readonly name: string;
  /** The options this rule takes, with their defaults. */
  readonly defaults: Readonly<O>;
  /** Options fixed at construction (they decide which state exists). */
  readonly fixed: readonly (keyof O)[];
  /** User options over the defaults, validated (unknown keys rejected). */
  resolve(user: Partial<O>): O;
  /** Throws unless `overrides` holds only keys this rule lets a parameter override, with valid values. */
  validateOverrides(overrides: Overrides, where: string): void;
  /** Host scalars of step `t` (1-based) under options `o`. */
  scalars(o: O, t: number): StepScalars;
  /** The state slots kept under `o`, each with the name PyTorch's state_dict gives it. */
  slots(o: O): { slot: Slot; name: string }[];
  /** Whether the kernel keeps the second moment (exp_avg_var): false for SGD. */
  variance: boolean;
  /** Whether the kernel keeps the AMSGrad max under `o`. */
  amsgrad(o: O): boolean;
}

/** Throws unless `overrides` only has keys among `allowed` (then validates their values). */
function overridesAmong(allowed: readonly string[], check: (o: Overrides) => void) {
  return (overrides: Overrides, where: string): void => {
    const given = definedOptions<Overrides>(overrides, `${where} overrides`);
    for (const key of Object.keys(given)) {
      if (!allowed.includes(key)) {
        throw new TypeError(`${where}: '${key}' cannot be set per parameter (only ${allowed.join(', ')})`);
      }
    }
    check(given);
  };
}

export const adabeliefRule: Rule<AdaBeliefOptions> = {
  name: 'AdaBelief',
  defaults: DEFAULTS,
  fixed: ['amsgrad'],
  resolve: resolveOptions,
  validateOverrides,
  scalars: stepScalars,
  slots: (o) => [
    { slot: 'exp_avg', name: 'exp_avg' },
    { slot: 'exp_avg_var', name: 'exp_avg_var' },
    ...(o.amsgrad ? [{ slot: 'max_exp_avg_var' as const, name: 'max_exp_avg_var' }] : []),
  ],
  variance: true,
  amsgrad: (o) => o.amsgrad,
};

function adamRule(name: 'Adam' | 'AdamW', defaults: Readonly<AdamOptions>): Rule<AdamOptions> {
  return {
    name,
    defaults,
    fixed: ['amsgrad'],
    resolve: (user) => resolveAdamOptions(name, defaults, user),
    validateOverrides: overridesAmong(['lr', 'betas', 'eps', 'weightDecay'], (o) =>
      resolveAdamOptions(name, defaults, o),
    ),
    scalars: (o, t) => adamScalars(o, t, name === 'AdamW'),
    slots: (o) => [
      { slot: 'exp_avg', name: 'exp_avg' },
      { slot: 'exp_avg_var', name: 'exp_avg_sq' },
      ...(o.amsgrad ? [{ slot: 'max_exp_avg_var' as const, name: 'max_exp_avg_sq' }] : []),
    ],
    variance: true,
    amsgrad: (o) => o.amsgrad,
  };
}

export const adamRuleTorch = adamRule('Adam', ADAM_DEFAULTS);
export const adamwRuleTorch = adamRule('AdamW', ADAMW_DEFAULTS);

export const sgdRule: Rule<SGDOptions> = {
  name: 'SGD',
  defaults: SGD_DEFAULTS,
  fixed: [],
  resolve: resolveSGDOptions,
  validateOverrides: overridesAmong(['lr', 'weightDecay'], (o) =>
    resolveSGDOptions(o as Partial<SGDOptions>),
  ),
  scalars: sgdScalars,
  slots: () => [{ slot: 'exp_avg', name: 'momentum_buffer' }],
  variance: false,
  amsgrad: () => false,
};

/**
 * `current` with `changes` applied and validated; throws if a construction-time option would change.
 * An undefined value in `changes` leaves that option as it is (the undefined rule: as if the key were absent).
 */
export function mergeFixed<O extends object>(rule: Rule<O>, current: O, changes: Partial<O>): O {
  const given = definedOptions<O>(changes, `${rule.name}.set: the changes`);
  for (const key of rule.fixed) {
    if (key in given && given[key] !== current[key]) {
      throw new Error(
        `${String(key)} is fixed at construction: it decides which state buffers exist (this optimizer has ${String(key)}=${describeValue(current[key])}, got ${describeValue(given[key])})`,
      );
    }
  }
  return rule.resolve({ ...current, ...given });
}

/** Removes undefined-valued keys of per-parameter overrides (the undefined rule: no override). */
export function definedOverrides(overrides: Overrides, where: string): Overrides {
  return definedOptions<Overrides>(overrides, where);
}
