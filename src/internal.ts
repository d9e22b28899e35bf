/**
 * adabelief-webgpu/internal — the public API (./index.ts) plus the machinery the benchmark, the demo, the TF.js
 * adapter and the tests build on: update rules, f64 step scalars, layout planning, safetensors, the f32 step
 * functions. Not a stable API: anything here may change in any release.
 */
export * from './index.js';
export { AdaBelief, ADABELIEF_SETTABLE_OPTIONS } from './gpu/adabelief.js';
export { Adam, AdamW, SGD } from './gpu/variants.js';
export type { AdamGPUOptions, SGDGPUOptions } from './gpu/variants.js';
export { FusedOptimizer } from './gpu/fused-optimizer.js';
export { GradScaler } from './gpu/grad-scaler.js';
export type { GradScalerOptions, LossScaledOptimizer } from './gpu/grad-scaler.js';
export type { GuardOptions, GuardReport } from './core/guard.js';
export type { CPUGuard, CPUGuardResult } from './cpu/cpu-optimizer.js';
export type { GPUExtras } from './gpu/fused-optimizer.js';
export { ParamArena } from './gpu/arena.js';
export type { ArenaTensor, ArenaOptions, ArenaView } from './gpu/arena.js';
export type { AdaBeliefGPUOptions, DispatchOptions } from './gpu/adabelief.js';
export type { ParamEntry } from './gpu/entries.js';
export { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU, ReferenceCPU, adabeliefStep } from './cpu/reference.js';
export { AdaBeliefFastCPU, adabeliefStepFast } from './cpu/fast.js';
export type { CPUParamEntry, FloatArray, SlotState } from './cpu/cpu-optimizer.js';
export {
  ADAM_DEFAULTS,
  ADAMW_DEFAULTS,
  SGD_DEFAULTS,
  adamScalars,
  sgdScalars,
} from './core/torch-options.js';
export type { AdamOptions, SGDOptions } from './core/torch-options.js';
export { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule } from './core/rules.js';
export type { Rule, Slot, Overrides } from './core/rules.js';
export { DEFAULTS, presets, resolveOptions, validateHyper } from './core/options.js';
export type { AdaBeliefOptions, GroupOverrides, Semantics } from './core/options.js';
export { stepScalars, rectifyRho, Update, Amsgrad } from './core/step-scalars.js';
export type { StepScalars, HyperInputs } from './core/step-scalars.js';
export {
  planLayout,
  maxChunkElements,
  workgroupsFor,
  encodeWindowTable,
  BINDING_ALIGNMENT,
} from './gpu/layout.js';
export type { Layout, Piece, Window, TensorPlacement, LayoutLimits } from './gpu/layout.js';
export type { AdaBeliefState, TensorState, OptimizerState } from './core/state.js';
export type { BufferRef, BufferLike } from './gpu/device.js';
export {
  f16Bits,
  f16Value,
  roundF16,
  bf16Bits,
  bf16Value,
  roundBf16,
  toF16Array,
  fromF16Array,
  toBf16Array,
  fromBf16Array,
  stateBytesPerElement,
} from './core/precision.js';
export type { ParamDtype, StateDtype, PrecisionOptions, MasterWeightsState } from './core/precision.js';
export { isFallbackDevice } from './gpu/device.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  adabeliefCheckpoint,
  adamCheckpoint,
  adamwCheckpoint,
  sgdCheckpoint,
} from './io/checkpoint.js';
export type {
  CheckpointSpec,
  CheckpointState,
  CheckpointExpect,
  CheckpointContents,
  SaveCheckpointInfo,
  LoadedState,
} from './io/checkpoint.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  readFloat32,
  readNumbers,
  MAX_HEADER_BYTES,
} from './io/safetensors.js';
export type { Dtype, SafetensorsTensor, DecodedTensor, SafetensorsFile } from './io/safetensors.js';
