// Node module hooks for running library source in a plain Node child process (test/gpu/lifecycle.test.ts):
// `import x from '…/shader.wgsl?raw'` (vite's raw import) gives the file's text, as vite does.
// Registered by test/helpers/raw-register.mjs: node --import tsx --import ./test/helpers/raw-register.mjs …
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  const u = new URL(url);
  if (u.protocol === 'file:' && u.pathname.endsWith('.wgsl')) {
    const text = await readFile(u, 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
