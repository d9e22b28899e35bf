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
