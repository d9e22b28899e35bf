/**
 * Options, defaults, presets and validation for AdaBelief.
 *
 * Defaults follow adabelief-pytorch 0.2.1 (the package the paper's authors maintain). Where they differ
 * from the paper (eps 1e-16 instead of 1e-8, decoupled weight decay, rectification on) the preset
 * `presets.torchOptimizer` gives torch-optimizer's choices instead.
 */

/** Which reference implementation's quirks to reproduce (see README "Semantics"). */
export type Semantics = 'adabelief-pytorch' | 'torch-optimizer';

export interface AdaBeliefOptions {
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Coefficients of the running averages of the gradient and of the belief. Default [0.9, 0.999]. */
  betas: readonly [number, number];
  /** Added to the belief variance (inside the sqrt, persistently) and to the denominator. Default 1e-16. */
  eps: number;
  /** Weight decay. Default 0. */
  weightDecay: number;
  /** Keep the running max of the belief variance (AMSGrad). Fixed at construction. Default false. */
  amsgrad: boolean;
  /** Decoupled (AdamW-style) weight decay instead of L2 added to the gradient. Default true. */
  weightDecouple: boolean;
  /** With decoupled decay: multiply by (1 - weightDecay) instead of (1 - lr * weightDecay). Default false. */
  fixedDecay: boolean;
  /** RAdam-style rectification of the adaptive step. Default true. */
  rectify: boolean;
  /** Under rectify, take SGD-with-momentum steps while the variance is intractable. Default true. */
  degeneratedToSgd: boolean;
  /** Reference semantics. Default 'adabelief-pytorch'. */
  semantics: Semantics;
}

/** The hyperparameters a single parameter entry may override (PyTorch's param groups). */
export type GroupOverrides = Partial<Pick<AdaBeliefOptions, 'lr' | 'betas' | 'eps' | 'weightDecay'>>;

/** adabelief-pytorch 0.2.1's defaults. */
export const DEFAULTS: Readonly<AdaBeliefOptions> = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.999] as const,
  eps: 1e-16,
  weightDecay: 0,
  amsgrad: false,
  weightDecouple: true,
  fixedDecay: false,
  rectify: true,
  degeneratedToSgd: true,
  semantics: 'adabelief-pytorch',
});

/** Ready-made option sets matching the two reference packages. */
export const presets = Object.freeze({
  /** adabelief-pytorch 0.2.1 (the defaults). */
  adabeliefPytorch: Object.freeze({ ...DEFAULTS }) as Readonly<AdaBeliefOptions>,
  /** torch_optimizer.AdaBelief: eps 1e-8, L2 weight decay, no rectification, its own quirks. */
  torchOptimizer: Object.freeze({
    ...DEFAULTS,
    eps: 1e-8,
    weightDecouple: false,
    rectify: false,
    semantics: 'torch-optimizer',
  }) as Readonly<AdaBeliefOptions>,
});

/**
 * Python's repr of the value, so messages read like the official package's: floats as CPython prints them
 * (`1e-16`, `-1e-05`, `-1e-08`, `-0.001`, `nan`, `-inf`), whole numbers as Python ints (`-1`: what
 * Python prints for the int a user would type). Other values as `describeValue` shows them.
 */
export function pyRepr(x: unknown): string {
  if (typeof x !== 'number') return describeValue(x);
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return Object.is(x, -0) ? '-0.0' : String(x);
  const [digits, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  // CPython switches to exponent notation below 1e-4 and from 1e16, with at least two exponent digits.
  if (exponent < -4 || exponent >= 16) {
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(x); // positional, with the same shortest round-trip digits
}

/** `word` (a type's name) with its indefinite article: 'an Array', 'an Int8Array', 'a Uint8Array', 'a Float32Array'. */
export function withArticle(word: string): string {
  return `${/^(?:[aeio]|u(?!int))/i.test(word) ? 'an' : 'a'} ${word}`;
}

/**
 * Any value as an error message shows it, so that values of different types never read alike: strings
 * quoted (`'3'`), bigints with their `n` (`3n`), numbers as Python prints them, arrays and plain objects
 * spelled out (shortened), GPU objects by their label.
 */
export function describeValue(x: unknown, depth = 0): string {
  if (typeof x === 'number') return pyRepr(x);
  if (typeof x === 'string') return `'${x.length > 40 ? `${x.slice(0, 40)}…` : x}'`;
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'function') return `a function${x.name ? ` (${x.name})` : ''}`;
  if (typeof x === 'symbol') return x.toString();
  if (x === null || typeof x !== 'object') return String(x);
  if (depth > 1) return Array.isArray(x) ? '[…]' : '{…}';
  if (Array.isArray(x)) {
    const shown = x.slice(0, 4).map((v) => describeValue(v, depth + 1));
    return `[${shown.join(', ')}${x.length > 4 ? `, … (${x.length} items)` : ''}]`;
  }
  if (ArrayBuffer.isView(x)) return withArticle(x.constructor.name);
  const proto = Object.getPrototypeOf(x) as object | null;
  if (proto !== null && proto !== Object.prototype) {
    const label = (x as { label?: unknown }).label;
    const kind = (proto.constructor as { name?: string } | undefined)?.name || 'object';
    return typeof label === 'string' ? `${kind} '${label}'` : withArticle(kind);
  }
  const keys = Object.keys(x);
  const shown = keys
    .slice(0, 4)
    .map((k) => `${k}: ${describeValue((x as Record<string, unknown>)[k], depth + 1)}`);
  return `{ ${shown.join(', ')}${keys.length > 4 ? ', …' : ''} }`.replace('{  }', '{}');
}

/** True for a plain object (an options record): not null, not an array, not a class instance. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as object | null;
  return proto === null || proto === Object.prototype;
}

/**
 * The library's one rule for `undefined`: an option whose value is `undefined` is treated exactly as if
 * its key were absent (the default at construction, "unchanged" in set(), "no override" per entry). Returns
 * `user` without its undefined-valued keys; throws unless it is a plain object (or undefined: none given).
 */
export function definedOptions<T extends object>(user: unknown, what: string): Partial<T> {
  if (user === undefined) return {};
  if (!isPlainObject(user)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(user)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(user)) if (value !== undefined) out[key] = value;
  return out as Partial<T>;
}

/** Rejects keys of `user` that `allowed` lacks, naming the key and what is allowed. */
export function rejectUnknownKeys(user: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(user)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`Unknown ${what} option: '${key}' (${what} takes ${allowed.join(', ')})`);
    }
  }
}

