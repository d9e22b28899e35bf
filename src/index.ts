/**
 * adabelief-webgpu — a fused AdaBelief optimizer step for WebGPU storage buffers, with its CPU references.
 *
 * The public API: what a user needs to train with the optimizers, check them against the CPU, save and load
 * checkpoints. test/unit/exports.test.ts pins this list. The machinery (rules, step scalars, layout planning,
 * safetensors) is in `./internal.ts` (`adabelief-webgpu/internal`), which may change in any release.
 */

// The GPU optimizers and what they take.
export { AdaBelief } from './gpu/adabelief.js';
export type { AdaBeliefGPUOptions, DispatchOptions } from './gpu/adabelief.js';
export { Adam, AdamW, SGD } from './gpu/variants.js';
export type { AdamGPUOptions, SGDGPUOptions } from './gpu/variants.js';
export type { FusedOptimizer, GPUExtras } from './gpu/fused-optimizer.js';
export type { ParamEntry } from './gpu/entries.js';
export type { BufferRef, BufferLike } from './gpu/device.js';
export { isFallbackDevice } from './gpu/device.js';
export { ParamArena } from './gpu/arena.js';
export type { ArenaTensor, ArenaOptions, ArenaView } from './gpu/arena.js';

// The guard (loss scaling, skipping non-finite steps, clipping) and the loss scaler driving it.
export { GradScaler } from './gpu/grad-scaler.js';
export type { GradScalerOptions, LossScaledOptimizer } from './gpu/grad-scaler.js';
export type { GuardOptions, GuardReport } from './core/guard.js';

// The CPU optimizers: the references the GPU is tested against, the fast single-thread one, and WebAssembly
// SIMD on every core.
export { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU } from './cpu/reference.js';
export { AdaBeliefFastCPU } from './cpu/fast.js';
export { AdaBeliefWasmCPU, AdamWasmCPU, AdamWWasmCPU, SGDWasmCPU } from './cpu/wasm-optimizer.js';
export type { ThreadOptions } from './cpu/wasm-optimizer.js';
export type { CPUGuard, CPUGuardResult, CPUParamEntry, FloatArray } from './cpu/cpu-optimizer.js';

// Options, defaults and presets.
export { DEFAULTS, presets } from './core/options.js';
export type { AdaBeliefOptions, GroupOverrides, Semantics } from './core/options.js';
export { ADAM_DEFAULTS, ADAMW_DEFAULTS, SGD_DEFAULTS } from './core/torch-options.js';
export type { AdamOptions, SGDOptions } from './core/torch-options.js';
export type { AdaBeliefState, TensorState, OptimizerState } from './core/state.js';

// Lower precision: f16 parameters, bf16 state, and the conversions (round to nearest even).
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
} from './core/precision.js';
export type { ParamDtype, StateDtype, PrecisionOptions, MasterWeightsState } from './core/precision.js';

// Checkpoints: safetensors files laid out like PyTorch's state_dict().
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
