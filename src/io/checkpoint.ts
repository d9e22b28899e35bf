/**
 * Optimizer checkpoints as safetensors files laid out like PyTorch's `optimizer.state_dict()`, so a run
 * can move between this library (browser or Node) and PyTorch (adabelief-pytorch's `AdaBelief`):
 *
 *   tensors    state.{i}.step              I64, shape []: the step (adabelief-pytorch keeps an int)
 *              state.{i}.exp_avg, ...      F32, the parameter's shape: each state tensor of parameter i
 *   metadata   optimizer      "AdaBelief"
 *              step           "12"
 *              options        JSON, PyTorch's names: {"lr":0.001,"betas":[0.9,0.999],...,"semantics":...}
 *              param_groups   JSON: [{"lr":..,"betas":..,"eps":..,"weight_decay":..,"amsgrad":..,"params":[0,1]}]
 *
 *   const bytes = saveCheckpoint(await opt.exportState());
 *   opt.importState(loadCheckpoint(bytes, { sizes: [n0, n1], amsgrad: false }));
 *
 * Generic over the optimizer: a `CheckpointSpec` names the state tensors an optimizer keeps and the
 * options PyTorch keeps per param group; `adabeliefCheckpoint` is AdaBelief's. Numbers in the metadata
 * are written so that they parse back to the same float64 (shortest round-trip form, -0 kept).
 */
import {
  definedOptions,
  describeValue,
  rejectUnknownKeys,
  resolveOptions,
  validateOverrides,
  type AdaBeliefOptions,
  type GroupOverrides,
  withArticle,
} from '../core/options.js';
import {
  decodeSafetensors,
  elementCount,
  encodeSafetensors,
  readFloat32,
  readNumbers,
  type DecodedTensor,
  type SafetensorsTensor,
} from './safetensors.js';
import type { AdaBeliefState } from '../core/state.js';
import { adamRuleTorch, adamwRuleTorch, sgdRule } from '../core/rules.js';
import type { AdamOptions, SGDOptions } from '../core/torch-options.js';

/** What the checkpoint code needs to know about an optimizer (an update rule satisfies most of it). */
export interface CheckpointSpec<O extends object> {
  /** Stored as the metadata 'optimizer' and checked on load ('AdaBelief'). */
  readonly name: string;
  /** Every option, validated, from user values (throws on unknown keys and bad values). */
  resolve(user: Partial<O>): O;
  /** Throws unless `overrides` may be set for a single parameter (a PyTorch param group's values). */
  validateOverrides(overrides: Partial<O>, where: string): void;
  /** The state tensors kept per parameter under `options`, by their PyTorch names. */
  slots(options: O): readonly { name: string }[];
  /** The options PyTorch keeps in each param group (camelCase here, snake_case in the file). */
  readonly groupKeys: readonly (keyof O & string)[];
}

/** AdaBelief (adabelief-pytorch's names: exp_avg, exp_avg_var, and max_exp_avg_var under AMSGrad). */
export const adabeliefCheckpoint: CheckpointSpec<AdaBeliefOptions> = {
  name: 'AdaBelief',
  resolve: resolveOptions,
  validateOverrides: (overrides, where) => validateOverrides(overrides as GroupOverrides, where),
  slots: (o) =>
    ['exp_avg', 'exp_avg_var', ...(o.amsgrad ? ['max_exp_avg_var'] : [])].map((name) => ({ name })),
  groupKeys: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'],
};

/** torch.optim.Adam / AdamW (exp_avg, exp_avg_sq, max_exp_avg_sq) and SGD (momentum_buffer). */
export const adamCheckpoint: CheckpointSpec<AdamOptions> = {
  ...adamRuleTorch,
  groupKeys: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'],
};
export const adamwCheckpoint: CheckpointSpec<AdamOptions> = {
  ...adamwRuleTorch,
  groupKeys: adamCheckpoint.groupKeys,
};
/** torch's SGD keeps no step per parameter: a file written by PyTorch needs `state.{i}.step` added. */
export const sgdCheckpoint: CheckpointSpec<SGDOptions> = {
  ...sgdRule,
  groupKeys: ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'],
};

