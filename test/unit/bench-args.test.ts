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

  test('every flag as before: values, switches, the value of a flag taken even when it starts with --', () => {
    const cfg = parseArgs(
      [
        ...['--runtime', 'node', '--variants', 'amsgrad,norectify', '--modes', 'f32,adam', '--no-variants'],
        ...['--reps', '4', '--steps', '7', '--min-rep-ms', '50', '--max-workgroups', '16', '--no-tfjs'],
        ...['--no-wasm', '--cpu-threads', '3', '--no-model', '--no-html', '--out', 'x', '--json', '--j'],
      ],
      HOST,
    )!;
    expect(cfg).toMatchObject({
      runtime: 'node',
      variants: ['amsgrad', 'norectify'],
      variantsTable: false,
      modes: ['f32', 'adam'],
      rep: { reps: 4, stepsPerRep: 7, minRepMs: 50 },
      maxWorkgroups: 16,
      tfjs: false,
      cpu: true,
      wasm: false,
      cpuThreads: 3,
      model: false,
      html: false,
      repsGiven: true,
    });
    expect(cfg.out).toMatch(/\/x$/);
    expect(cfg.json).toMatch(/\/--j$/);
    expect(cfg.modeSizes).toEqual(cfg.sizes);
    expect(parseArgs(['--quick', '--no-modes'], HOST)).toMatchObject({ modes: [], modeSizes: [2 ** 20] });
    expect(parseArgs(['--quick'], HOST)!.json).toMatch(/results\/benchmark\.json$/);
    expect(parseArgs(['--runtime', 'node'], HOST)!.json).toMatch(/results\/benchmark-node\.json$/);
  });

  test('--help prints the flags and returns null', () => {
    const log = console.log;
    const printed: string[] = [];
    console.log = (s: string) => void printed.push(s);
    try {
      expect(parseArgs(['--help'], HOST)).toBeNull();
      expect(parseArgs(['-h'], HOST)).toBeNull();
    } finally {
      console.log = log;
    }
    expect(printed[0]).toMatch(/^npm start -- \[flags\]/);
    expect(printed[0]).toContain('--mode-sizes LIST');
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
      [['--sizes', '2^12', 'stray'], /^unexpected argument 'stray'/],
      [['--cpu-threads', 'x'], /^--cpu-threads needs a positive integer$/],
      [['--variants', 'fast'], /^unknown variant 'fast'/],
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
