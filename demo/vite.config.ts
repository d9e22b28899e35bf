/**
 * The demo pages: `npm run demo` serves them (vite dev server, root demo/), `npm run build` writes them to
 * dist-demo/ as static pages (outside dist/, which is what the package ships). Every demo/*.html is a
 * page. The library is imported by its package names, as users do, aliased to the source.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const demoRoot = import.meta.dirname;
const repoRoot = resolve(demoRoot, '..');
const pages = readdirSync(demoRoot).filter((f) => f.endsWith('.html'));

export default defineConfig({
  root: demoRoot,
  base: './',
  resolve: {
    // The longer name first: an alias matches a prefix.
    alias: [
      { find: 'adabelief-webgpu/tfjs', replacement: resolve(repoRoot, 'src/tfjs/index.ts') },
      { find: 'adabelief-webgpu', replacement: resolve(repoRoot, 'src/index.ts') },
    ],
  },
  // TF.js (benchmark and training pages) ships CommonJS dependencies: pre-bundled, so the dev server never
  // reloads mid-run.
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-core/dist/register_all_gradients',
    ],
  },
  server: { fs: { allow: [repoRoot] } },
  build: {
    outDir: resolve(repoRoot, 'dist-demo'),
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: {
      input: Object.fromEntries(pages.map((f) => [f.replace(/\.html$/, ''), resolve(demoRoot, f)])),
    },
  },
});
