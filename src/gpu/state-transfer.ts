/**
 * exportState() and importState() of a GPU optimizer: what is read back (every kept moment, the master
 * copies, the guard's step counter) and what an import checks and queues. An import is checked completely
 * before anything changes; an export reads the step count together with the state it belongs to.
 */
import { checkImportedState, type FloatArray, type OptimizerState } from '../core/state.js';
import type { MasterWeightsState } from '../core/precision.js';
import type { Rule } from '../core/rules.js';
import { CONTROL_BYTES, readControl } from './records.js';
import { inErrorScopes, readBuffers } from './device.js';
import type { Layout } from './layout.js';
import type { StateStore } from './state-store.js';
import type { Tensor } from './entries.js';
import type { StepCounter } from './step-count.js';

/** What an export or import works on. */
export interface StateHolder<O extends object> {
  device: GPUDevice;
  label: string;
  rule: Rule<O>;
  store: StateStore;
  layout: Layout;
  tensors: readonly Tensor[];
  counter: StepCounter;
  /** The guard's `Control` buffer (guarded optimizers: its counter is read with the state). */
  control: GPUBuffer | undefined;
}

/** Reads the state back (see FusedOptimizer.exportState); `masters`: read the master copies. */
export async function readState<O extends object>(
  h: StateHolder<O>,
  options: O,
  masters: boolean,
): Promise<OptimizerState<O> & MasterWeightsState> {
  const plan = h.store.exportPlan(h.layout, [...h.tensors], masters);
  const seq = h.counter.tracker.latest;
  const origin = h.counter.tracker.origin;
  const regions = [...plan.regions];
  if (h.control) regions.push({ buffer: h.control, offset: 0, bytes: CONTROL_BYTES });
  const bytes = await readBuffers(h.device, regions, `${h.label}/exportState`);
  if (!h.control) return { step: h.counter.count, options, ...plan.decode(bytes) };
  // The GPU's own counter, read after the same work as the state: the exact count of this state.
  const applied = readControl(bytes.pop()!).applied;
  h.counter.tracker.confirm(seq, applied);
  return { step: origin + applied, options, ...plan.decode(bytes) };
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
  const write = () => {
    const { errors } = inErrorScopes(h.device, `${h.label}: importState`, () =>
      h.store.upload(h.device, h.layout, state.tensors, masters),
    );
    return Promise.all([errors, h.counter.reset(state.step)]).then(() => undefined);
  };
  return { options, masters, write };
}