/** An optimizer state as `exportState()` returns it: per parameter, its tensors by name. */
export interface CheckpointState<O extends object> {
  step: number;
  options: O;
  tensors: readonly object[];
}

/** The state `loadCheckpoint` returns for an optimizer given by its spec. */
export interface LoadedState<O extends object> {
  step: number;
  options: O;
  tensors: Record<string, Float32Array>[];
}

export interface SaveCheckpointInfo<O extends object> {
  /** The optimizer that wrote `state`. Default `adabeliefCheckpoint`. */
  spec?: CheckpointSpec<O>;
  /** Per-parameter overrides (the entries' `lr`, `betas`, ...): they become PyTorch param groups. */
  overrides?: readonly (Partial<O> | undefined)[];
  /** Each parameter's shape (e.g. [64, 3, 7, 7]), so that PyTorch gets tensors of that shape. Default [size]. */
  shapes?: readonly (readonly number[])[];
  /** More string metadata to store (not 'optimizer', 'step', 'options' or 'param_groups'). */
  metadata?: Readonly<Record<string, string>>;
}

export interface CheckpointExpect<O extends object> {
  /** The optimizer the file must come from. Default `adabeliefCheckpoint`. */
  spec?: CheckpointSpec<O>;
  /** Each parameter's element count, in the optimizer's order. */
  sizes?: readonly number[];
  /** Whether the optimizer keeps the AMSGrad maximum. */
  amsgrad?: boolean;
}

export interface CheckpointContents<O extends object> {
  state: LoadedState<O>;
  /** Per parameter: its param group's values where they differ from `state.options` (often `{}`). */
  overrides: Partial<O>[];
  /** Per parameter: the shape its tensors have in the file. */
  shapes: number[][];
  /** The file's other metadata (what `SaveCheckpointInfo.metadata` wrote). */
  metadata: Record<string, string>;
}

interface Group {
  values: Record<string, unknown>;
  params: number[];
}

const RESERVED_METADATA = ['optimizer', 'step', 'options', 'param_groups'];
const STATE_TENSOR = /^state\.(0|[1-9][0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)$/;

function fail(message: string): never {
  throw new Error(`checkpoint: ${message}`);
}

/** Runs `f`, prefixing what it throws with `where`. */
function within<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const message = (e as Error).message;
    return fail(message.startsWith(`${where}: `) ? message : `${where}: ${message}`);
  }
}

const toSnake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** JSON that parses back to the same values: finite numbers only, -0 written as -0.0. */
function exactJson(value: unknown, where: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(`${where} is ${value}, which JSON cannot hold`);
    return Object.is(value, -0) ? '-0.0' : JSON.stringify(value);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => exactJson(v, `${where}[${i}]`)).join(',')}]`;
  if (isPlainObject(value)) {
    const fields = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}:${exactJson(v, `${where}.${k}`)}`,
    );
    return `{${fields.join(',')}}`;
  }
  return fail(`${where} cannot be stored: ${String(value)}`);
}

/** `values` with snake_case keys (throws for a key whose snake_case name would not map back to it). */
function snakeKeys(values: object, where: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => {
      if (toCamel(toSnake(key)) !== key) fail(`${where}: '${key}' has no snake_case name that maps back`);
      return [toSnake(key), value];
    }),
  );
}

