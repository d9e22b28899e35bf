/**
 * The comparison helpers every parity test leans on (test/helpers/compare.ts, tolerance.ts) must be able to
 * fail (issue 21, item 7). Mutations of a reference that used to pass silently: one ±Inf in a reference made
 * every element's tolerance Inf (the mean term), one NaN made it NaN, and a NaN ratio (∞/∞, d/NaN) never
 * counted as worse than 0. Each must fail now, unless the case says it expects non-finite values — and then
 * only a non-finite value matched exactly passes.
 */
import { describe, expect, test } from 'vitest';
import { compareArrays, ulpF32 } from '../helpers/compare.js';
import { bf16StateParamTerm, finiteMeanAbs, paramTolerance, stateTolerance } from '../helpers/tolerance.js';

const STEPS = 4;
const want = [1.5, -0.25, 3, 0.125, -2];
/** `want` with element `i` moved by `by` relative to its value. */
const moved = (i: number, by: number) => want.map((x, k) => (k === i ? x * (1 + by) : x));
/** `xs` with element `i` replaced by `value`. */
const withValue = (xs: number[], i: number, value: number) => xs.map((x, k) => (k === i ? value : x));

describe('the unmutated comparison passes and fails as the tolerance says', () => {
  test('within the state tolerance passes; 1000x past it fails', () => {
    const tol = stateTolerance(want, STEPS);
    expect(compareArrays(want, want, tol).worst).toBe(0);
    const slightly = compareArrays(moved(0, 2 ** -23), want, tol);
    expect(slightly.worst).toBeGreaterThan(0);
    expect(slightly.worst).toBeLessThanOrEqual(1);
    const far = compareArrays(moved(0, 1e-3), want, tol);
    expect(far.worst).toBeGreaterThan(1);
    expect(far.worstIndex).toBe(0);
    expect(far.invalid).toBe(0);
  });
});

describe('mutation: a non-finite reference value', () => {
  for (const bad of [Infinity, -Infinity, NaN]) {
    test(`${bad} in the reference no longer widens every tolerance, and fails unless expected`, () => {
      const reference = withValue(want, 3, bad);
      const got = withValue(moved(0, 1e-3), 3, bad); // element 0 far off; element 3 the same non-finite value
      const tol = stateTolerance(reference, STEPS);
      expect(Number.isFinite(tol(0)), 'tolerance of a finite element').toBe(true);
      // The mean term is over the finite values: as if element 3 were not there.
      expect(tol(0)).toBe(
        stateTolerance(
          want.filter((_, k) => k !== 3),
          STEPS,
        )(0),
      );

      const unexpected = compareArrays(got, reference, tol);
      expect(unexpected.worst, 'a non-finite reference the case does not expect').toBe(Infinity);
      expect(unexpected.invalid).toBe(1);

      const expected = compareArrays(got, reference, tol, { nonFinite: 'expected' });
      expect(expected.invalid, 'the non-finite value matched exactly').toBe(0);
      expect(expected.worst, 'element 0 is still judged by a finite tolerance').toBeGreaterThan(1);
      expect(expected.worstIndex).toBe(0);

      // And with element 0 correct, the expected non-finite value passes.
      expect(compareArrays(reference, reference, tol, { nonFinite: 'expected' }).worst).toBe(0);
    });
  }

  test('an expected non-finite value must match exactly: sign of an infinity, NaN for NaN, finite for finite', () => {
    const reference = [Infinity, -Infinity, NaN, 1];
    const tol = () => 1;
    for (const got of [
      [-Infinity, -Infinity, NaN, 1],
      [Infinity, Infinity, NaN, 1],
      [Infinity, -Infinity, 0, 1],
      [1e38, -Infinity, NaN, 1],
      [Infinity, -Infinity, NaN, NaN],
      [Infinity, -Infinity, NaN, Infinity],
    ]) {
      const s = compareArrays(got, reference, tol, { nonFinite: 'expected' });
      expect(s.worst, `got ${got}`).toBe(Infinity);
      expect(s.invalid).toBe(1);
    }
  });
});

describe('mutation: a NaN ratio', () => {
  test('a tolerance that is NaN, infinite or negative fails (d / NaN, and d / Inf = 0 would pass anything)', () => {
    const got = moved(1, 1e-3);
    for (const t of [NaN, Infinity, -1]) {
      const s = compareArrays(got, want, () => t);
      expect(s.worst, `tolerance ${t}`).toBe(Infinity);
      expect(s.invalid).toBe(want.length);
      // Even where got equals want (d = 0: the ratio was 0 before, whatever the tolerance).
      expect(compareArrays(want, want, () => t).worst).toBe(Infinity);
    }
  });

  test('∞ against -∞ (once a NaN ratio with an infinite tolerance) fails, expected or not', () => {
    for (const options of [{}, { nonFinite: 'expected' as const }]) {
      const s = compareArrays([Infinity, 1], [-Infinity, 1], () => Infinity, options);
      expect(s.worst).toBe(Infinity);
      expect(s.worstIndex).toBe(0);
    }
  });

  test('NaN where the reference is finite fails the comparison itself, not only the NaN count', () => {
    for (const options of [{}, { nonFinite: 'expected' as const }]) {
      const s = compareArrays(withValue(want, 2, NaN), want, stateTolerance(want, STEPS), options);
      expect(s.nanMismatch).toBe(1);
      expect(s.worst).toBe(Infinity);
      expect(s.worstIndex).toBe(2);
    }
  });

  test('a NaN in the reference no longer makes every tolerance NaN (paramTolerance, bf16 term: travel)', () => {
    const travel = [0.5, 0.25, 1, 0.125, 0.75];
    for (const bad of [NaN, Infinity]) {
      const mutated = withValue(travel, 4, bad);
      for (const tol of [paramTolerance(want, mutated, STEPS), bf16StateParamTerm(mutated, STEPS)]) {
        expect(Number.isFinite(tol(0)), `travel with ${bad}: tolerance of element 0`).toBe(true);
        const s = compareArrays(moved(0, 0.5), want, tol);
        expect(s.worst, `travel with ${bad}`).toBeGreaterThan(1);
        // Element 4, whose travel is not finite, can pass no comparison.
        expect(compareArrays(want, want, tol).invalid).toBe(1);
      }
    }
  });
});

test('finiteMeanAbs: the mean of |x| over finite values', () => {
  expect(finiteMeanAbs([1, -3, Infinity, NaN, -Infinity])).toBe(2);
  expect(finiteMeanAbs([NaN])).toBe(0);
  expect(finiteMeanAbs([])).toBe(0);
});

test('the ulp function may still be given as the fourth argument', () => {
  const half = (x: number) => ulpF32(x) / 2;
  const got = moved(0, 2 ** -22);
  const tol = () => 1;
  expect(compareArrays(got, want, tol, half).maxUlp).toBe(2 * compareArrays(got, want, tol).maxUlp);
  expect(compareArrays(got, want, tol, { ulp: half }).maxUlp).toBe(
    compareArrays(got, want, tol, half).maxUlp,
  );
});
