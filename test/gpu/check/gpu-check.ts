/**
 * gpu-check: does this machine's WebGPU adapter compute what the CPU mirrors compute, in every mode? The GPU
 * tests' own scenarios (test/gpu/scenarios: parity.ts, lowp.ts, guard.ts) run in this Node process on Dawn
 * (Dawn installed as `navigator.gpu`, sessions/dawn.ts), with the tests' own tolerances (test/helpers/
 * tolerance.ts: 16 ulp per step in f32, T·3·2^-8 of the travel more under bf16 state, plus one ulp of the
 * stored precision per step for f16 / bf16; the guard's norm within its derived bound), and the same pass rules
 * as test/gpu/*.test.ts. The lower-precision cases and their rules are test/gpu/scenarios/lowp-cases.ts, the
 * list test/gpu/lowp.test.ts runs; each prints its tolerances. Prints every check's largest errors and a
 * verdict; exits 1 when a check fails, 2 when none could run (no adapter).
 *
 * Bundled into dist-bench/gpu-check.mjs by `npm run bench:bundle` (runs with a bare `node` and the `webgpu`
 * package copied beside it; the kernels are `?raw` imports, so plain tsx cannot run this file).
 *   --large      also tensors of 2^22 + 3 (f32, Adam, SGD, guard) and 2^25 + 3 (f16 + bf16 state)
 *   --only TEXT  only the checks whose name contains TEXT
 */
import { installDawnNavigator } from '../../../sessions/dawn.js';
import { ULP_PER_STEP } from '../../helpers/tolerance.js';
import { guarded, type GuardConfig, type GuardResult } from '../scenarios/guard.js';
import { adapterSummary } from '../scenarios/harness.js';
import { lowpParity } from '../scenarios/lowp.js';
import {
  LOWP_CASES,
  isLargeLowp,
  lowpToleranceLines,
  lowpVerdict,
  type LowpCase,
} from '../scenarios/lowp-cases.js';
import { parity, type ParityConfig, type ParityResult, type Report } from '../scenarios/parity.js';

/** One check: runs a scenario and returns what failed (empty: passed) and what to print. */
interface Check {
  name: string;
  large?: boolean;
  run(): Promise<{ lines: string[]; failures: string[] }>;
}

/** The rules of test/helpers/expect-report.ts `expectWithin`, as data. */
function within(report: Report, quantities: number | string[]): { lines: string[]; failures: string[] } {
  const lines: string[] = [];
  const failures: string[] = [];
  const names = Object.keys(report);
  if (typeof quantities === 'number') {
    if (names.length < quantities)
      failures.push(`${names.length} quantities compared, want >= ${quantities}`);
  } else if ([...names].sort().join() !== [...quantities].sort().join()) {
    failures.push(`compared ${names.join(', ')}, want ${quantities.join(', ')}`);
  }
  for (const [q, s] of Object.entries(report)) {
    lines.push(
      `${q}: max |Δ| ${s.maxAbs.toExponential(2)}, max ${s.maxUlp.toFixed(1)} ulp, worst ${(s.worst * 100).toFixed(1)}% of tolerance (${ULP_PER_STEP} ulp/step)`,
    );
    if (s.nanMismatch !== 0) failures.push(`${q}: ${s.nanMismatch} NaN mismatches`);
    if ((s.invalid ?? 0) !== 0)
      failures.push(
        `${q}: ${s.invalid} elements no tolerance may pass (a non-finite value, a NaN tolerance)`,
      );
    // (Infinity arrives from the page as null, and null <= 1 holds: a number is required.)
    if (!(typeof s.worst === 'number' && s.worst <= 1))
      failures.push(`${q}: element ${s.worstIndex} at ${s.worst} x its tolerance`);
  }
  return { lines, failures };
}

function parityCheck(name: string, cfg: ParityConfig, quantities = 3, large = false): Check {
  return {
    name,
    large,
    run: async () => {
      const r: ParityResult = await parity(cfg);
      const out = within(r.report, quantities);
      out.lines.push(`${r.elements} elements; ${r.neighboursChanged} values outside the tensors changed`);
      if (r.neighboursChanged !== 0)
        out.failures.push(`${r.neighboursChanged} values outside the tensors changed`);
      return out;
    },
  };
}

/** A lower-precision case (test/gpu/scenarios/lowp-cases.ts, the list test/gpu/lowp.test.ts runs), its rules. */
function lowpCheck(c: LowpCase): Check {
  const large = isLargeLowp(c);
  return {
    name: large ? `large: ${c.name}` : c.name,
    large,
    run: async () => {
      const r = await lowpParity(c.cfg);
      const { lines, failures } = lowpVerdict(c, r);
      return { lines: [...lowpToleranceLines(c.cfg), ...lines], failures };
    },
  };
}

const GUARDED = ['exp_avg', 'exp_avg_var', 'param'];

