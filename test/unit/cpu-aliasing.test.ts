/**
 * The CPU optimizers refuse aliased parameters (issue 21, item 4): the same array twice, or views of one
 * ArrayBuffer whose bytes overlap, would be stepped twice per step — torch (duplicate parameters) and the GPU
 * optimizer (entries.ts checkOverlaps) refuse them. At step(), a gradient sharing memory with a parameter is
 * refused too (the GPU optimizer refuses a param region overlapping a grad region); gradients may share memory
 * with each other. A refused call changes nothing: parameters, state and step count are as before.
 */
import { describe, expect, test } from 'vitest';
import { AdaBeliefCPU, AdamCPU, AdamWCPU, SGDCPU } from '../../src/cpu/reference.js';
import { AdaBeliefFastCPU } from '../../src/cpu/fast.js';
import { AdaBeliefWasmCPU, AdamWasmCPU, AdamWWasmCPU, SGDWasmCPU } from '../../src/cpu/wasm-optimizer.js';
import { thrown as caught } from '../helpers/thrown.js';

interface Stepper {
  readonly params: Float32Array[] | Float64Array[];
  readonly stepCount: number;
  step(grads: (Float32Array | Float64Array)[]): unknown;
  exportState(): { tensors: Record<string, Float32Array | Float64Array>[] };
  destroy?(): void;
}
type Make = (params: unknown[]) => Stepper;

const CLASSES: [string, Make, 'f32' | 'f64'][] = [
  ['AdaBeliefCPU', (p) => new AdaBeliefCPU(p as Float32Array[]), 'f32'],
  ['AdaBeliefCPU', (p) => new AdaBeliefCPU(p as Float64Array[]) as unknown as Stepper, 'f64'],
  ['AdaBeliefFastCPU', (p) => new AdaBeliefFastCPU(p as Float32Array[]), 'f32'],
  ['AdamCPU', (p) => new AdamCPU(p as Float32Array[]), 'f32'],
  ['AdamWCPU', (p) => new AdamWCPU(p as Float64Array[]) as unknown as Stepper, 'f64'],
  ['SGDCPU', (p) => new SGDCPU(p as Float32Array[], { momentum: 0.9 }), 'f32'],
  [
    'AdaBeliefWasmCPU',
    (p) => new AdaBeliefWasmCPU(p as Float32Array[], { threads: 1 }) as unknown as Stepper,
    'f32',
  ],
  ['AdamWasmCPU', (p) => new AdamWasmCPU(p as Float32Array[], { threads: 1 }) as unknown as Stepper, 'f32'],
  ['AdamWWasmCPU', (p) => new AdamWWasmCPU(p as Float32Array[], { threads: 1 }) as unknown as Stepper, 'f32'],
  ['SGDWasmCPU', (p) => new SGDWasmCPU(p as Float32Array[], { threads: 1 }) as unknown as Stepper, 'f32'],
];

describe.each(CLASSES)('%s (%s): aliased parameters are refused, naming both', (name, make, kind) => {
  const Arr = kind === 'f32' ? Float32Array : Float64Array;
  const B = Arr.BYTES_PER_ELEMENT;
  const values = (n: number, base: number): Float32Array | Float64Array => {
    const out = new Arr(n);
    for (let k = 0; k < n; k++) out[k] = base + 0.25 * k;
    return out;
  };

  test('the same array twice (also as { param } entries): refused, the array unchanged', () => {
    const p = values(6, 1);
    const cases: [unknown[], number, number][] = [
      [[p, p], 1, 0],
      [[values(3, 0), p, { param: p, lr: 0.1 }], 2, 1],
      [[{ param: p }, values(3, 0), p], 2, 0],
    ];
    for (const [params, second, first] of cases) {
      const e = caught(() => make(params));
      expect(e, `${name} ${params.length} params`).toBeInstanceOf(RangeError);
      expect(e!.message).toBe(
        `${name}: params[${second}] is params[${first}] (the same array): that memory would be stepped twice per step; pass each parameter once, in memory of its own`,
      );
    }
    expect(Array.from(p)).toEqual(Array.from(values(6, 1)));
  });

  test('overlapping views of one ArrayBuffer: refused, naming both and their bytes; adjacent views accepted', () => {
    const flat = values(12, 1);
    const a = flat.subarray(0, 6);
    const b = flat.subarray(4, 10); // shares elements 4 and 5 with a
    const e = caught(() => make([b, values(2, 0), a]));
    expect(e).toBeInstanceOf(RangeError);
    expect(e!.message).toBe(
      `${name}: params[2] overlaps params[0] in one ArrayBuffer (bytes [0, ${6 * B}) and [${4 * B}, ${10 * B})): that memory would be stepped twice per step; pass each parameter once, in memory of its own`,
    );
    // A view made from the buffer itself, one element shared at the end.
    const c = new Arr(flat.buffer as ArrayBuffer, 9 * B, 3);
    expect(caught(() => make([flat.subarray(0, 10), c]))?.message).toMatch(
      new RegExp(`^${name}: params\\[1\\] overlaps params\\[0\\] in one ArrayBuffer`),
    );
    expect(Array.from(flat), 'nothing changed by the refusals').toEqual(Array.from(values(12, 1)));

    // Adjacent views of one buffer are separate parameters: stepped once each, as separate arrays are.
    const apart = [values(6, 1), values(6, 2.5)];
    const shared = Arr.from([...apart[0]!, ...apart[1]!]);
    const grads = [values(6, -0.5), values(6, 0.125)];
    const opts = [make(apart), make([shared.subarray(0, 6), shared.subarray(6, 12)])];
    for (const opt of opts) {
      opt.step(grads);
      opt.step(grads);
    }
    const [alone, together] = opts.map((o) => o.params.flatMap((p) => Array.from(p)));
    expect(together).toEqual(alone);
    for (const o of opts) o.destroy?.();
  });

  test('step(): a gradient sharing memory with a parameter is refused (nothing stepped); gradients may share memory', () => {
    const flat = values(12, 1);
    const params = [flat.subarray(0, 6), flat.subarray(6, 12)];
    const opt = make(params);
    const before = () => ({
      params: opt.params.map((p) => Array.from(p)),
      state: JSON.stringify(opt.exportState().tensors.map((t) => Object.values(t).map((x) => Array.from(x)))),
      step: opt.stepCount,
    });
    const start = before();
    if (!name.includes('Wasm')) {
      // (The WASM optimizers copy the given gradients into their own memory before the step: nothing to refuse.)
      const aliased: [(Float32Array | Float64Array)[], string][] = [
        [[opt.params[0]!, values(6, 0)], 'grads[0] is params[0] (the same array)'],
        [[values(6, 0), opt.params[0]!], 'grads[1] is params[0] (the same array)'],
        [[values(6, 0), flat.subarray(3, 9)], 'grads[1] overlaps params[0] in one ArrayBuffer'],
        [[flat.subarray(6, 12), values(6, 0)], 'grads[0] overlaps params[1] in one ArrayBuffer'],
      ];
      for (const [grads, words] of aliased) {
        const e = caught(() => opt.step(grads));
        expect(e, words).toBeInstanceOf(RangeError);
        expect(e!.message.startsWith(`${name}.step: ${words}`), e!.message).toBe(true);
        expect(e!.message).toContain('the step would change that gradient while it reads it');
        expect(before(), `${words}: nothing changed`).toEqual(start);
      }
    }
    const g = values(6, 0.5);
    opt.step([g, g]); // one gradient array for two parameters: read only, accepted
    expect(opt.stepCount).toBe(1);
    opt.destroy?.();
  });
});
