/**
 * exportState() and importState() of a GPU optimizer: what is read back (every kept moment, the master copies,
 * the step count) and what an import checks and queues. An import is checked completely before anything changes;
 * an export copies the step count and the state in one command buffer, queued by the call itself, so it returns
 * one step's state whatever is called after it; an import writes the count and the state in queue order too.
 */
import { checkImportedState, type FloatArray, type OptimizerState } from '../core/state.js';
import type { MasterWeightsState } from '../core/precision.js';
import type { Rule } from '../core/rules.js';
import { inErrorScopes } from './device.js';
import { describeValue } from '../core/options.js';
import type { Layout } from './layout.js';
import type { StateStore } from './state-store.js';
import type { Tensor } from './entries.js';
import type { StepRecord } from './step-record.js';

/** What an export or import works on. */
export interface StateHolder<O extends object> {
  device: GPUDevice;
  label: string;
  rule: Rule<O>;
  store: StateStore;
  layout: Layout;
  tensors: readonly Tensor[];
  steps: StepRecord;
}

/** Reads the state back (see FusedOptimizer.exportState); `masters`: read the master copies. */
export async function readState<O extends object>(
  h: StateHolder<O>,
  options: O,
  masters: boolean,
): Promise<OptimizerState<O> & MasterWeightsState> {
  const plan = h.store.exportPlan(h.layout, [...h.tensors], masters);
  const { steps, bytes } = await h.steps.readWith(
    [...plan.regions],
    `${h.label}/exportState`,
    `${h.rule.name}.exportState`,
  );
  return { step: steps.count, options, ...plan.decode(bytes) };
}

/**
 * Checks `state` for `h` (throws, changing nothing) and returns the options to use and a function that
 * queues the writes; the caller commits its own fields after calling it.
 */
export function checkState<O extends object>(
  h: StateHolder<O>,
  state: OptimizerState<O, FloatArray> & MasterWeightsState,
  current: O,
): { options: O; masters: (Float32Array | undefined)[] | undefined; write: () => Promise<void> } {
  const options = checkImportedState(
    h.rule,
    state,
    current,
    h.tensors.map((t) => t.size),
  );
  const masters = h.store.checkMasterParams(h.tensors, state.masterParams);
  const write = () =>
    inErrorScopes(h.device, `${h.label}: importState`, () => {
      h.store.upload(h.device, h.layout, state.tensors, masters);
      h.steps.setCount(state.step);
    }).errors;
  return { options, masters, write };
}

/**
 * Records into `encoder` the copy of `from`'s step count and of its tensors `map[k][0]`'s state into `to`'s tensors
 * `map[k][1]` (FusedOptimizer.copyStateFrom; both checked to be of one rule and device). f32 state only.
 */
export function copyState<O extends object>(
  encoder: GPUCommandEncoder,
  from: StateHolder<O>,
  to: StateHolder<O>,
  map: readonly (readonly [number, number])[],
): void {
  const name = `${to.rule.name}.copyStateFrom`;
  if (to.store.packed || from.store.packed || from.store.slots.length !== to.store.slots.length) {
    throw new Error(`${name}: both optimizers need f32 state and the same state buffers (amsgrad alike)`);
  }
  for (const [a, b] of map) {
    const x = from.tensors[a];
    const y = to.tensors[b];
    if (!x || !y || x.size !== y.size) {
      throw new RangeError(
        `${name}: cannot map source tensor ${describeValue(a)} to tensor ${describeValue(b)} (sizes ${x?.size} and ${y?.size})`,
      );
    }
  }
  for (const [a, b] of map) {
    to.store.copyTensorState(
      encoder,
      { store: from.store, layout: from.layout, tensor: a },
      { layout: to.layout, tensor: b },
    );
  }
  to.steps.copyCount(encoder, from.steps);
}
