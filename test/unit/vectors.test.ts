/** The committed copy of the golden vectors (used where ../shared is absent, e.g. CI) is the shared file. */
import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { COMMITTED_GOLDEN, SHARED_GOLDEN } from '../helpers/golden.js';

test('test/vectors/adabelief-golden.json is byte-identical to ../shared/vectors (when present)', () => {
  const committed = readFileSync(COMMITTED_GOLDEN, 'utf8');
  expect(JSON.parse(committed).cases.length).toBe(10);
  if (existsSync(SHARED_GOLDEN)) expect(committed).toBe(readFileSync(SHARED_GOLDEN, 'utf8'));
  else console.log(`${SHARED_GOLDEN} is absent here: using the committed copy`);
});