/**
 * A usable scalar: a finite number >= `min`. (Stricter than PyTorch, which takes an infinite lr: inf or NaN
 * would only turn every parameter into NaN. Huge finite values are applied as given, in f32, as PyTorch does.)
 */
export function finiteAtLeast(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= min;
}

/** Why a value was refused, for the end of a message ('' for a number out of range). */
export function refusalNote(x: unknown): string {
  if (typeof x === 'number') return '';
  return ` (expected a number, got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : `a ${typeof x}`})`;
}

/** Throws the official package's message for an invalid hyperparameter (and names wrong types). */
export function validateHyper(
  h: Partial<Pick<AdaBeliefOptions, 'lr' | 'betas' | 'eps' | 'weightDecay'>>,
): void {
  const { lr, eps, betas, weightDecay } = h;
  if (lr !== undefined && !finiteAtLeast(lr, 0)) {
    throw new RangeError(`Invalid learning rate: ${pyRepr(lr)}${refusalNote(lr)}`);
  }
  if (eps !== undefined && !finiteAtLeast(eps, 0)) {
    throw new RangeError(`Invalid epsilon value: ${pyRepr(eps)}${refusalNote(eps)}`);
  }
  if (betas !== undefined) {
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new RangeError(`Invalid betas: expected two numbers [beta1, beta2], got ${describeValue(betas)}`);
    }
    betas.forEach((b: unknown, i) => {
      if (!(typeof b === 'number' && b >= 0 && b < 1)) {
        throw new RangeError(`Invalid beta parameter at index ${i}: ${pyRepr(b)}${refusalNote(b)}`);
      }
    });
  }
  if (weightDecay !== undefined && !finiteAtLeast(weightDecay, 0)) {
    throw new RangeError(`Invalid weight_decay value: ${pyRepr(weightDecay)}${refusalNote(weightDecay)}`);
  }
}

const FLAG_KEYS = ['amsgrad', 'weightDecouple', 'fixedDecay', 'rectify', 'degeneratedToSgd'] as const;

/**
 * Merges user options over the defaults and validates every field. Unknown keys are rejected; an
 * undefined value means the default (see definedOptions).
 */
export function resolveOptions(user?: Partial<AdaBeliefOptions>): AdaBeliefOptions {
  const given = definedOptions<AdaBeliefOptions>(user, 'AdaBelief options');
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULTS)) throw new TypeError(`Unknown AdaBelief option: '${key}'`);
  }
  const o: AdaBeliefOptions = { ...DEFAULTS, ...given };
  validateHyper(o);
  for (const key of FLAG_KEYS) checkFlag(key, o[key]);
  if (o.semantics !== 'adabelief-pytorch' && o.semantics !== 'torch-optimizer') {
    throw new TypeError(
      `Option 'semantics' must be 'adabelief-pytorch' or 'torch-optimizer', got ${describeValue(o.semantics)}`,
    );
  }
  o.betas = [o.betas[0], o.betas[1]];
  return o;
}

/** Throws unless option `key` is a boolean, naming it and the value. */
export function checkFlag(key: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`Option '${key}' must be a boolean, got ${describeValue(value)}`);
  }
}

/** Validates per-entry overrides (only lr, betas, eps, weightDecay may be overridden). */
export function validateOverrides(overrides: GroupOverrides, where: string): void {
  const given = definedOptions<GroupOverrides>(overrides, `${where} overrides`);
  for (const key of Object.keys(given)) {
    if (!['lr', 'betas', 'eps', 'weightDecay'].includes(key)) {
      throw new TypeError(
        `${where}: '${key}' cannot be set per parameter (only lr, betas, eps, weightDecay)`,
      );
    }
  }
  validateHyper(given);
}
