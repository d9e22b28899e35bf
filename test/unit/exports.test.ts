/**
 * The export list of every entry point, pinned: a name added or removed is an API change and must show up in
 * review (update the list here, and README.md / docs/api.md where the name is documented).
 */
import { expect, test } from 'vitest';

const PUBLIC = [
  'ADAMW_DEFAULTS',
  'ADAM_DEFAULTS',
  'AdaBelief',
  'AdaBeliefCPU',
  'AdaBeliefFastCPU',
  'AdaBeliefWasmCPU',
  'Adam',
  'AdamCPU',
  'AdamW',
  'AdamWCPU',
  'AdamWWasmCPU',
  'AdamWasmCPU',
  'DEFAULTS',
  'GradScaler',
  'ParamArena',
  'SGD',
  'SGDCPU',
  'SGDWasmCPU',
  'SGD_DEFAULTS',
  'adabeliefCheckpoint',
  'adamCheckpoint',
  'adamwCheckpoint',
  'bf16Bits',
  'bf16Value',
  'f16Bits',
  'f16Value',
  'fromBf16Array',
  'fromF16Array',
  'isFallbackDevice',
  'loadCheckpoint',
  'presets',
  'readCheckpoint',
  'roundBf16',
  'roundF16',
  'saveCheckpoint',
  'sgdCheckpoint',
  'toBf16Array',
  'toF16Array',
];

/** What `adabelief-webgpu/internal` adds to the public entry (no stability promise). */
const INTERNAL_ONLY = [
  'ADABELIEF_SETTABLE_OPTIONS',
  'Amsgrad',
  'BINDING_ALIGNMENT',
  'FusedOptimizer',
  'MAX_HEADER_BYTES',
  'ReferenceCPU',
  'Update',
  'adabeliefRule',
  'adabeliefStep',
  'adabeliefStepFast',
  'adamRuleTorch',
  'adamScalars',
  'adamwRuleTorch',
  'decodeSafetensors',
  'encodeSafetensors',
  'encodeWindowTable',
  'maxChunkElements',
  'planLayout',
  'readFloat32',
  'readNumbers',
  'rectifyRho',
  'resolveOptions',
  'sgdRule',
  'sgdScalars',
  'stateBytesPerElement',
  'stepScalars',
  'validateHyper',
  'workgroupsFor',
];

const names = (m: object) => Object.keys(m).sort();

test('adabelief-webgpu: the public API', async () => {
  expect(names(await import('../../src/index.js'))).toEqual([...PUBLIC].sort());
});

test('adabelief-webgpu/internal: the public API plus the machinery', async () => {
  expect(names(await import('../../src/internal.js'))).toEqual([...PUBLIC, ...INTERNAL_ONLY].sort());
});

test('adabelief-webgpu/node', async () => {
  expect(names(await import('../../src/node/index.js'))).toEqual([
    'getNodeGPU',
    'loadDawn',
    'nodeGPUSetup',
    'requestNodeDevice',
  ]);
});

test('adabelief-webgpu/tfjs', async () => {
  expect(names(await import('../../src/tfjs/index.js'))).toEqual([
    'AdaBeliefOptimizer',
    'AdamOptimizer',
    'AdamWOptimizer',
    'FusedTfjsOptimizer',
    'SGDOptimizer',
    'TESTED_TFJS_RANGE',
  ]);
});
