// Registers test/helpers/raw-loader.mjs (vite's `?raw` imports of .wgsl files) in this Node process.
import { register } from 'node:module';

register('./raw-loader.mjs', import.meta.url);
