/**
 * What the TF.js optimizers of this package share for serialization: turning `getConfig()`'s output (as
 * `model.save({ includeOptimizer: true })` stored it) back into constructor options.
 */
import type * as tf from '@tensorflow/tfjs-core';

/**
 * The keys of `defaults` found in `config` (TF.js adds keys of its own, e.g. customObjects: ignored). The
 * constructor validates the values.
 */
export function optionsFromConfig(
  defaults: object,
  config: tf.serialization.ConfigDict,
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const key of Object.keys(defaults)) if (key in config) options[key] = config[key];
  return options;
}
