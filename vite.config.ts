import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Library build: dist/index.js (ESM, shaders inlined as strings through `?raw`).
export default defineConfig({
  build: {
    lib: {
      entry: resolve(import.meta.dirname, 'src/index.ts'),
      formats: ['es'],
      fileName: 'index',
    },
    target: 'es2022',
    sourcemap: true,
  },
});
