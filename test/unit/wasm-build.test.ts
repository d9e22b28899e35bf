/** The committed WASM kernel (src/cpu/wasm/kernel-wasm.ts) is what its source builds to (npm run build:wasm). */
import { execFileSync } from 'node:child_process';
import { expect, test } from 'vitest';

test('kernel-wasm.ts matches a fresh build of src/cpu/wasm/assembly/kernel.ts', () => {
  const out = execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' });
  expect(out).toMatch(/matches a fresh build/);
});
