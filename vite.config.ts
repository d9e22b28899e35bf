import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const TFJS_DIR = resolve(import.meta.dirname, 'src/tfjs');

/**
 * dist/tfjs.js imports the core from './index.js' / './internal.js' (one copy of the library, one pipeline cache)
 * instead of bundling it.
 */
const tfjsImportsCore: Plugin = {
  name: 'tfjs-imports-core',
  apply: 'build',
  enforce: 'pre',
  resolveId(source, importer) {
    const core = ['../index.js', '../internal.js'];
    if (core.includes(source) && importer && resolve(importer, '..') === TFJS_DIR) {
      return { id: source.slice(1), external: true };
    }
    return null;
  },
};

// Library build: dist/index.js (ESM, shaders inlined as strings through `?raw`), dist/internal.js (the same
// plus the machinery: `adabelief-webgpu/internal`, no stability promise), dist/node.js (the
// `adabelief-webgpu/node` helper: a Dawn device in Node.js; `webgpu` and Node built-ins stay imports) and
// dist/tfjs.js (`adabelief-webgpu/tfjs`: the TF.js optimizer; TF.js is a peer dependency, never bundled).
export default defineConfig({
  plugins: [tfjsImportsCore],
  build: {
    lib: {
      entry: {
        index: resolve(import.meta.dirname, 'src/index.ts'),
        internal: resolve(import.meta.dirname, 'src/internal.ts'),
        node: resolve(import.meta.dirname, 'src/node/index.ts'),
        tfjs: resolve(TFJS_DIR, 'index.ts'),
      },
      formats: ['es'],
      fileName: (_format, entryName) => `${entryName}.js`,
    },
    rolldownOptions: { external: ['webgpu', /^node:/, /^@tensorflow\//] },
    target: 'es2022',
    // No source maps: dist/ is readable ES2022 (not minified), and maps holding the full sources were 56 % of the
    // package (docs/package.md).
    sourcemap: false,
  },
});
