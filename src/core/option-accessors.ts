/**
 * The option accessors every optimizer class has, GPU and CPU alike (`opt.lr = 5e-4`, `opt.betas`, …): one
 * per option of its rule, read and written like `options` and `set()`. Writing goes through `set()`: validated
 * (the message names the option and the value), and an option fixed at construction (`amsgrad`) refuses any
 * other value than its own. Writing `undefined` is an error (an assignment has no key to leave out). Without
 * them, `opt.lr = x` would make a new, ignored property: a change that silently does nothing.
 */
import type { AdaBeliefOptions } from './options.js';
import { adabeliefRule, type Rule } from './rules.js';
import type { AdamOptions, SGDOptions } from './torch-options.js';
import { describeValue } from './options.js';

/** The accessor properties of options `O`; those fixed at construction (`Fixed`) read-only. */
export type OptionAccessors<O, Fixed extends keyof O> = { -readonly [P in Exclude<keyof O, Fixed>]: O[P] } & {
  readonly [P in Fixed]: O[P];
};

export type AdaBeliefAccessors = OptionAccessors<AdaBeliefOptions, 'amsgrad'>;
export type AdamAccessors = OptionAccessors<AdamOptions, 'amsgrad'>;
export type SGDAccessors = OptionAccessors<SGDOptions, never>;

/** The options of `rule` that may change between steps: all but those fixed at construction. */
export function settableOptions<O extends object>(rule: Rule<O>): (keyof O & string)[] {
  return (Object.keys(rule.defaults) as (keyof O & string)[]).filter((k) => !rule.fixed.includes(k));
}

/** AdaBelief's options that may change between steps (all but `amsgrad`). */
export const ADABELIEF_SETTABLE_OPTIONS: readonly Exclude<keyof AdaBeliefOptions, 'amsgrad'>[] =
  Object.freeze(settableOptions(adabeliefRule) as Exclude<keyof AdaBeliefOptions, 'amsgrad'>[]);

/** What an optimizer offers the accessors. */
export interface OptionHolder<O extends object> {
  /** A copy of the current options. */
  readonly options: O;
  /** The rule's defaults (named in the message for `undefined`). */
  readonly defaults: Readonly<O>;
  /** Changes options between steps (validated; fixed options refuse a change). */
  set(changes: Partial<O>): void;
}

/**
 * Defines on `cls.prototype` a getter and a setter for each option of `rule` (see the file comment); returns the
 * option names. Called from a private static field of each class, never as a top-level statement, so that bundlers
 * can drop a class nobody imports (the package says `"sideEffects": false`): `static readonly #accessors =
 * defineOptionAccessors(MyClass, myRule)`, the call annotated `@__PURE__` (the only thing it changes is the class it
 * is given, unused when the class is), the class named rather than `this` (rolldown keeps a class whose static
 * initializer reads `this`). test/package/ checks that `import { AdaBelief }` bundles without the other classes.
 */
export function defineOptionAccessors<O extends object>(
  cls: { prototype: OptionHolder<O> },
  rule: Rule<O>,
): readonly (keyof O & string)[] {
  const keys = Object.keys(rule.defaults) as (keyof O & string)[];
  for (const key of keys) {
    Object.defineProperty(cls.prototype, key, {
      configurable: true,
      get(this: OptionHolder<O>) {
        return this.options[key];
      },
      set(this: OptionHolder<O>, value: unknown) {
        if (value === undefined) {
          throw new TypeError(
            `${this.constructor.name}.${key} cannot be set to undefined (assign a value; the default is ${describeValue(this.defaults[key])})`,
          );
        }
        this.set({ [key]: value } as Partial<O>);
      },
    });
  }
  return keys;
}
