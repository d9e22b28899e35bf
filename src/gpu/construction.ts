/**
 * Everything a GPU optimizer's constructor checks before it creates any GPU object: the device, the
 * parameter entries, the hyperparameters (the rule's), the precision, dispatch and guard options, the label.
 * Each message names the option and the value; a refused construction has allocated nothing.
 */
import { definedOptions, describeValue, isPlainObject, rejectUnknownKeys } from '../core/options.js';
import { checkGradScale, checkMaxGradNorm, type GuardOptions } from '../core/guard.js';
import { resolvePrecision, type Precision, type PrecisionOptions } from '../core/precision.js';
import type { Rule } from '../core/rules.js';
import { checkEntry, checkOverlaps, type ParamEntry, type Tensor } from './entries.js';
import { checkDevice, isFallbackDevice, toRef, Usage } from './device.js';
import { defaultWorkgroupSize } from './pipelines.js';

/** How the kernel is dispatched (a tuning knob; the defaults suit the adapter). */
export interface DispatchOptions {
  /** Invocations per workgroup: 64, 128 or 256. Default: 64 for f16 parameters without master weights, else 256. */
  workgroupSize?: number;
  /**
   * Workgroups per dispatch at most; each invocation then loops over vec4s (grid-stride). Default: 64 on a
   * CPU fallback adapter (SwiftShader is fastest with few, long-running workgroups), else 65535.
   */
  maxWorkgroups?: number;
}

/**
 * What every GPU optimizer takes besides its hyperparameters (guard options: see guard.ts; `stateDtype`
 * and `masterWeights`: see precision.ts).
 */
export interface GPUExtras extends GuardOptions, PrecisionOptions {
  dispatch?: DispatchOptions;
  /** Prefix of every GPU object's label. Default: the optimizer's name in lower case. */
  label?: string;
}

const EXTRA_KEYS = [
  'dispatch',
  'label',
  'skipNonFinite',
  'gradScale',
  'maxGradNorm',
  'stateDtype',
  'masterWeights',
] as const;

/** The guard options, checked: `enabled` when any was given. */
export interface GuardSettings {
  enabled: boolean;
  skipNonFinite: boolean;
  /** A number, or the caller's buffer region holding the scale (its first f32). */
  scale: number | { buffer: GPUBuffer; offset: number };
  maxGradNorm: number;
}

/** Everything the constructor needs, checked. */
export interface Construction<O extends object> {
  label: string;
  opts: O;
  precision: Precision;
  tensors: Tensor[];
  /** bf16 state or an f16 tensor: every window runs the packed entry points. */
  packed: boolean;
  workgroupSize: number;
  maxWorkgroups: number;
  guard: GuardSettings;
}

/** Checks the constructor's arguments; throws before any GPU object exists. */
export function checkConstruction<O extends object>(
  rule: Rule<O>,
  device: GPUDevice,
  params: ParamEntry[],
  options: unknown,
): Construction<O> {
  const name = rule.name;
  checkDevice(device, name);
  if (!Array.isArray(params))
    throw new TypeError(
      `${name}: expected an array of parameter entries ({ param, grad, size }), got ${describeValue(params)}`,
    );
  if (params.length === 0) throw new RangeError(`${name}: the parameter list is empty`);
  const given = definedOptions<O & GPUExtras>(options, `${name} options`);
  const { dispatch, label = name.toLowerCase(), skipNonFinite, gradScale, maxGradNorm } = given;
  const { stateDtype, masterWeights } = given;
  const hyper: Record<string, unknown> = { ...given };
  for (const key of EXTRA_KEYS) delete hyper[key];
  const opts = rule.resolve(hyper as Partial<O>);
  if (typeof label !== 'string') {
    throw new TypeError(`Option 'label' must be a string, got ${describeValue(label)}`);
  }
  // (precision.ts checks these too; here with the value described by its type: 'nan' vs NaN, '3' vs 3.)
  if (stateDtype !== undefined && stateDtype !== 'f32' && stateDtype !== 'bf16') {
    throw new RangeError(`Option 'stateDtype' must be 'f32' or 'bf16', got ${describeValue(stateDtype)}`);
  }
  if (masterWeights !== undefined && typeof masterWeights !== 'boolean') {
    throw new TypeError(`Option 'masterWeights' must be a boolean, got ${describeValue(masterWeights)}`);
  }
  const precision = resolvePrecision({ stateDtype, masterWeights });
  const { workgroupSize, maxWorkgroups } = checkDispatch(device, dispatch);
  const guard = checkGuard({ skipNonFinite, gradScale, maxGradNorm });
  if (device.limits.maxStorageBuffersPerShaderStage < 8) {
    throw new RangeError(
      `${name} needs 8 storage buffers per shader stage; the device allows ${device.limits.maxStorageBuffersPerShaderStage}`,
    );
  }
  const tensors = params.map((entry, i) => checkEntry(entry, i, rule.validateOverrides));
  checkOverlaps(tensors);
  const packed = precision.stateDtype === 'bf16' || tensors.some((t) => t.dtype === 'f16');
  const f16 = tensors.some((t) => t.dtype === 'f16');
  return {
    label,
    opts,
    precision,
    tensors,
    packed,
    workgroupSize: workgroupSize ?? defaultWorkgroupSize({ f16, master: f16 && precision.masterWeights }),
    maxWorkgroups,
    guard,
  };
}

