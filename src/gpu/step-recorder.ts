/**
 * Recording one step into a command encoder (the optimizer's own for `step()`, the caller's for `encode()`): the
 * caller's loss scale, when it is a buffer, copied into the step record, then one compute pass — the step's
 * decision (`advance`, or the guard passes ending in `finalize`: shaders/step-decision.wgsl), the master-weight
 * initialisation when pending, the update dispatches. Nothing is written to the queue here: the scalars of every
 * step count the step may run at are already in the step record (step-record.ts), so a step recorded now may be
 * submitted whenever the caller likes.
 */
import { bindGroupEntries } from './abi.js';
import { replay, type Dispatch } from './dispatches.js';
import { inErrorScopes } from './device.js';
import { decisionPipelines } from './pipelines.js';
import type { Guard } from './guard.js';

/** What a step is recorded from. */
export interface StepParts {
  /** The guard (optimizers with guard options), whose passes decide the step; else `advance` decides it. */
  guard: Guard | undefined;
  /** `advance` (optimizers without guard options). */
  advance: Dispatch | undefined;
  /** Master-weight initialisation to run before the update (when pending), else undefined. */
  inits: readonly Dispatch[] | undefined;
  updates: readonly Dispatch[];
}

/** Records one step into `encoder`. */
export function recordStep(encoder: GPUCommandEncoder, label: string, s: StepParts): void {
  s.guard?.copyScale(encoder);
  const pass = encoder.beginComputePass({ label: `${label}/pass` });
  if (s.guard) s.guard.dispatch(pass);
  else replay(pass, [s.advance!]);
  if (s.inits) replay(pass, s.inits);
  replay(pass, s.updates);
  pass.end();
}

/** The `advance` dispatch over the step record `steps` (its bind group errors reject `errors`). */
export function advanceDispatch(
  device: GPUDevice,
  label: string,
  steps: GPUBuffer,
): { value: Dispatch; errors: Promise<void> } {
  return inErrorScopes(device, `${label}: step decision`, () => {
    const { pipeline, layout } = decisionPipelines(device).advance;
    const entries = bindGroupEntries(['advance'], { steps: { buffer: steps } });
    return {
      pipeline,
      bindGroup: device.createBindGroup({ label: `${label}/advance`, layout, entries }),
      workgroups: 1,
    };
  });
}