/** The rules of test/gpu/guard.test.ts: skip pattern, untouched state, step counts, norms, parity. */
function guardCheck(
  name: string,
  cfg: GuardConfig,
  want: { skipped?: boolean[]; steps?: number; norms?: boolean; clipping?: number },
): Check {
  return {
    name,
    large: cfg.sizes.some((n) => n > 2 ** 20),
    run: async () => {
      const r: GuardResult = await guarded(cfg);
      const out = within(r.report, GUARDED);
      const skipped = r.steps.map((s) => s.gpuSkipped);
      if (r.steps.length)
        out.lines.push(
          `skipped per step GPU ${skipped.map(Number).join('')}, CPU ${r.steps.map((s) => +s.cpuSkipped).join('')}`,
        );
      out.lines.push(`step count GPU ${r.gpuStepCount}, exported ${r.exportedStep}, CPU ${r.cpuStepCount}`);
      if (want.skipped) {
        if (skipped.join() !== want.skipped.join())
          out.failures.push(`GPU skipped ${skipped.map(Number).join('')}`);
        const cpu = r.steps.map((s) => s.cpuSkipped);
        if (cpu.join() !== want.skipped.join()) out.failures.push(`CPU skipped ${cpu.map(Number).join('')}`);
        r.steps.forEach((s, t) => {
          if (s.gpuSkipped && s.unchanged !== true)
            out.failures.push(`step ${t + 1} skipped but params or state changed`);
        });
      }
      if (want.steps !== undefined) {
        const counts = [r.gpuStepCount, r.exportedStep, r.cpuStepCount];
        if (counts.some((c) => c !== want.steps))
          out.failures.push(`step counts ${counts.join(', ')}, want ${want.steps}`);
      }
      if (want.norms) {
        for (const [t, s] of r.steps.entries()) {
          if (s.gpuSkipped || !Number.isFinite(s.cpuNorm)) continue;
          const rel = Math.abs(s.gpuNorm - s.cpuNorm) / s.cpuNorm;
          out.lines.push(
            `step ${t + 1}: GPU norm ${s.gpuNorm.toPrecision(8)}, f64 norm ${s.cpuNorm.toPrecision(8)}, rel error ${rel.toExponential(2)} (tolerance ${s.normTol.toExponential(2)})`,
          );
          if (!(rel <= s.normTol))
            out.failures.push(
              `step ${t + 1}: norm error ${rel.toExponential(2)} > ${s.normTol.toExponential(2)}`,
            );
        }
      }
      if (want.clipping !== undefined && !r.steps.every((s) => s.gpuNorm > want.clipping!))
        out.failures.push(`clipping was not active (a norm <= ${want.clipping})`);
      return out;
    },
  };
}

const SIZES = [1, 5, 63, 1023, 65537];

