/**
 * adabelief-webgpu — a fused AdaBelief optimizer step for WebGPU storage buffers, with its CPU reference.
 */
export { AdaBelief, ADABELIEF_SETTABLE_OPTIONS } from './optimizer.js';
export { Adam, AdamW, SGD } from './variants.js';
export type { AdamGPUOptions, SGDGPUOptions } from './variants.js';
export { FusedOptimizer } from './fused-optimizer.js';
export { GradScaler } from './grad-scaler.js';
export type { GradScalerOptions, LossScaledOptimizer } from './grad-scaler.js';
export type { GuardOptions, GuardReport } from './guard.js';
export type { CPUGuard, CPUGuardResult } from './cpu-optimizer.js';
export type { GPUExtras } from './fused-optimizer.js';
export { ParamArena } from './arena.js';
export type { ArenaTensor, ArenaOptions, ArenaView } from './arena.js';
export type { AdaBeliefGPUOptions, DispatchOptions } from './optimizer.js';
export type { ParamEntry } from './entries.js';
export { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU, ReferenceCPU, adabeliefStep } from './reference.js';
export { AdaBeliefFastCPU, adabeliefStepFast } from './fast.js';
export type { CPUParamEntry, FloatArray, SlotState } from './cpu-optimizer.js';
export { ADAM_DEFAULTS, ADAMW_DEFAULTS, SGD_DEFAULTS, adamScalars, sgdScalars } from './torch-options.js';
export type { AdamOptions, SGDOptions } from './torch-options.js';
export { adabeliefRule, adamRuleTorch, adamwRuleTorch, sgdRule } from './rules.js';
export type { Rule, Slot, Overrides } from './rules.js';
export { DEFAULTS, presets, resolveOptions, validateHyper } from './options.js';
export type { AdaBeliefOptions, GroupOverrides, Semantics } from './options.js';
export { stepScalars, rectifyRho, Update, Amsgrad } from './hyper.js';
export type { StepScalars, HyperInputs } from './hyper.js';
export {
  planLayout,
  maxChunkElements,
  workgroupsFor,
  encodeWindowTable,
  BINDING_ALIGNMENT,
} from './layout.js';
export type { Layout, Piece, Window, TensorPlacement, LayoutLimits } from './layout.js';
export type { AdaBeliefState, TensorState, OptimizerState } from './state.js';
export type { BufferRef, BufferLike } from './gpu.js';
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
} from './precision.js';
export type { ParamDtype, StateDtype, PrecisionOptions, MasterWeightsState } from './precision.js';
export { isFallbackDevice } from './gpu.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  adabeliefCheckpoint,
  adamCheckpoint,
  adamwCheckpoint,
  sgdCheckpoint,
} from './checkpoint.js';
export type {
  CheckpointSpec,
  CheckpointState,
  CheckpointExpect,
  CheckpointContents,
  SaveCheckpointInfo,
  LoadedState,
} from './checkpoint.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  readFloat32,
  readNumbers,
  MAX_HEADER_BYTES,
} from './safetensors.js';
export type { Dtype, SafetensorsTensor, DecodedTensor, SafetensorsFile } from './safetensors.js';
