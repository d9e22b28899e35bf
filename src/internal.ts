/**
 * adabelief-webgpu/internal — the public API (./index.ts) plus the machinery the benchmark, the demo, the TF.js
 * adapter and the tests build on: update rules, f64 step scalars, layout planning, safetensors, the f32 step
 * functions. Not a stable API: anything here may change in any release. test/unit/exports.test.ts pins the list.
 */
export * from './index.js';

// Options: resolution and validation (the constructors call these).
export { ADABELIEF_SETTABLE_OPTIONS } from './core/option-accessors.js';
export { FusedOptimizer } from './gpu/fused-optimizer.js';
export { resolveOptions, validateHyper } from './core/options.js';
export { adamScalars, sgdScalars } from './core/torch-options.js';

// The update rules and the f64 scalars of one step.
export { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule } from './core/rules.js';
export type { Rule, Slot, Overrides } from './core/rules.js';
export { stepScalars, rectifyRho, Update, Amsgrad } from './core/step-scalars.js';
export type { StepScalars, HyperInputs } from './core/step-scalars.js';
export { stateBytesPerElement } from './core/precision.js';

// The CPU step functions and the generic CPU reference.
export { ReferenceCPU, adabeliefStep } from './cpu/reference.js';
export { adabeliefStepFast } from './cpu/fast.js';
export type { SlotState } from './cpu/cpu-optimizer.js';

// Layout planning: how tensors become windows, pieces and the kernel's table.
export {
  planLayout,
  maxChunkElements,
  workgroupsFor,
  encodeWindowTable,
  BINDING_ALIGNMENT,
} from './gpu/layout.js';
export type { Layout, Piece, Window, TensorPlacement, LayoutLimits } from './gpu/layout.js';

// safetensors, below the checkpoints.
export {
  encodeSafetensors,
  decodeSafetensors,
  readFloat32,
  readNumbers,
  MAX_HEADER_BYTES,
} from './io/safetensors.js';
export type { Dtype, SafetensorsTensor, DecodedTensor, SafetensorsFile } from './io/safetensors.js';
