/**
 * The benchmark's command line (bench/main.ts parseArgs): flags parsed into the run's config, and a bad flag
 * refused as a UsageError (printed as one line, exit status 2, by bench/run.ts and the bundle's bench.mjs).
 */
import { describe, expect, test } from 'vitest';
import { parseArgs, UsageError, type Host } from '../../bench/main.js';

const HOST: Host = {
  command: 'npm start --',
  runtimes: ['browser', 'node'],
  defaultOut: 'results',
  png: true,
};

describe('npm start flags', () => {
  test('sizes as integers, 2^k, lists and ranges', () => {
    expect(parseArgs(['--sizes', '2^10,5000'], HOST)!.sizes).toEqual([1024, 5000]);
    expect(parseArgs(['--sizes', '2^12..2^14'], HOST)!.sizes).toEqual([4096, 8192, 16384]);
    expect(parseArgs(['--quick'], HOST)!.quick).toBe(true);
  });

  test('a bad flag is a UsageError naming the flag and the value', () => {
    const cases: [string[], RegExp][] = [
      [['--sizes', 'foo'], /^bad size 'foo': expected an integer from 4 to 2\^53 - 1, or 2\^k/],
      [['--sizes', '2^99'], /^bad size '2\^99'/],
      [['--mode-sizes', '-1'], /^bad size '-1'/],
      [['--json'], /^--json needs a value$/],
      [['--reps', '0'], /^--reps needs a positive integer$/],
      [['--runtime', 'nope'], /^--runtime must be 'browser' or 'node', got 'nope'/],
      [['--bogus'], /^unknown flag '--bogus'/],
    ];
    for (const [argv, message] of cases) {
      let error: unknown;
      try {
        parseArgs(argv, HOST);
      } catch (e) {
        error = e;
      }
      expect(error, argv.join(' ')).toBeInstanceOf(UsageError);
      expect((error as Error).message, argv.join(' ')).toMatch(message);
    }
  });
});
