/**
 * GPU tests of the lower-precision modes in headless Chromium: f16 params / grads (with and without f32
 * master weights) and bf16 state, against the CPU mirror (ReferenceCPU with the same options), in separate and
 * shared buffers, with AMSGrad, f16's special values, the guard, export / import and checkpoints; every byte of
 * the param buffers outside the tensors is checked unchanged. The parity cases and their pass rules are
 * test/gpu/scenarios/lowp-cases.ts (gpu-check.mjs runs the same list); the state bytes per mode and the kernel's
 * conversions are tested here only.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openBrowser, type BrowserSession } from '../../sessions/chromium.js';
import type { AdapterSummary } from './scenarios/harness.js';
import type { LowpResult } from './scenarios/lowp.js';
import {
  LOWP_CASES,
  isLargeLowp,
  lowpToleranceLines,
  lowpVerdict,
  type LowpCase,
} from './scenarios/lowp-cases.js';

let session: BrowserSession;
const LOWP = '/test/gpu/scenarios/lowp.ts';

beforeAll(async () => {
  session = await openBrowser();
  const adapter = await session.call<AdapterSummary>('/test/gpu/scenarios/harness.ts', 'adapterSummary');
  console.log(`WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}`);
});
afterAll(async () => session?.close());

// The parity cases (test/gpu/scenarios/lowp-cases.ts, shared with test/gpu/check/gpu-check.ts): each prints its
// tolerances and every quantity's error (ulps of its stored precision, share of its tolerance), then must pass
// every rule of `lowpVerdict`.
const groups = new Map<string, LowpCase[]>();
for (const c of LOWP_CASES) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
for (const [group, cases] of groups)
  describe(group, () => {
    for (const c of cases)
      test(
        c.name,
        async () => {
          for (const l of lowpToleranceLines(c.cfg)) console.log(`${c.label} ${l}`);
          const r = await session.call<LowpResult>(LOWP, 'lowpParity', c.cfg);
          const { lines, failures } = lowpVerdict(c, r);
          for (const l of lines) console.log(`${c.label} ${l}`);
          expect(failures, c.label).toEqual([]);
        },
        isLargeLowp(c) ? 180_000 : undefined,
      );
  });

describe('bytes of optimizer state per parameter', () => {
  test('allocated buffers match the table in docs/lowp.md', async () => {
    const n = 1 << 16;
    const cases: [string, 'f32' | 'f16', Record<string, unknown>, number][] = [
      ['f32 params, f32 state', 'f32', {}, 8],
      ['f32 params, f32 state, AMSGrad', 'f32', { amsgrad: true }, 12],
      ['f32 params, bf16 state', 'f32', { stateDtype: 'bf16' }, 4],
      ['f32 params, bf16 state, AMSGrad', 'f32', { stateDtype: 'bf16', amsgrad: true }, 6],
      ['f16 params + master, f32 state', 'f16', {}, 12],
      ['f16 params + master, bf16 state', 'f16', { stateDtype: 'bf16' }, 8],
      ['f16 params, no master, f32 state', 'f16', { masterWeights: false }, 8],
      ['f16 params, no master, bf16 state', 'f16', { masterWeights: false, stateDtype: 'bf16' }, 4],
    ];
    for (const [label, dtype, options, perElement] of cases) {
      const bytes = await session.call<number>(LOWP, 'stateBytes', { size: n, dtype, options });
      console.log(`${label}: ${bytes / n} B of state per parameter`);
      expect(bytes / n, label).toBe(perElement);
    }
  });
});

describe("the kernel's conversions, on the GPU, against their CPU mirrors", () => {
  test('f16 → f32 for every f16; f32 → f16 and f32 → bf16 (round to nearest even) around every rounding point', async () => {
    const r = await session.call<import('./scenarios/conversions.js').ConversionsResult>(
      '/test/gpu/scenarios/conversions.ts',
      'conversions',
    );
    for (const k of ['f16Value', 'f16Bits', 'bf16Bits'] as const) {
      console.log(
        `${k}: ${r[k].mismatches} of ${r.inputs} differ from the CPU mirror ${r[k].first.join('; ')}`,
      );
      expect(r[k].mismatches, `${k}: ${r[k].first.join('; ')}`).toBe(0);
    }
  });
});
