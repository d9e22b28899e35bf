#!/usr/bin/env node
/**
 * What `adabelief-webgpu` adds to an application bundle: `{ AdaBelief }`, `{ presets }` and `* as lib` bundled
 * for the browser, minified, by esbuild and by vite, from a project where the package is installed. Used by the
 * consumer test (test/package/) and on its own:
 *
 *   node scripts/bundle-sizes.mjs <project dir>     a folder whose node_modules has adabelief-webgpu
 *
 * prints one line per import and bundler: minified bytes, gzip bytes, and whether the bundle holds WebAssembly.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';

/** The imports measured: name → module text. */
export const IMPORTS = {
  '{ AdaBelief }': "import { AdaBelief } from 'adabelief-webgpu';\nglobalThis.out = AdaBelief;\n",
  '{ presets }': "import { presets } from 'adabelief-webgpu';\nglobalThis.out = presets;\n",
  '* as lib': "import * as lib from 'adabelief-webgpu';\nglobalThis.out = lib;\n",
};

/** A WebAssembly module inlined as base64 starts with "\0asm" = "AGFzbQ"; as bytes, with \0asm. */
export const holdsWasm = (code) => code.includes('AGFzbQ') || code.includes('\0asm');

/**
 * Bundles each of IMPORTS from `dir` (its node_modules resolve the package) with esbuild and vite (minified,
 * browser, ES2022). Returns rows `{ name, bundler, bytes, gzip, wasm, code }`. The bundlers come from this repository.
 */
export async function bundleSizes(dir) {
  const { build: esbuild } = await import('esbuild');
  const { build: viteBuild } = await import('vite');
  const src = join(dir, 'bundle-entries');
  mkdirSync(src, { recursive: true });
  const rows = [];
  for (const [name, text] of Object.entries(IMPORTS)) {
    const file = join(src, `${Object.keys(IMPORTS).indexOf(name)}.js`);
    writeFileSync(file, text);
    const e = await esbuild({
      entryPoints: [file],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      absWorkingDir: dir,
    });
    rows.push(row(name, 'esbuild', e.outputFiles.map((f) => f.text).join('')));
    const v = await viteBuild({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      build: {
        write: false,
        minify: true,
        target: 'es2022',
        modulePreload: false,
        rolldownOptions: { input: file, preserveEntrySignatures: 'strict' },
      },
    });
    const outputs = (Array.isArray(v) ? v : [v]).flatMap((o) => o.output);
    rows.push(
      row(name, 'vite', outputs.map((o) => (o.type === 'chunk' ? o.code : String(o.source))).join('')),
    );
  }
  return rows;
}

function row(name, bundler, code) {
  const gzip = gzipSync(code, { level: 9 }).length;
  return { name, bundler, bytes: Buffer.byteLength(code), gzip, wasm: holdsWasm(code), code };
}

export const formatRow = (r) =>
  `${r.name.padEnd(14)} ${r.bundler.padEnd(8)} ${String(r.bytes).padStart(7)} B min  ${String(r.gzip).padStart(6)} B gzip${r.wasm ? '  (holds WebAssembly)' : ''}`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = resolve(process.argv[2] ?? '.');
  for (const r of await bundleSizes(dir)) console.log(formatRow(r));
}
