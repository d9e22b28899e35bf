/** The library build (what `npm run build` ships in dist/) bundles the shaders and imports in plain Node. */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { expect, test } from 'vitest';
import { REPO_ROOT } from '../../sessions/chromium.js';

test('vite library build: ESM entries with the WGSL inlined, importable without a bundler', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'adabelief-build-'));
  await build({ root: REPO_ROOT, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  const file = join(outDir, 'index.js');
  // The entries share their code through chunks: the shader text is inlined in one of the emitted files.
  const code = readdirSync(outDir, { recursive: true })
    .filter((f) => String(f).endsWith('.js'))
    .map((f) => readFileSync(join(outDir, String(f)), 'utf8'))
    .join('\n');
  expect(code).toContain('fn adabelief(');
  const lib = (await import(pathToFileURL(file).href)) as typeof import('../../src/index.js');
  for (const name of ['AdaBelief', 'AdaBeliefCPU', 'AdaBeliefFastCPU', 'ParamArena', 'presets'] as const) {
    expect(lib[name], name).toBeDefined();
  }
  const p = new Float32Array([1, 2]);
  new lib.AdaBeliefCPU([p]).step([new Float32Array([0.5, -0.5])]);
  expect(Array.from(p)).not.toEqual([1, 2]);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
  expect(pkg.exports['.']).toEqual({ types: './dist/types/index.d.ts', import: './dist/index.js' });
});
