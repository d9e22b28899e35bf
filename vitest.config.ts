import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Three tiers: `unit` (Node, no GPU: seconds, files in parallel), `study` (Node, no GPU: long CPU sweeps —
// AdaBeliefFastCPU against the reference over every option combination, the effect of lower precision on training)
// and `gpu` (headless Chromium on SwiftShader and Dawn in Node: each suite shares one browser or device and is slow,
// so files run one at a time). `npm run test:unit` / `test:study` / `test:gpu` run one tier; `npm test` runs all.
export default defineConfig({
  test: {
    // Every core (vitest's default leaves one idle: on a 2-core machine the unit tier would run on one).
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'study',
          include: ['test/study/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