/** The dispatch options, checked (unknown keys refused); undefined values mean the defaults. */
function checkDispatch(
  device: GPUDevice,
  dispatch: unknown,
): { workgroupSize: number | undefined; maxWorkgroups: number } {
  const d = definedOptions<DispatchOptions>(dispatch, "Option 'dispatch'");
  rejectUnknownKeys(d, ['workgroupSize', 'maxWorkgroups'], 'dispatch');
  // Undefined: the mode's default (pipelines.ts defaultWorkgroupSize).
  const workgroupSize = d.workgroupSize;
  if (workgroupSize !== undefined && ![64, 128, 256].includes(workgroupSize)) {
    throw new RangeError(
      `dispatch.workgroupSize must be 64, 128 or 256, got ${describeValue(workgroupSize)}`,
    );
  }
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  const maxWorkgroups = d.maxWorkgroups ?? (isFallbackDevice(device) ? 64 : limit);
  if (!Number.isSafeInteger(maxWorkgroups) || maxWorkgroups < 1 || maxWorkgroups > limit) {
    throw new RangeError(
      `dispatch.maxWorkgroups must be an integer in [1, ${limit}], got ${describeValue(maxWorkgroups)}`,
    );
  }
  return { workgroupSize, maxWorkgroups };
}

/** The guard options, checked. A gradScale buffer must allow COPY_SRC and hold an f32 at its offset. */
export function checkGuard(o: GuardOptions): GuardSettings {
  const { skipNonFinite, gradScale, maxGradNorm } = o;
  const enabled = skipNonFinite !== undefined || gradScale !== undefined || maxGradNorm !== undefined;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') {
    throw new TypeError(`Option 'skipNonFinite' must be a boolean, got ${describeValue(skipNonFinite)}`);
  }
  let scale: GuardSettings['scale'] = 1;
  if (typeof gradScale === 'number') {
    checkGradScale(gradScale);
    scale = gradScale;
  } else if (gradScale !== undefined) {
    const isBuffer = (b: unknown): b is GPUBuffer =>
      !!b &&
      typeof b === 'object' &&
      typeof (b as GPUBuffer).usage === 'number' &&
      typeof (b as GPUBuffer).size === 'number';
    const region =
      isBuffer(gradScale) || (isPlainObject(gradScale) && isBuffer(gradScale.buffer))
        ? toRef(gradScale)
        : undefined;
    if (!region) {
      throw new TypeError(
        `Option 'gradScale' must be a finite number > 0, a GPUBuffer or { buffer, offset }, got ${describeValue(gradScale)}`,
      );
    }
    if ((region.buffer.usage & Usage.COPY_SRC) === 0) {
      throw new TypeError(
        `Option 'gradScale': buffer '${region.buffer.label}' lacks GPUBufferUsage.COPY_SRC (usage ${region.buffer.usage})`,
      );
    }
    if (
      !Number.isSafeInteger(region.offset) ||
      region.offset < 0 ||
      region.offset % 4 !== 0 ||
      region.offset + 4 > region.buffer.size
    ) {
      throw new RangeError(
        `Option 'gradScale': offset ${describeValue(region.offset)} must be a multiple of 4 with 4 bytes after it in '${region.buffer.label}' (${region.buffer.size} bytes)`,
      );
    }
    scale = region;
  }
  if (maxGradNorm !== undefined) checkMaxGradNorm(maxGradNorm);
  return {
    enabled,
    skipNonFinite: skipNonFinite ?? gradScale !== undefined,
    scale,
    maxGradNorm: maxGradNorm ?? Infinity,
  };
}
