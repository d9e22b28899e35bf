/**
 * The training page's model: a multilayer perceptron 2 → H → … → H → C with tanh activations, written with
 * tf.variable + tf.matMul (no tf.layers), its initial weights drawn in JavaScript from a seed so that every
 * optimizer starts from the very same numbers. Loss: softmax cross-entropy, mean over the batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { seededRandom } from './spirals.js';

/** Initial weights: per layer, the kernel (inputs × outputs, row-major) and the bias. */
export interface InitialWeights {
  sizes: number[];
  layers: { kernel: Float32Array; bias: Float32Array }[];
}

/**
 * Glorot-uniform kernels (limit √(6 / (fanIn + fanOut))) and zero biases for layer sizes `sizes`
 * (e.g. [2, 32, 32, 3]), from `seed`.
 */
export function initialWeights(sizes: number[], seed: number): InitialWeights {
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 4096))
    throw new RangeError(`layer sizes must be ≥ 2 integers from 1 to 4096, got [${sizes.join(', ')}]`);
  const random = seededRandom(seed);
  const layers = sizes.slice(1).map((fanOut, l) => {
    const fanIn = sizes[l]!;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const kernel = new Float32Array(fanIn * fanOut);
    for (let k = 0; k < kernel.length; k++) kernel[k] = (2 * random.next() - 1) * limit;
    return { kernel, bias: new Float32Array(fanOut) };
  });
  return { sizes: [...sizes], layers };
}

/** One model: its variables, named `${name}/w${l}` and `${name}/b${l}`. */
export class Mlp {
  readonly variables: tf.Variable[];
  private readonly layers: { kernel: tf.Variable; bias: tf.Variable }[];

  constructor(init: InitialWeights, name: string) {
    // In a tidy: the tensors the variables are made from are freed (the variables keep their data).
    this.layers = tf.tidy(() =>
      init.layers.map((layer, l) => ({
        kernel: tf.variable(
          tf.tensor2d(layer.kernel, [init.sizes[l]!, init.sizes[l + 1]!]),
          true,
          `${name}/w${l}`,
        ),
        bias: tf.variable(tf.tensor1d(layer.bias), true, `${name}/b${l}`),
      })),
    );
    this.variables = this.layers.flatMap((l) => [l.kernel, l.bias]);
  }

  /** Number of trainable values. */
  get parameters(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  /** Logits [batch, classes] of inputs [batch, 2]. */
  logits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      this.layers.forEach(({ kernel, bias }, l) => {
        const z = tf.add(tf.matMul(h, kernel), bias) as tf.Tensor2D;
        h = l < this.layers.length - 1 ? tf.tanh(z) : z;
      });
      return h;
    });
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/** Mean softmax cross-entropy of `logits` against one-hot `targets`. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
}

/** Fraction of rows whose largest logit is the label's. */
export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar);
}