function checks(): Check[] {
  const list: Check[] = [];
  // AdaBelief f32: both semantics, AMSGrad, decay, at offsets; a shared buffer; encode().
  for (const semantics of ['adabelief-pytorch', 'torch-optimizer'] as const)
    for (const amsgrad of [false, true])
      list.push(
        parityCheck(`AdaBelief f32 ${semantics} amsgrad=${amsgrad}`, {
          seed: 700 + list.length,
          sizes: SIZES,
          offsets: [0, 256, 512, 768, 0],
          steps: 7,
          options: {
            semantics,
            amsgrad,
            lr: 1e-2,
            weightDecay: 1e-2,
            rectify: semantics === 'adabelief-pytorch',
          },
        }),
      );
  list.push(
    parityCheck('AdaBelief f32 shared buffer, encode() 3 steps per encoder', {
      seed: 77,
      sizes: [5, 1, 1023, 3, 65537, 2],
      offsets: [0, 256, 0, 512, 0, 0],
      shared: true,
      steps: 7,
      stepsPerEncoder: 3,
      options: { amsgrad: true, rectify: false, weightDecay: 1e-3 },
    }),
  );
  list.push(
    parityCheck('AdaBelief f32, 1,000,003 elements (many workgroups, a partial last vec4)', {
      seed: 42,
      sizes: [1_000_003],
      steps: 3,
      options: { lr: 1e-2, rectify: false },
    }),
  );
  // Adam, AdamW, SGD (f32).
  const torch: [string, 'Adam' | 'AdamW' | 'SGD', Record<string, unknown>][] = [
    ['Adam L2 decay + amsgrad', 'Adam', { weightDecay: 0.01, amsgrad: true, lr: 1e-2 }],
    ['AdamW defaults', 'AdamW', {}],
    [
      'SGD momentum + dampening + decay',
      'SGD',
      { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 1e-3 },
    ],
    ['SGD nesterov', 'SGD', { lr: 0.05, momentum: 0.9, nesterov: true }],
  ];
  for (const [name, optimizer, options] of torch)
    list.push(
      parityCheck(
        name,
        { seed: 31, sizes: SIZES, steps: 6, optimizer, options },
        optimizer === 'SGD' ? 2 : 3,
      ),
    );
  // Lower precision: test/gpu/scenarios/lowp-cases.ts, the list test/gpu/lowp.test.ts runs (the large ones below).
  list.push(...LOWP_CASES.filter((c) => !isLargeLowp(c)).map(lowpCheck));
  // The guard (test/gpu/guard.test.ts's cases).
  const guardSizes = [1, 5, 1027, 65537, 3, 64];
  for (const shared of [false, true])
    list.push(
      guardCheck(
        `guard skipNonFinite: -inf in the large tensor${shared ? ', shared buffers' : ''}`,
        {
          seed: 3,
          sizes: guardSizes,
          steps: 5,
          shared,
          options: { weightDecay: 0.01 },
          skipNonFinite: true,
          inject: { 3: [{ tensor: 3, index: 40000, value: '-inf' }] },
        },
        { skipped: [false, false, true, false, false], steps: 4 },
      ),
    );
  list.push(
    guardCheck(
      'guard: 8 steps in flight, inf in steps 2 and 5',
      {
        seed: 5,
        sizes: [1027, 3, 65537],
        steps: 8,
        options: { rectify: true },
        gradScale: 256,
        inFlight: true,
        inject: { 2: [{ tensor: 0, index: 5, value: 'inf' }], 5: [{ tensor: 2, index: -1, value: 'nan' }] },
      },
      { steps: 6 },
    ),
    guardCheck(
      'guard: loss scale in a GPUBuffer',
      { seed: 6, sizes: guardSizes, steps: 4, options: {}, gradScale: 65536, scaleBuffer: true },
      { skipped: [false, false, false, false], norms: true },
    ),
    guardCheck(
      'guard: clipping by global norm',
      { seed: 8, sizes: [1, 1000, 65537, 3], steps: 3, options: {}, maxGradNorm: 0.5, gradMagnitude: 0.1 },
      { norms: true, clipping: 0.5 },
    ),
    guardCheck(
      'guard: clipping with a loss scale, shared buffer',
      { seed: 9, sizes: guardSizes, shared: true, steps: 3, options: {}, maxGradNorm: 0.1, gradScale: 1024 },
      { norms: true },
    ),
  );
  // --large: the sizes where a GPU's own dispatch shape (many workgroups, several windows) matters.
  list.push(
    parityCheck(
      'large: AdaBelief f32, 2^22 + 3 and small tensors',
      { seed: 40, sizes: [2 ** 22 + 3, 5], steps: 3, options: { lr: 1e-2 } },
      3,
      true,
    ),
    parityCheck(
      'large: SGD momentum, 2^22 + 3',
      { seed: 41, sizes: [2 ** 22 + 3], steps: 3, optimizer: 'SGD', options: { lr: 0.05, momentum: 0.9 } },
      2,
      true,
    ),
    guardCheck(
      'large: guard clipping, up to 2^22',
      {
        seed: 8,
        sizes: [2 ** 22 - 3, 5, 65537],
        steps: 3,
        options: {},
        maxGradNorm: 0.5,
        gradMagnitude: 0.1,
      },
      { norms: true, clipping: 0.5 },
    ),
  );
  list.push(...LOWP_CASES.filter(isLargeLowp).map(lowpCheck));
  return list;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const large = argv.includes('--large');
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(
      'gpu-check [--large] [--only TEXT]: the GPU against the CPU mirrors in every mode (see docs/benchmark.md)',
    );
    return 0;
  }
  const started = performance.now();
  let dawn: Awaited<ReturnType<typeof installDawnNavigator>>;
  try {
    dawn = await installDawnNavigator();
    const a = await adapterSummary();
    console.log(`Node ${process.version}, ${dawn.setup}`);
    console.log(
      `WebGPU adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}` +
        (a.fallback ? '  [CPU fallback adapter: not a GPU]' : ''),
    );
  } catch (e) {
    console.error(`gpu-check: no WebGPU adapter: ${(e as Error).message}`);
    return 2;
  }
  const list = checks().filter((c) => (large || !c.large) && (!only || c.name.includes(only)));
  console.log(
    `${list.length} checks${large ? ' (with --large)' : ' (--large adds 2^22 and 2^25-element tensors)'}; tolerances: test/helpers/tolerance.ts (${ULP_PER_STEP} ulp per step in f32, + T·3·2^-8 of the travel under bf16 state, + 1 stored ulp per step in f16 / bf16)\n`,
  );
  const failed: string[] = [];
  for (const [i, check] of list.entries()) {
    const t0 = performance.now();
    let result: { lines: string[]; failures: string[] };
    try {
      result = await check.run();
    } catch (e) {
      result = { lines: [], failures: [`threw: ${(e as Error).stack ?? String(e)}`] };
    }
    const verdict = result.failures.length ? 'FAIL' : 'PASS';
    console.log(
      `[${i + 1}/${list.length}] ${verdict} ${check.name} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`,
    );
    for (const l of result.lines) console.log(`      ${l}`);
    for (const f of result.failures) console.log(`      FAILED: ${f}`);
    if (result.failures.length) failed.push(check.name);
  }
  dawn.restore();
  const took = ((performance.now() - started) / 1e3).toFixed(0);
  console.log(
    failed.length
      ? `\ngpu-check: FAIL — ${failed.length} of ${list.length} checks failed (${failed.join('; ')}) in ${took} s`
      : `\ngpu-check: PASS — all ${list.length} checks within their tolerances in ${took} s`,
  );
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(2);
  },
);
