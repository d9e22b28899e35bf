import { defineConfig } from 'vitest/config';

// Two tiers: `unit` (Node, no GPU: seconds, files in parallel) and `gpu` (headless Chromium on SwiftShader and
// Dawn in Node: each suite shares one browser or device and is slow, so files run one at a time).
// `npm run test:unit` / `npm run test:gpu` run one tier; `npm test` runs both.
export default defineConfig({
  test: {
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
