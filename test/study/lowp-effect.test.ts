/**
 * What the lower-precision modes do to optimisation, measured with the CPU mirror (AdaBeliefCPU, which the
 * GPU kernel reproduces bit for bit on this machine: test/gpu/lowp.test.ts): the demo's toy problems (|x| + |y|,
 * Rosenbrock) and a small training run (a 2-32-32-3 tanh MLP on the demo's spirals, full batch, backprop in
 * JavaScript). Prints the tables of docs/lowp.md; checks that no mode breaks the optimisation.
 */
import { describe, expect, test } from 'vitest';
import {
  AdaBeliefCPU,
  type AdaBeliefOptions,
  type ParamDtype,
  type PrecisionOptions,
} from '../../src/index.js';
import { seededRandom, spirals } from '../../demo/lib/spirals.js';
import { TOY_FUNCTIONS } from '../../demo/lib/toy-functions.js';

interface Mode {
  label: string;
  dtype: ParamDtype;
  precision: PrecisionOptions;
}

const MODES: Mode[] = [
  { label: 'f32 params, f32 state (reference)', dtype: 'f32', precision: {} },
  { label: 'f32 params, bf16 state', dtype: 'f32', precision: { stateDtype: 'bf16' } },
  { label: 'f16 params + f32 master, f32 state', dtype: 'f16', precision: {} },
  { label: 'f16 params + f32 master, bf16 state', dtype: 'f16', precision: { stateDtype: 'bf16' } },
  { label: 'f16 params, no master (0.2.1), f32 state', dtype: 'f16', precision: { masterWeights: false } },
  {
    label: 'f16 params, no master, bf16 state',
    dtype: 'f16',
    precision: { masterWeights: false, stateDtype: 'bf16' },
  },
];

/** Runs a toy problem's preset from its start for its number of steps; returns the distance to the minimum. */
function toyRun(id: 'abs' | 'rosenbrock', mode: Mode): { distance: number; value: number } {
  const f = TOY_FUNCTIONS[id];
  const s = f.preset;
  const options: Partial<AdaBeliefOptions> = {
    lr: s.lr,
    betas: [s.beta1, s.beta2],
    eps: s.eps,
    weightDecay: s.weightDecay,
    rectify: s.rectify,
    degeneratedToSgd: s.degeneratedToSgd,
  };
  const p = Float32Array.of(s.startX, s.startY);
  const opt = new AdaBeliefCPU([{ param: p, dtype: mode.dtype }], { ...options, ...mode.precision });
  for (let t = 0; t < s.steps; t++) opt.step([Float32Array.from(f.gradient(p[0]!, p[1]!))]);
  const [x, y] = [p[0]!, p[1]!];
  return { distance: Math.hypot(x - f.minimum[0], y - f.minimum[1]), value: f.value(x, y) };
}

/** A tanh MLP with softmax cross-entropy, forward and backward in f64 over the values of its parameters. */
class SpiralMlp {
  readonly params: Float32Array[];
  constructor(
    private readonly sizes: number[],
    seed: number,
  ) {
    const random = seededRandom(seed);
    this.params = sizes.slice(1).flatMap((out, l) => {
      const fanIn = sizes[l]!;
      const limit = Math.sqrt(6 / (fanIn + out));
      const kernel = Float32Array.from({ length: fanIn * out }, () => (2 * random.next() - 1) * limit);
      return [kernel, new Float32Array(out)];
    });
  }

  /** Every layer's activations for one point (the last: the logits). */
  forward(x: number, y: number): Float64Array[] {
    const layers = this.sizes.length - 1;
    const acts: Float64Array[] = [Float64Array.of(x, y)];
    for (let l = 0; l < layers; l++) {
      const [w, b] = [this.params[2 * l]!, this.params[2 * l + 1]!];
      const a = acts[l]!;
      const out = new Float64Array(this.sizes[l + 1]!);
      for (let j = 0; j < out.length; j++) {
        let z = b[j]!;
        for (let i = 0; i < a.length; i++) z += a[i]! * w[i * out.length + j]!;
        out[j] = l < layers - 1 ? Math.tanh(z) : z;
      }
      acts.push(out);
    }
    return acts;
  }