/** The same value for option purposes: numbers by Object.is, arrays element by element. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  return Object.is(a, b);
}

/** The file's tensors: every parameter's step (I64 scalars first), then its F32 state tensors. */
function tensorsToWrite(
  state: CheckpointState<object>,
  names: readonly string[],
  optimizer: string,
  shapes: readonly (readonly number[])[] | undefined,
): [string, SafetensorsTensor][] {
  const steps: [string, SafetensorsTensor][] = [];
  const values: [string, SafetensorsTensor][] = [];
  state.tensors.forEach((tensors, i) => {
    if (typeof tensors !== 'object' || tensors === null)
      fail(`tensors[${i}] must be an object of Float32Arrays`);
    const record = tensors as Record<string, unknown>;
    for (const [name, data] of Object.entries(record)) {
      if (data !== undefined && !names.includes(name)) {
        fail(
          `tensors[${i}].${name} is not state of ${optimizer} with these options (it keeps ${names.join(', ')})`,
        );
      }
    }
    for (const name of names) {
      const data = record[name];
      if (data === undefined)
        fail(`tensors[${i}] has no ${name} (${optimizer} here keeps ${names.join(', ')})`);
      if (!(data instanceof Float32Array)) {
        const kind = (data as object)?.constructor?.name ?? typeof data;
        fail(`tensors[${i}].${name} is ${withArticle(kind)}: checkpoints hold F32 values (a Float32Array)`);
      }
      const shape = shapes?.[i] ?? [data.length];
      if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || elementCount(shape) !== data.length) {
        fail(`shapes[${i}] is [${shape}], but tensors[${i}].${name} has ${data.length} elements`);
      }
      values.push([`state.${i}.${name}`, { dtype: 'F32', shape, data }]);
    }
    steps.push([`state.${i}.step`, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(state.step)) }]);
  });
  // Scalars first: 8-byte I64s at the (8-byte-aligned) start keep every tensor aligned to its element size.
  return [...steps, ...values];
}

/** Parameters 0..n-1 grouped by their param-group values (options with the parameter's overrides). */
function groupParameters<O extends object>(
  spec: CheckpointSpec<O>,
  options: O,
  n: number,
  overrides: readonly (Partial<O> | undefined)[] | undefined,
): Group[] {
  const groups: Group[] = [];
  const groupByValues = new Map<string, Group>();
  for (let i = 0; i < n; i++) {
    const own = overrides?.[i] ?? {};
    const merged = within(`overrides[${i}]`, () => {
      spec.validateOverrides(own, `overrides[${i}]`);
      return spec.resolve({ ...options, ...own }) as Record<string, unknown>;
    });
    const values = Object.fromEntries(spec.groupKeys.map((key) => [key, merged[key]]));
    const key = exactJson(values, `the param group of parameter ${i}`);
    let group = groupByValues.get(key);
    if (group === undefined) {
      group = { values, params: [] };
      groupByValues.set(key, group);
      groups.push(group);
    }
    group.params.push(i);
  }
  return groups;
}

/** Serializes an optimizer state (what `exportState()` returns) into the bytes of a safetensors file. */
export function saveCheckpoint<O extends object = AdaBeliefOptions>(
  state: CheckpointState<O>,
  info: SaveCheckpointInfo<O> = {},
): Uint8Array {
  const spec = info.spec ?? (adabeliefCheckpoint as unknown as CheckpointSpec<O>);
  if (state === null || typeof state !== 'object')
    fail(`state must be an object, got ${describeValue(state)}`);
  if (!Number.isSafeInteger(state.step) || state.step < 0) {
    fail(`step must be a non-negative integer (a number), got ${describeValue(state.step)}`);
  }
  const options = within('options', () => spec.resolve(state.options));
  const optionsJson = exactJson(snakeKeys(options, 'options'), 'options');
  if (!Array.isArray(state.tensors) || state.tensors.length === 0) {
    fail('tensors must be a non-empty array (one state per parameter)');
  }
  const n = state.tensors.length;
  for (const [what, list] of [
    ['overrides', info.overrides],
    ['shapes', info.shapes],
  ] as const) {
    if (list !== undefined && list.length !== n)
      fail(`${what} has ${list.length} entries, the state has ${n}`);
  }
  const names = spec.slots(options).map((s) => s.name);
  const tensors = tensorsToWrite(state, names, spec.name, info.shapes);
  const groups = groupParameters(spec, options, n, info.overrides);

  const extra = info.metadata ?? {};
  for (const key of Object.keys(extra)) {
    if (RESERVED_METADATA.includes(key)) fail(`metadata '${key}' is written by saveCheckpoint itself`);
  }
  const metadata: Record<string, string> = {
    ...extra,
    optimizer: spec.name,
    step: String(state.step),
    options: optionsJson,
    param_groups: exactJson(
      groups.map((g) => ({ ...snakeKeys(g.values, 'param_groups'), params: g.params })),
      'param_groups',
    ),
  };
  return encodeSafetensors(tensors, metadata);
}

