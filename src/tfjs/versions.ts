/** The TF.js versions whose webgpu backend internals the adapter relies on (tested; also package.json's peer range). */
export const TESTED_TFJS_RANGE = '>=4.22.0 <4.23.0';
