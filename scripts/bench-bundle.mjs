#!/usr/bin/env node
/**
 * `npm run bench:bundle [-- --out DIR]`: a self-contained folder (default dist-bench/) to carry to a GPU
 * machine that has Node.js >= 20 and nothing else (no npm, no network):
 *
 *   bench.mjs        the benchmark, `npm start -- --runtime node` (bench/bundle.ts: TF.js and the WGSL inside)
 *   gpu-check.mjs    the GPU against the CPU mirrors in every mode (test/gpu/check/gpu-check.ts)
 *   node_modules/webgpu/   Dawn for Node: the package's package.json, index.js, LICENSE.md and this
 *                    platform's dist/<platform>-<arch>/ (dawn.node), so that `import('webgpu')` in the bundles
 *                    resolves beside them from any working directory
 *   README.txt       how to run them
 *
 * esbuild bundles each entry into one ES module for Node; `?raw` imports (the WGSL kernels) become strings,
 * `webgpu` stays an import (a native addon cannot be bundled). See docs/benchmark.md.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = resolve(outAt >= 0 && args[outAt + 1] ? args[outAt + 1] : join(root, 'dist-bench'));

/** `import x from './file?raw'`: the file's text, as vite does. */
const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({
      path: resolve(a.resolveDir, a.path.slice(0, -'?raw'.length)),
      namespace: 'raw',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({
      contents: readFileSync(a.path, 'utf8'),
      loader: 'text',
    }));
  },
};

const entries = {
  bench: join(root, 'bench/bundle.ts'),
  'gpu-check': join(root, 'test/gpu/check/gpu-check.ts'),
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const started = performance.now();
await build({
  entryPoints: entries,
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [rawPlugin],
  // CommonJS inside the bundle (parts of TF.js) may require() Node's built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
});

// Dawn: what `import 'webgpu'` loads (index.js requires dist/<platform>-<arch>/dawn.node), nothing else.
const require = createRequire(join(root, 'package.json'));
const webgpu = dirname(require.resolve('webgpu/package.json'));
const pkg = JSON.parse(readFileSync(join(webgpu, 'package.json'), 'utf8'));
const platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
const dawnDir = join(webgpu, 'dist', platform);
if (!existsSync(join(dawnDir, 'dawn.node')))
  throw new Error(
    `the webgpu package has no ${platform}/dawn.node (${dawnDir}): cannot bundle Dawn for this platform`,
  );
const target = join(out, 'node_modules', 'webgpu');
mkdirSync(join(target, 'dist'), { recursive: true });
for (const f of ['package.json', 'index.js', 'LICENSE.md']) cpSync(join(webgpu, f), join(target, f));
cpSync(dawnDir, join(target, 'dist', platform), { recursive: true });

writeFileSync(
  join(out, 'README.txt'),
  `adabelief-webgpu GPU bundle (built ${new Date().toISOString()} from ${root}; Dawn: webgpu ${pkg.version}, ${platform})

Needs Node.js >= 20 and a Vulkan driver with its loader (libvulkan.so.1); no npm, no network. From any directory:

  node ${out}/gpu-check.mjs            every mode against the CPU mirrors; exit status 0 = all within tolerance
  node ${out}/gpu-check.mjs --large    also 2^22- and 2^25-element tensors
  node ${out}/bench.mjs --quick        the benchmark, short (results/ in the working directory)
  node ${out}/bench.mjs --json F       the full benchmark; JSON to F
  node ${out}/bench.mjs --help         every flag

Without a GPU on Linux it falls back to SwiftShader from an installed Chromium (a CPU: slow, and its ratios say
nothing about GPUs). Without the Vulkan loader: see "Carrying the bundle" in docs/benchmark.md.
`,
);

const size = (f) => `${(statSync(f).size / 2 ** 20).toFixed(1)} MiB`;
console.log(
  `wrote ${out}: bench.mjs (${size(join(out, 'bench.mjs'))}), gpu-check.mjs (${size(join(out, 'gpu-check.mjs'))}), ` +
    `node_modules/webgpu (${pkg.version}, ${platform}, dawn.node ${size(join(target, 'dist', platform, 'dawn.node'))}), README.txt ` +
    `in ${((performance.now() - started) / 1e3).toFixed(1)} s`,
);
