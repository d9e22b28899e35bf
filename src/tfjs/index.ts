/**
 * adabelief-webgpu/tfjs — the fused optimizers (AdaBelief, Adam, AdamW, SGD) as TensorFlow.js optimizers (peer dependency:
 * @tensorflow/tfjs-core, and @tensorflow/tfjs-backend-webgpu for the in-place GPU step).
 *
 *   import { AdaBeliefOptimizer } from 'adabelief-webgpu/tfjs';
 *   model.compile({ optimizer: new AdaBeliefOptimizer({ lr: 1e-3 }), loss: 'meanSquaredError' });
 */
export { AdaBeliefOptimizer } from './adabelief.js';
export type { AdaBeliefOptimizerOptions } from './adabelief.js';
export { AdamOptimizer, AdamWOptimizer } from './adam.js';
export type { AdamOptimizerOptions } from './adam.js';
export { SGDOptimizer } from './sgd.js';
export type { SGDOptimizerOptions } from './sgd.js';
export { FusedTfjsOptimizer } from './tfjs-optimizer.js';
export type { AdapterOptions } from './base.js';
export type { ParamGroup, VariableMatch } from './groups.js';
export type { TfjsGuardOptions } from './guard.js';
export type {
  FusedFamily,
  FusedGpuOptimizer,
  FusedCpuOptimizer,
  FusedState,
  GpuVariableEntry,
  ResolvedGuard,
  StateTensorName,
} from './family.js';
export { TESTED_TFJS_RANGE } from './versions.js';
