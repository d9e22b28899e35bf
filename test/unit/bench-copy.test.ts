/** The benchmark's copy kernel moves the bytes the variants table credits it with (bench/copy.wgsl `copy_mode`). */
import { describe, expect, test } from 'vitest';
import { bytesPerElement, VARIANTS, type Variant } from '../../bench/common.js';
import { trafficBytes, variantTraffic } from '../../bench/modes.js';

describe('bench copy kernel traffic', () => {
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    test(`${variant}: variantTraffic moves bytesPerElement('copy') per element, all f32`, () => {
      const t = variantTraffic(variant);
      expect(trafficBytes(t)).toBe(bytesPerElement('copy', variant));
      expect([...t.inPlace, ...t.readOnly, ...t.writeOnly].every((w) => w === 4)).toBe(true);
      // copy_mode's capacity: 4 arrays in place, 2 only read, 1 only written.
      expect(t.inPlace.length).toBeLessThanOrEqual(4);
      expect(t.readOnly.length).toBeLessThanOrEqual(2);
      expect(t.writeOnly.length).toBeLessThanOrEqual(1);
    });
  }
});
