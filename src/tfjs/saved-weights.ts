/**
 * The optimizer's weights in TF.js' convention (what `getWeights()` returns, `setWeights()` takes and
 * `model.save({ includeOptimizer: true })` stores): `iter` (applyGradients calls, int32) first, then for each
 * state tensor kind, one tensor per variable named `${variableName}/${suffix}`, then `${variableName}/step`
 * (that variable's own step count, int32). This file turns such a list back into per-variable records.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** One variable's saved state. */
export interface SavedVariableState {
  /** The variable's name when it was saved. */
  name: string;
  shape: number[];
  size: number;
  /** Its own step count; undefined when the list has no `/step` entry (then the optimizer's `iter`). */
  step: number | undefined;
  /** Keyed by weight-name suffix. */
  tensors: Map<string, Float32Array>;
}

/**
 * Groups `weights` (without the leading `iter`) by variable, in the order the variables first appear.
 * Every variable must have exactly the tensors named by `suffixes`; all of one variable's tensors must have
 * the same size. Throws a message naming the offending weight otherwise.
 */
export async function parseSavedWeights(
  weights: NamedTensor[],
  suffixes: readonly string[],
  who: string,
): Promise<SavedVariableState[]> {
  const byName = new Map<string, SavedVariableState>();
  for (const { name, tensor } of weights) {
    const cut = typeof name === 'string' ? name.lastIndexOf('/') : -1;
    const base = cut > 0 ? name.slice(0, cut) : '';
    const suffix = cut > 0 ? name.slice(cut + 1) : '';
    if (!base || !(suffix === 'step' || suffixes.includes(suffix))) {
      throw new Error(
        `${who}.setWeights: unexpected weight '${name}'; expected 'iter' first, then '<variable>/<kind>' with kind one of ${[...suffixes, 'step'].join(', ')}`,
      );
    }
    let record = byName.get(base);
    if (!record) {
      record = { name: base, shape: [], size: -1, step: undefined, tensors: new Map() };
      byName.set(base, record);
    }
    if (suffix === 'step') {
      record.step = Number((await tensor.data())[0]);
      if (!Number.isSafeInteger(record.step) || record.step < 0) {
        throw new RangeError(
          `${who}.setWeights: '${name}' must be a non-negative integer, got ${record.step}`,
        );
      }
      continue;
    }
    if (record.tensors.has(suffix)) throw new Error(`${who}.setWeights: weight '${name}' appears twice`);
    if (record.size >= 0 && tensor.size !== record.size) {
      throw new RangeError(
        `${who}.setWeights: '${name}' has ${tensor.size} elements, other state of '${base}' has ${record.size}`,
      );
    }
    record.size = tensor.size;
    record.shape = [...tensor.shape];
    record.tensors.set(suffix, Float32Array.from(await tensor.data()));
  }
  const records = [...byName.values()];
  for (const record of records) {
    const missing = suffixes.filter((s) => !record.tensors.has(s));
    if (missing.length) {
      throw new Error(
        `${who}.setWeights: variable '${record.name}' lacks ${missing.map((s) => `'${record.name}/${s}'`).join(', ')} (saved with other options, e.g. amsgrad?)`,
      );
    }
  }
  return records;
}