  /** Mean loss over the points, and the gradient of every parameter. */
  lossAndGrads(xy: Float32Array, labels: Int32Array): { loss: number; grads: Float32Array[] } {
    const n = labels.length;
    const layers = this.sizes.length - 1;
    const grads = this.params.map((p) => new Float64Array(p.length));
    let loss = 0;
    for (let k = 0; k < n; k++) {
      const acts = this.forward(xy[2 * k]!, xy[2 * k + 1]!);
      const logits = acts[layers]!;
      const max = Math.max(...logits);
      const exps = logits.map((z) => Math.exp(z - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      loss -= Math.log(exps[labels[k]!]! / sum) / n;
      let delta = exps.map((e, j) => (e / sum - (j === labels[k] ? 1 : 0)) / n);
      for (let l = layers - 1; l >= 0; l--) {
        const a = acts[l]!;
        const w = this.params[2 * l]!;
        const out = delta.length;
        const gw = grads[2 * l]!;
        const gb = grads[2 * l + 1]!;
        const back = new Float64Array(a.length);
        for (let i = 0; i < a.length; i++) {
          for (let j = 0; j < out; j++) {
            gw[i * out + j]! += a[i]! * delta[j]!;
            back[i]! += w[i * out + j]! * delta[j]!;
          }
        }
        for (let j = 0; j < out; j++) gb[j]! += delta[j]!;
        if (l > 0) delta = back.map((v, i) => v * (1 - a[i]! * a[i]!));
      }
    }
    return { loss, grads: grads.map((g) => Float32Array.from(g)) };
  }
}

/** Trains the spiral MLP in `mode`; returns the loss at a few checkpoints and the final accuracy. */
function spiralRun(mode: Mode, steps: number): { losses: number[]; accuracy: number; final: number } {
  const data = spirals({ classes: 3, pointsPerClass: 60, turns: 1, noise: 0.1, seed: 7 });
  const model = new SpiralMlp([2, 32, 32, 3], 1);
  const opt = new AdaBeliefCPU(
    model.params.map((param) => ({ param, dtype: mode.dtype })),
    { lr: 1e-2, ...mode.precision },
  );
  const losses: number[] = [];
  for (let t = 0; t < steps; t++) {
    const { loss, grads } = model.lossAndGrads(data.xy, data.labels);
    if (t % (steps / 4) === 0) losses.push(loss);
    opt.step(grads);
  }
  const final = model.lossAndGrads(data.xy, data.labels).loss;
  return { losses, accuracy: accuracy(model, data.xy, data.labels), final };
}

/** Share of the points whose largest logit is their class. */
function accuracy(model: SpiralMlp, xy: Float32Array, labels: Int32Array): number {
  let right = 0;
  for (let k = 0; k < labels.length; k++) {
    const logits = [...model.forward(xy[2 * k]!, xy[2 * k + 1]!).at(-1)!];
    if (logits.indexOf(Math.max(...logits)) === labels[k]) right++;
  }
  return right / labels.length;
}

describe('effect of the lower-precision modes (CPU mirror)', () => {
  test('toy problems: distance to the minimum after the preset number of steps', () => {
    const rows: string[] = [
      '| mode | abs: distance | Rosenbrock: distance | Rosenbrock: f(x, y) |',
      '|---|---|---|---|',
    ];
    const ref = { abs: toyRun('abs', MODES[0]!), rosenbrock: toyRun('rosenbrock', MODES[0]!) };
    for (const mode of MODES) {
      const abs = toyRun('abs', mode);
      const ros = toyRun('rosenbrock', mode);
      rows.push(
        `| ${mode.label} | ${abs.distance.toExponential(3)} | ${ros.distance.toExponential(3)} | ${ros.value.toExponential(3)} |`,
      );
      expect(Number.isFinite(abs.distance) && Number.isFinite(ros.distance), mode.label).toBe(true);
      // No mode ends farther from the minimum than where the f32 run started its last tenth.
      expect(abs.distance, `${mode.label}: |x|+|y|`).toBeLessThan(Math.max(10 * ref.abs.distance, 0.05));
      expect(ros.distance, `${mode.label}: Rosenbrock`).toBeLessThan(
        Math.max(10 * ref.rosenbrock.distance, 0.1),
      );
    }
    console.log(
      `toy presets (abs: ${TOY_FUNCTIONS.abs.preset.steps} steps, Rosenbrock: ${TOY_FUNCTIONS.rosenbrock.preset.steps} steps)\n${rows.join('\n')}`,
    );
  });

  test('spiral MLP (2-32-32-3, 180 points, full batch, lr 1e-2): loss during training', () => {
    const steps = 600;
    const rows: string[] = [
      `| mode | loss at 0 / ${steps / 4} / ${steps / 2} / ${(3 * steps) / 4} | final loss | accuracy |`,
      '|---|---|---|---|',
    ];
    const results = MODES.map((mode) => ({ mode, ...spiralRun(mode, steps) }));
    const reference = results[0]!.final;
    for (const r of results) {
      rows.push(
        `| ${r.mode.label} | ${r.losses.map((l) => l.toFixed(4)).join(' / ')} | ${r.final.toFixed(4)} | ${(100 * r.accuracy).toFixed(1)}% |`,
      );
      expect(Number.isFinite(r.final), r.mode.label).toBe(true);
    }
    console.log(`spiral MLP, ${steps} steps\n${rows.join('\n')}`);
    // Master weights and bf16 state train as well as f32 (within 25% of its final loss, which is small).
    for (const r of results.filter((x) => x.mode.precision.masterWeights !== false)) {
      expect(r.final, r.mode.label).toBeLessThan(1.25 * reference + 0.02);
    }
    // And every mode learns: at most half the starting loss.
    for (const r of results) expect(r.final, r.mode.label).toBeLessThan(r.losses[0]! / 2);
  });
});
