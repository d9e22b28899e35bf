/**
 * What the TF.js optimizers of this package share for serialization: the options written with TF.js' own
 * config keys (`getConfig()`), and read back from them (`fromConfig()`, as `model.save({ includeOptimizer:
 * true })` stored them).
 *
 * TF.js' optimizers name their hyperparameters `learningRate`, `beta1`, `beta2`, `epsilon` (tf.train.adam's
 * getConfig) and `useNesterov` (tf.train.momentum's); this package's options are torch.optim's (`lr`, `betas`,
 * `eps`, `nesterov`). getConfig() writes TF.js' names (and the options TF.js has no name for, e.g.
 * `weightDecay`, `amsgrad`, under their own); fromConfig() reads TF.js' names and, for configs saved by
 * earlier versions of this package, the option names too.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Option name → TF.js config key, where they differ (`betas` is split into `beta1` and `beta2`). */
const TFJS_KEYS: Readonly<Record<string, string>> = Object.freeze({
  lr: 'learningRate',
  eps: 'epsilon',
  nesterov: 'useNesterov',
});

/** TF.js config keys the constructors do not take, with the option to use instead. */
export const TFJS_KEY_HINTS: Readonly<Record<string, string>> = Object.freeze({
  learningRate: "'lr'",
  beta1: "'betas: [beta1, beta2]'",
  beta2: "'betas: [beta1, beta2]'",
  epsilon: "'eps'",
  useNesterov: "'nesterov'",
});

/** `options` under TF.js' config keys: `lr` → `learningRate`, `betas` → `beta1` + `beta2`, `eps` → `epsilon`, … */
export function configFromOptions(options: object): tf.serialization.ConfigDict {
  const config: tf.serialization.ConfigDict = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'betas') {
      const [beta1, beta2] = value as readonly [number, number];
      config.beta1 = beta1;
      config.beta2 = beta2;
    } else {
      config[TFJS_KEYS[key] ?? key] = value as tf.serialization.ConfigDictValue;
    }
  }
  return config;
}

/** A value for messages: numbers as JavaScript prints them (`NaN`, `-Infinity`), strings quoted, the rest as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The constructor options that `config` holds for an optimizer whose options are the keys of `defaults`:
 * TF.js' keys (`learningRate`, `beta1`, `beta2`, `epsilon`, `useNesterov`) and the option names (`lr`,
 * `betas`, `eps`, `nesterov`: configs saved by earlier versions). Keys of neither kind are ignored, as TF.js'
 * own optimizers do (TF.js adds `customObjects`). Throws, naming the key and the value, when a key is null
 * or undefined, or when both names of one option are given with different values; the constructor
 * validates the values.
 */
export function optionsFromConfig(
  who: string,
  defaults: object,
  config: tf.serialization.ConfigDict,
): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TypeError(`${who}: the config must be an object, got ${show(config)}`);
  }
  const read = (key: string): unknown => {
    if (!Object.hasOwn(config, key)) return undefined;
    const value = config[key];
    if (value === null || value === undefined) {
      throw new TypeError(
        `${who}: config key '${key}' is ${String(value)}; give a value or leave the key out`,
      );
    }
    return value;
  };
  const options: Record<string, unknown> = {};
  for (const key of Object.keys(defaults)) {
    if (key === 'betas') {
      const beta1 = read('beta1');
      const beta2 = read('beta2');
      const betas = read('betas');
      if (betas !== undefined && (beta1 !== undefined || beta2 !== undefined)) {
        const [b1, b2] = Array.isArray(betas) ? (betas as unknown[]) : [];
        if ((beta1 !== undefined && beta1 !== b1) || (beta2 !== undefined && beta2 !== b2)) {
          throw new RangeError(
            `${who}: config keys 'betas' (${show(betas)}) and 'beta1'/'beta2' (${show(beta1)}, ${show(beta2)}) disagree`,
          );
        }
      }
      if (betas !== undefined) options.betas = betas;
      else if (beta1 !== undefined || beta2 !== undefined) {
        const [d1, d2] = (defaults as { betas: readonly [number, number] }).betas;
        options.betas = [beta1 ?? d1, beta2 ?? d2];
      }
      continue;
    }
    const tfjsKey = TFJS_KEYS[key];
    const fromTfjs = tfjsKey === undefined ? undefined : read(tfjsKey);
    const fromOption = read(key);
    if (fromTfjs !== undefined && fromOption !== undefined && !Object.is(fromTfjs, fromOption)) {
      throw new RangeError(
        `${who}: config keys '${tfjsKey}' (${show(fromTfjs)}) and '${key}' (${show(fromOption)}) disagree`,
      );
    }
    const value = fromTfjs ?? fromOption;
    if (value !== undefined) options[key] = value;
  }
  return options;
}
