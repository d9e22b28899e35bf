/**
 * Parameter groups of the TF.js optimizers: `groups: [{ match, ...overrides }]` — `match` a RegExp tested on the
 * variable's name or a predicate `(variable) => boolean`; the overrides any per-variable option the rule allows
 * (lr, betas, eps, weightDecay; SGD: lr, weightDecay). The first group that matches a variable gives its
 * overrides; a variable no group matches uses the optimizer's options. A variable's group is decided at its
 * first step and kept.
 *
 * Serialization (`getConfig()` / `fromConfig()`, `model.save({ includeOptimizer: true })`): a RegExp group is
 * written `{ match: { name: '/source/flags' }, ...overrides }`. The literal sits under a `name` key because
 * tfjs-layers camel-cases every other string value of a config when it loads a model (`kernel_1` would become
 * `kernel1`) and leaves strings under `name` as they are. A predicate cannot be serialized: `getConfig()`
 * throws, naming the group.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Overrides } from '../internal.js';
import { show } from './config.js';

/** How a group picks its variables: a RegExp tested on the variable's name, or a predicate on the variable. */
export type VariableMatch = RegExp | ((variable: tf.Variable) => boolean);

/** One parameter group: which variables, and the options they override. */
export type ParamGroup<K extends keyof Overrides = keyof Overrides> = { match: VariableMatch } & Pick<
  Overrides,
  K
>;

/** A group, checked. */
export interface CheckedGroup {
  match: VariableMatch;
  overrides: Overrides;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype;

/** `match` for messages: the RegExp literal, or `a predicate` (with its function name when it has one). */
export function describeMatch(match: VariableMatch): string {
  if (match instanceof RegExp) return String(match);
  return match.name ? `the predicate ${match.name}` : 'a predicate';
}

/**
 * Checks `groups` (undefined: none): an array of plain objects, each with a RegExp or function `match` and
 * overrides that `validate` accepts. Errors name the group and the value. A RegExp's `g` / `y` flags are dropped
 * (they make `test()` depend on earlier calls).
 */
export function checkGroups(
  who: string,
  groups: unknown,
  validate: (overrides: Overrides, where: string) => void,
): CheckedGroup[] {
  if (groups === undefined) return [];
  if (!Array.isArray(groups)) {
    throw new TypeError(`${who}: groups must be an array of { match, ...overrides }, got ${show(groups)}`);
  }
  return groups.map((group: unknown, i) => {
    const where = `groups[${i}]`;
    if (!isPlainObject(group)) {
      throw new TypeError(`${who}: ${where} must be an object { match, ...overrides }, got ${show(group)}`);
    }
    const { match: given, ...overrides } = group;
    if (!(given instanceof RegExp) && typeof given !== 'function') {
      throw new TypeError(
        `${who}: ${where}.match must be a RegExp (tested on the variable's name) or a function (variable) => boolean, got ${show(given)}`,
      );
    }
    const match = given as VariableMatch;
    const defined: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(overrides)) if (v !== undefined) defined[k] = v;
    try {
      validate(defined as Overrides, where);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      const Type = e instanceof RangeError ? RangeError : TypeError;
      const message = e.message.startsWith(where) ? e.message : `${where}: ${e.message}`;
      throw new Type(`${who}: ${message} (group matching ${describeMatch(match)})`, { cause: e });
    }
    const checked: VariableMatch =
      match instanceof RegExp ? new RegExp(match.source, match.flags.replace(/[gy]/g, '')) : match;
    return { match: checked, overrides: defined as Overrides };
  });
}

/** The index of the first group matching `variable`, or -1. A predicate must return a boolean. */
export function groupOf(who: string, groups: readonly CheckedGroup[], variable: tf.Variable): number {
  for (const [i, { match }] of groups.entries()) {
    if (match instanceof RegExp) {
      if (match.test(variable.name)) return i;
      continue;
    }
    const hit: unknown = match(variable);
    if (typeof hit !== 'boolean') {
      throw new TypeError(
        `${who}: groups[${i}].match returned ${show(hit)} for variable '${variable.name}'; expected true or false`,
      );
    }
    if (hit) return i;
  }
  return -1;
}

/** `groups` as getConfig() writes them; throws for a group matched by a predicate (it cannot be serialized). */
export function groupsToConfig(
  who: string,
  groups: readonly CheckedGroup[],
): tf.serialization.ConfigDictValue {
  return groups.map(({ match, overrides }, i) => {
    if (!(match instanceof RegExp)) {
      throw new TypeError(
        `${who}: groups[${i}] is matched by ${describeMatch(match)}, which cannot be serialized; match variables ` +
          `by a RegExp on their names to save the optimizer's config (model.save with includeOptimizer), or save ` +
          `without the optimizer and restore its state with getWeights() / setWeights()`,
      );
    }
    return { match: { name: String(match) }, ...(overrides as tf.serialization.ConfigDict) };
  });
}

/** Groups from a config written by `groupsToConfig` (also after tfjs-layers' save → load conversion). */
export function groupsFromConfig(who: string, value: unknown): ParamGroup[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${who}: config key 'groups' must be an array, got ${show(value)}`);
  }
  return value.map((g: unknown, i) => {
    const literal = isPlainObject(g) && isPlainObject(g.match) ? g.match.name : undefined;
    const parts = typeof literal === 'string' ? /^\/(.*)\/([a-z]*)$/s.exec(literal) : null;
    if (!isPlainObject(g) || !parts) {
      throw new TypeError(
        `${who}: config groups[${i}] must be { match: { name: '/regexp/flags' }, ...overrides }, got ${show(g)}`,
      );
    }
    let match: RegExp;
    try {
      match = new RegExp(parts[1]!, parts[2]);
    } catch (e) {
      throw new TypeError(`${who}: config groups[${i}].match ${show(literal)}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return { ...g, match } as ParamGroup;
  });
}
