import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Four tiers: `unit` (Node, no GPU: seconds, files in parallel), `study` (Node, no GPU: long CPU sweeps —
// AdaBeliefFastCPU against the reference over every option combination, the effect of lower precision on training)
// `gpu` (headless Chromium on SwiftShader and Dawn in Node: each suite shares one browser or device and is slow,
// so files run one at a time) and `package` (the packed tarball installed into a fresh project, test/package/).
// `npm run test:unit` / `test:study` / `test:gpu` run one tier; `npm test` runs all.
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
        // The package as users install it: build, npm pack, publint, attw, a fresh project (test/package/).
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
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
