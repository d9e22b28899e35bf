/** The model shapes the benchmark uses are the real ones. */
import { expect, test } from 'vitest';
import { resnet50Shapes } from '../../bench/resnet50.js';

test('ResNet-50: 161 parameter tensors, 25,557,032 elements (torchvision)', () => {
  const shapes = resnet50Shapes();
  expect(shapes.length).toBe(161);
  expect(shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(25_557_032);
  expect(shapes[0]).toEqual({ name: 'conv1.weight', shape: [64, 3, 7, 7] });
  expect(shapes.at(-1)).toEqual({ name: 'fc.bias', shape: [1000] });
});
