/** The CPU reference against the independently computed golden vectors (../shared/vectors). */
import { describe, expect, test } from 'vitest';
import { AdaBeliefCPU, type AdaBeliefOptions } from '../../src/index.js';
import { loadGolden, type GoldenCase, type GoldenState } from '../helpers/golden.js';

/**
 * Tolerances. f32: the reference performs the same f32 operations in the same order as the golden
 * file's PyTorch-CPU-order computation, each correctly rounded, so it must agree bit for bit: 0 ulp.
 * f64: the golden f64 run may group host scalars differently (e.g. lr/bc1 vs lr*(1/bc1)), which moves a
 * result by at most a couple of f64 roundings per step: |Δ| <= 4 T 2^-52 max(|x|, 1e-300).
 */
const F64_ULPS_PER_STEP = 4;

function run(c: GoldenCase, precision: 'f32' | 'f64') {
  const Ctor = precision === 'f32' ? Float32Array : Float64Array;
  const param = new Ctor(c.param0);
  const options = { ...c.options, semantics: c.semantics } as Partial<AdaBeliefOptions>;
  const cpu = new AdaBeliefCPU<Float32Array | Float64Array>([param], options);
  for (const g of c.grads) cpu.step([new Ctor(g)]);
  expect(cpu.stepCount).toBe(c.steps);
  return { param, ...cpu.exportState().tensors[0]! };
}

describe.each(loadGolden().map((c) => [c.name, c] as const))('golden case %s', (_, c) => {
  test.each(['f32', 'f64'] as const)('%s: params and every state buffer', (precision) => {
    const got = run(c, precision);
    const want: GoldenState = precision === 'f32' ? c.expected_f32 : c.expected_f64;
    const keys = Object.keys(want) as (keyof GoldenState)[];
    expect(keys).toContain('param');
    expect(Object.keys(got).sort()).toEqual(keys.sort());
    for (const key of keys) {
      const w = want[key]!;
      const g = got[key]!;
      expect(g.length).toBe(c.size);
      let maxAbs = 0;
      let maxRel = 0;
      w.forEach((x, i) => {
        const d = Math.abs(g[i]! - x);
        maxAbs = Math.max(maxAbs, d);
        maxRel = Math.max(maxRel, d / Math.max(Math.abs(x), 1e-300));
      });
      const tol = precision === 'f32' ? 0 : F64_ULPS_PER_STEP * c.steps * 2 ** -52;
      console.log(
        `${c.name} ${precision} ${key}: max |Δ| ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)} (tolerance ${tol.toExponential(2)} rel)`,
      );
      expect(maxRel).toBeLessThanOrEqual(tol);
    }
  });
});

describe('AdaBeliefCPU', () => {
  test('validates its inputs with the official messages', () => {
    const p = new Float32Array(3);
    expect(() => new AdaBeliefCPU([p], { lr: -1 })).toThrow(/^Invalid learning rate: -1$/);
    expect(() => new AdaBeliefCPU([{ param: p, betas: [0.9, 1] }])).toThrow(
      /^Invalid beta parameter at index 1: 1$/,
    );
    expect(() => new AdaBeliefCPU([])).toThrow(/^AdaBeliefCPU: the parameter list is empty$/);
    expect(() => new AdaBeliefCPU(p as never)).toThrow(
      /^AdaBeliefCPU: expected an array of parameters \(typed arrays or \{ param, … \} entries\), got a Float32Array$/,
    );
    expect(() => new AdaBeliefCPU([p, new Float64Array(2)] as never)).toThrow(
      /must all be Float32Array .* or all Float64Array/,
    );
    const cpu = new AdaBeliefCPU([p]);
    expect(() => cpu.step([new Float32Array(2)])).toThrow(/grads\[0\] has 2 elements, params\[0\] has 3/);
    expect(() => cpu.set({ eps: Number.NaN })).toThrow(/^Invalid epsilon value: nan$/);
    expect(cpu.options.eps).toBe(1e-16);
    expect(() => cpu.importState({ ...cpu.exportState(), step: -1 })).toThrow(
      /step must be a non-negative integer/,
    );
  });

  test('state round-trips through exportState / importState, f64 math for Float64Array', () => {
    const a = new AdaBeliefCPU([new Float64Array([1, -2, 3])], { amsgrad: true });
    a.step([new Float64Array([0.1, 0.2, -0.3])]);
    const s = a.exportState();
    expect(s.tensors[0]!.max_exp_avg_var).toBeInstanceOf(Float64Array);
    const b = new AdaBeliefCPU([a.params[0]!.slice()], { amsgrad: true });
    b.importState(s);
    const g = new Float64Array([0.3, -0.1, 0.2]);
    a.step([g]);
    b.step([g]);
    expect(Array.from(b.params[0]!)).toEqual(Array.from(a.params[0]!));
    expect(b.stepCount).toBe(2);
  });
});
