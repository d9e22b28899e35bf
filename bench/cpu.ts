/**
 * CPU timings, in the Node process that drives the benchmark (V8, the engine of the Chromium that runs the
 * GPU side; single thread): the f32 reference AdaBeliefCPU, AdaBeliefFastCPU, and a plain Float32Array
 * loop that moves the same bytes as one step — the CPU's own roofline.
 */
import { AdaBeliefFastCPU } from '../src/cpu/fast.js';
import { AdaBeliefCPU } from '../src/cpu/reference.js';
import {
  VARIANTS,
  repsFor,
  stepsFor,
  type Impl,
  type MeasureSpec,
  type Samples,
  type Repetitions,
} from './common.js';

/** Deterministic noise in [-scale, scale) (xorshift32 from `seed`): the CPU rows' params and grads. */
export function noise(n: number, scale: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x / 2147483648) * scale;
  }
  return a;
}

/**
 * The copy roofline: reads p, g, m, s (and smax) and writes p, m, s (and smax) once per element, rotating the
 * values and adding the gradient to one, so that no store writes back what it loaded (the JIT may drop nothing).
 */
function copyLoop(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  s: Float32Array,
  smax?: Float32Array,
): void {
  const n = p.length;
  if (smax) {
    for (let i = 0; i < n; i++) {
      const pi = p[i]!;
      const gi = g[i]!;
      p[i] = m[i]!;
      m[i] = s[i]!;
      s[i] = pi + gi;
      smax[i] = smax[i]! + gi;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const pi = p[i]!;
      p[i] = m[i]!;
      m[i] = s[i]!;
      s[i] = pi + g[i]!;
    }
  }
}

/**
 * The CPU rows: how each CPU implementation makes one step for a spec (arrays filled, optimizer built). A
 * further CPU implementation is one more entry here, plus its name in common.ts (IMPLS, IMPL_LABELS, ON_GPU,
 * CPU_OPTIMIZERS for the plan) and a colour in render.ts; an asynchronous one (workers, WebAssembly
 * instantiation) gets its own measure function beside measureCpu, as bench/cpu-wasm.ts's measureWasm.
 */
export const CPU_STEPPERS: Partial<Record<Impl, (spec: MeasureSpec) => () => void>> = {
  'cpu-ref': (spec) => {
    const g = noise(spec.size, 0.01, 2);
    const opt = new AdaBeliefCPU([noise(spec.size, 1, 1)], VARIANTS[spec.variant]);
    return () => opt.step([g]);
  },
  'cpu-fast': (spec) => {
    const g = noise(spec.size, 0.01, 2);
    const opt = new AdaBeliefFastCPU([noise(spec.size, 1, 1)], VARIANTS[spec.variant]);
    return () => opt.step([g]);
  },
  'cpu-copy': (spec) => {
    const n = spec.size;
    const [p, g, m, s] = [noise(n, 1, 1), noise(n, 0.01, 2), noise(n, 1, 3), noise(n, 1, 4)];
    const smax = spec.variant === 'amsgrad' ? noise(n, 1, 5) : undefined;
    return () => copyLoop(p, g, m, s, smax);
  },
};

function stepper(spec: MeasureSpec): () => void {
  const make = CPU_STEPPERS[spec.impl];
  if (!make) throw new Error(`not a CPU implementation: ${spec.impl}`);
  return make(spec);
}

/**
 * Times `step` (one synchronous CPU step) with `spec`'s repetitions: warm-up steps, then `reps` repetitions of K steps; ms per
 * step each. Shared by every CPU row (bench/wasm.ts too).
 */
export function timeSteps(spec: Repetitions, step: () => void): Samples {
  const run = (count: number) => {
    const t0 = performance.now();
    for (let k = 0; k < count; k++) step();
    return performance.now() - t0;
  };
  run(1);
  const stepMs = run(1);
  const K = stepsFor(spec, stepMs);
  const reps = repsFor(spec, stepMs);
  run(Math.max(spec.warmupSteps - 2, K)); // at least one repetition's worth: the JIT settles
  const wallMs: number[] = [];
  for (let r = 0; r < reps; r++) wallMs.push(run(K) / K);
  return { stepsPerRep: K, reps, wallMs };
}

/** Times one CPU implementation of bench/cpu.ts (CPU_STEPPERS). */
export function measureCpu(spec: MeasureSpec): Samples {
  return timeSteps(spec, stepper(spec));
}
