/**
 * docs/api.md is true to the public entry: it states how many values `adabelief-webgpu` exports, and names each of
 * them in backticks (issue 22: it said 34 and left out the four `*WasmCPU` classes).
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import * as lib from '../../src/index.js';

const api = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

test('docs/api.md: the number of values of adabelief-webgpu, and every one of them named', () => {
  const names = Object.keys(lib);
  const stated = /\((\d+) values\b/.exec(api);
  expect(stated, 'docs/api.md says "(N values"').not.toBeNull();
  expect(Number(stated![1])).toBe(names.length);
  const missing = names.filter((n) => !new RegExp(`\`[^\`]*\\b${n}\\b[^\`]*\``).test(api));
  expect(missing).toEqual([]);
});