/** Parses a JSON metadata entry, naming it on error. */
function parseJsonMetadata(metadata: Record<string, string>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined) fail(`metadata '${key}' is missing (not a file written by saveCheckpoint?)`);
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(`metadata '${key}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** Options from the file's 'options' entry: every option present, validated. */
function readOptions<O extends object>(spec: CheckpointSpec<O>, metadata: Record<string, string>): O {
  const raw = parseJsonMetadata(metadata, 'options');
  if (!isPlainObject(raw)) fail(`metadata 'options' must be a JSON object, got ${metadata.options}`);
  const known = Object.keys(spec.resolve({}));
  const camel: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!known.includes(toCamel(key))) {
      fail(
        `metadata 'options' has unknown option '${key}' (${spec.name} has ${known.map(toSnake).join(', ')})`,
      );
    }
    camel[toCamel(key)] = value;
  }
  for (const key of known) {
    if (!(key in camel)) fail(`metadata 'options' lacks '${toSnake(key)}'`);
  }
  return within(`metadata 'options'`, () => spec.resolve(camel as Partial<O>));
}

/** Param groups from the file's 'param_groups' entry, keys in camelCase. */
function readGroups<O extends object>(spec: CheckpointSpec<O>, metadata: Record<string, string>): Group[] {
  const raw = parseJsonMetadata(metadata, 'param_groups');
  if (!Array.isArray(raw) || raw.length === 0) fail(`metadata 'param_groups' must be a non-empty JSON array`);
  const groupKeys: readonly string[] = spec.groupKeys;
  return raw.map((group: unknown, g) => {
    const where = `param_groups[${g}]`;
    if (!isPlainObject(group)) fail(`${where} must be an object, got ${JSON.stringify(group)}`);
    const { params, ...rest } = group;
    if (!Array.isArray(params) || !params.every((p) => Number.isSafeInteger(p) && p >= 0)) {
      fail(`${where}.params must be a list of parameter indices, got ${JSON.stringify(params)}`);
    }
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) {
      if (!groupKeys.includes(toCamel(key))) {
        fail(
          `${where} has unknown key '${key}' (a group holds ${groupKeys.map(toSnake).join(', ')}, params)`,
        );
      }
      values[toCamel(key)] = value;
    }
    for (const key of groupKeys) {
      if (!(key in values)) fail(`${where} lacks '${toSnake(key)}'`);
    }
    return { values, params: params as number[] };
  });
}

/** Parameter `i`'s tensors, checked: the step, every state tensor in F32, one shape, `size` elements. */
function readParameter(
  i: number,
  found: Map<string, [string, DecodedTensor]>,
  names: readonly string[],
  step: number,
  size: number | undefined,
  optimizer: string,
): { tensors: Record<string, Float32Array>; shape: number[] } {
  for (const name of found.keys()) {
    if (name !== 'step' && !names.includes(name)) {
      fail(
        `unexpected tensor 'state.${i}.${name}': ${optimizer} with these options keeps ${names.join(', ')}`,
      );
    }
  }
  const stepEntry = found.get('step');
  if (stepEntry === undefined) fail(`missing tensor 'state.${i}.step'`);
  const [stepKey, stepTensor] = stepEntry;
  const steps = readNumbers(stepTensor, stepKey);
  if (steps.length !== 1) fail(`tensor '${stepKey}' has shape [${stepTensor.shape}], expected a scalar`);
  if (steps[0] !== step)
    fail(`'${stepKey}' is ${steps[0]}, but the metadata step is ${step} (inconsistent steps)`);

  const tensors: Record<string, Float32Array> = {};
  let shape: number[] = [];
  let first = '';
  for (const name of names) {
    const entry = found.get(name);
    if (entry === undefined) fail(`missing tensor 'state.${i}.${name}'`);
    const [key, tensor] = entry;
    if (first === '') {
      [shape, first] = [tensor.shape, key];
      if (size !== undefined && elementCount(shape) !== size) {
        fail(`'${key}' has shape [${shape}] (${elementCount(shape)} elements), parameter ${i} has ${size}`);
      }
    } else if (!sameValue(tensor.shape, shape)) {
      fail(`'${key}' has shape [${tensor.shape}], but '${first}' has [${shape}]`);
    }
    tensors[name] = readFloat32(tensor, key);
  }
  return { tensors, shape };
}

/**
 * The expectations of readCheckpoint / loadCheckpoint, checked: an object (undefined values mean "no
 * expectation"), known keys only, `amsgrad` a boolean.
 */
function checkExpect<O extends object>(expect: unknown): CheckpointExpect<O> {
  let given: CheckpointExpect<O>;
  try {
    given = definedOptions<CheckpointExpect<O>>(expect, 'the expectations (second argument)');
    rejectUnknownKeys(given, ['spec', 'sizes', 'amsgrad'], 'loadCheckpoint');
  } catch (e) {
    return fail((e as Error).message);
  }
  if (given.amsgrad !== undefined && typeof given.amsgrad !== 'boolean') {
    fail(`expect.amsgrad must be a boolean, got ${describeValue(given.amsgrad)}`);
  }
  if (
    given.spec !== undefined &&
    (typeof given.spec !== 'object' || given.spec === null || typeof given.spec.resolve !== 'function')
  ) {
    fail(`expect.spec must be a CheckpointSpec (e.g. adamCheckpoint), got ${describeValue(given.spec)}`);
  }
  return given;
}

/**
 * Parses and checks a checkpoint: the file's format, its optimizer, options and param groups, and every
 * parameter's tensors (names, F32, one shape each, `expect.sizes`) and step. Throws a message naming
 * what is wrong; nothing is returned in part.
 */
export function readCheckpoint<O extends object = AdaBeliefOptions>(
  bytes: Uint8Array,
  expectOptions?: CheckpointExpect<O>,
): CheckpointContents<O> {
  const expect = checkExpect<O>(expectOptions);
  const spec = expect.spec ?? (adabeliefCheckpoint as unknown as CheckpointSpec<O>);
  const { sizes } = expect;
  if (
    sizes !== undefined &&
    !(Array.isArray(sizes) && sizes.every((s) => Number.isSafeInteger(s) && s >= 0))
  ) {
    fail(`expect.sizes must be a list of element counts, got ${describeValue(sizes)}`);
  }
  const file = decodeSafetensors(bytes);
  const { metadata } = file;

  if (metadata.optimizer !== spec.name) {
    fail(
      metadata.optimizer === undefined
        ? `metadata 'optimizer' is missing (not a file written by saveCheckpoint?)`
        : `the file holds the state of optimizer '${metadata.optimizer}', expected '${spec.name}'`,
    );
  }
  const stepText = metadata.step ?? '';
  if (!/^(0|[1-9][0-9]*)$/.test(stepText) || !Number.isSafeInteger(Number(stepText))) {
    fail(`metadata 'step' must be a non-negative integer, got ${JSON.stringify(metadata.step)}`);
  }
  const step = Number(stepText);
  const options = readOptions(spec, metadata);
  const amsgrad = (options as { amsgrad?: unknown }).amsgrad;
  if (expect.amsgrad !== undefined && amsgrad !== expect.amsgrad) {
    fail(`the file has amsgrad=${amsgrad}, the optimizer has amsgrad=${expect.amsgrad}`);
  }
  const groups = readGroups(spec, metadata);

  const byParam = new Map<number, Map<string, [string, DecodedTensor]>>();
  for (const [key, tensor] of file.tensors) {
    const match = STATE_TENSOR.exec(key);
    if (match === null) fail(`unexpected tensor '${key}' (a checkpoint holds only state.<i>.<name>)`);
    const i = Number(match[1]);
    if (!byParam.has(i)) byParam.set(i, new Map());
    byParam.get(i)!.set(match[2]!, [key, tensor]);
  }
  // A loop, not Math.max(...keys): a header may list hundreds of thousands of tensors.
  let highest = -1;
  for (const i of byParam.keys()) if (i > highest) highest = i;
  const n = sizes?.length ?? highest + 1;
  const count = sizes === undefined ? `the file has state for ${n}` : `the optimizer has ${n}`;
  for (const i of byParam.keys()) {
    if (i >= n) fail(`the file has state for parameter ${i}, but the optimizer has ${n} parameters`);
  }
  const groupOf = new Map<number, number>();
  groups.forEach((g, index) => {
    for (const i of g.params) {
      if (i >= n) fail(`param_groups[${index}] lists parameter ${i}, but ${count} parameters`);
      if (groupOf.has(i)) fail(`parameter ${i} is in param_groups[${groupOf.get(i)}] and [${index}]`);
      groupOf.set(i, index);
    }
  });

  const names = spec.slots(options).map((s) => s.name);
  const tensors: Record<string, Float32Array>[] = [];
  const shapes: number[][] = [];
  for (let i = 0; i < n; i++) {
    const found = byParam.get(i);
    if (found === undefined) fail(`the file has no state for parameter ${i} (no state.${i}.* tensors)`);
    if (!groupOf.has(i)) fail(`parameter ${i} is in no param group`);
    const param = readParameter(i, found, names, step, sizes?.[i], spec.name);
    tensors.push(param.tensors);
    shapes.push(param.shape);
  }

  const groupOverrides = groups.map((g, index) => {
    const differing: Record<string, unknown> = {};
    for (const key of spec.groupKeys) {
      if (!sameValue(g.values[key], options[key])) differing[key] = g.values[key];
    }
    within(`param_groups[${index}]`, () => {
      spec.validateOverrides(differing as Partial<O>, `param_groups[${index}]`);
      spec.resolve({ ...options, ...differing });
    });
    return differing as Partial<O>;
  });
  const extra = Object.fromEntries(Object.entries(metadata).filter(([k]) => !RESERVED_METADATA.includes(k)));
  return {
    state: { step, options, tensors },
    overrides: tensors.map((_, i) => ({ ...groupOverrides[groupOf.get(i)!] })),
    shapes,
    metadata: extra,
  };
}

/**
 * The optimizer state in a checkpoint, for `opt.importState(...)` (which checks it again and changes
 * nothing on error). Every parameter must have the same hyperparameters, which become `options`: for a
 * file whose param groups differ, use `readCheckpoint` and its per-parameter `overrides`.
 */
export function loadCheckpoint(
  bytes: Uint8Array,
  expect?: CheckpointExpect<AdaBeliefOptions>,
): AdaBeliefState;
export function loadCheckpoint<O extends object>(
  bytes: Uint8Array,
  expect: CheckpointExpect<O> & { spec: CheckpointSpec<O> },
): LoadedState<O>;
export function loadCheckpoint<O extends object>(
  bytes: Uint8Array,
  expectOptions?: CheckpointExpect<O>,
): LoadedState<O> | AdaBeliefState {
  const expect = checkExpect<O>(expectOptions);
  const spec = expect.spec ?? (adabeliefCheckpoint as unknown as CheckpointSpec<O>);
  const { state, overrides } = readCheckpoint(bytes, expect);
  const entries = overrides.map((o) => Object.entries(o));
  const differs = entries.findIndex((e) => !sameValue(e, entries[0]));
  if (differs >= 0) {
    fail(
      `parameters 0 and ${differs} have different hyperparameters (${JSON.stringify(overrides[0])} vs ${JSON.stringify(overrides[differs])}): use readCheckpoint() and its per-parameter overrides`,
    );
  }
  return { ...state, options: spec.resolve({ ...state.options, ...overrides[0] }) };
}
