/**
 * In-page scenarios for the guard passes (loss scale, skip on inf/NaN, clipping by global norm), called
 * from test/gpu/guard.test.ts: the GPU optimizer against AdaBeliefCPU stepping with the same guard.
 */
import {
  AdaBelief,
  AdaBeliefCPU,
  GradScaler,
  type AdaBeliefOptions,
  type ParamEntry,
} from '../../../src/index.js';
import { STATS_WG } from '../../../src/gpu/abi.js';
import { isFallbackDevice } from '../../../src/gpu/device.js';
import { STATS_MAX_GROUPS } from '../../../src/gpu/guard.js';
import { compareArrays } from '../../helpers/compare.js';
import { paramTolerance, stateTolerance } from '../../helpers/tolerance.js';
import { randomArray, rng, withGpu } from './harness.js';
import type { Report } from './parity.js';

export interface Injection {
  tensor: number;
  /** Element index inside the tensor; negative counts from its end. */
  index: number;
  value: 'inf' | '-inf' | 'nan';
}

export interface GuardConfig {
  seed: number;
  sizes: number[];
  steps: number;
  options: Partial<AdaBeliefOptions>;
  /** Tensors in one shared pair of buffers (256-byte-aligned offsets), else one pair each. */
  shared?: boolean;
  /** Loss scale: gradients are uploaded multiplied by it (a power of two: exact) and divided on the GPU. */
  gradScale?: number;
  /** Pass the scale through a GPUBuffer the test writes, instead of a number. */
  scaleBuffer?: boolean;
  skipNonFinite?: boolean;
  maxGradNorm?: number;
  /** inf/NaN put into the uploaded gradients of step t (1-based). */
  inject?: Record<number, Injection[]>;
  /** Issue every step without awaiting (steps in flight, each finding its count's scalars), read everything at the end. */
  inFlight?: boolean;
  /** Gradient magnitude (default: random 1e-3..1). */
  gradMagnitude?: number;
}

export interface GuardStep {
  gpuSkipped: boolean;
  cpuSkipped: boolean;
  gpuNorm: number;
  cpuNorm: number;
  /** Relative tolerance of the GPU norm (see normTolerance). */
  normTol: number;
  /** For a skipped step: params and state bit-identical before and after it. */
  unchanged?: boolean;
}

export interface GuardResult {
  report: Report;
  steps: GuardStep[];
  gpuStepCount: number;
  cpuStepCount: number;
  exportedStep: number;
}

/**
 * Relative error bound of the GPU's f32 norm (shaders/step-decision.wgsl) for windows of `windowVec4s` work
 * vec4s and `tails` tail pieces, with at most `maxWorkgroups` workgroups per dispatch: each window's `stats`
 * runs g = min(ceil(vec4s / 256), maxWorkgroups, STATS_MAX_GROUPS) workgroups of 256 (src/gpu/guard.ts
 * statsPlan), each invocation adding 4 squares per vec4 it visits (ceil(vec4s / (256 g)) vec4s), then a tree
 * of 8 levels; `finalize` adds ceil(partials / 256) partials per invocation (every slot: 256-byte aligned, so
 * at least 32 partials a window and 32 a tail), then 8 levels. Summing n positive terms in order errs by at
 * most (n - 1) u relatively (u = 2^-24), so the sum is within (chain + 1) u, the square root halves that, and
 * WGSL's sqrt adds up to 4.5 ulp (2^-23 each).
 */
export function normTolerance(windowVec4s: number[], tails: number, maxWorkgroups: number): number {
  const u = 2 ** -24;
  let visits = 1;
  let partials = 32 * tails;
  for (const vec4s of windowVec4s) {
    const groups = Math.min(Math.ceil(vec4s / STATS_WG), maxWorkgroups, STATS_MAX_GROUPS);
    visits = Math.max(visits, Math.ceil(vec4s / (groups * STATS_WG)));
    partials += Math.ceil((groups * 8) / 256) * 32;
  }
  const chain = 4 * visits + 8 + Math.ceil(partials / 256) + 8;
  return ((chain + 1) * u) / 2 + 4.5 * 2 * u;
}

const f32Value = { inf: Infinity, '-inf': -Infinity, nan: NaN } as const;

export async function guarded(cfg: GuardConfig): Promise<GuardResult> {
  return withGpu(async (gpu) => {
    const r = rng(cfg.seed);
    const magnitude = cfg.gradMagnitude ?? 10 ** (r.next() * 3 - 3);
    const p0 = cfg.sizes.map((n) => randomArray(r, n, 1));
    let at = 0;
    const offsets = cfg.sizes.map((n) => {
      const o = cfg.shared ? at : 0;
      at = Math.ceil((o + n * 4) / 256) * 256;
      return o;
    });
    const sharedBytes = at;
    const pShared = cfg.shared
      ? gpu.buffer(new Float32Array(sharedBytes / 4), { label: 'p-shared' })
      : undefined;
    const gShared = cfg.shared
      ? gpu.buffer(new Float32Array(sharedBytes / 4), { label: 'g-shared' })
      : undefined;
    const entries: (ParamEntry & { size: number })[] = cfg.sizes.map((n, k) => {
      const param = pShared
        ? { buffer: pShared, offset: offsets[k]! }
        : { buffer: gpu.buffer(p0[k]!), offset: 0 };
      if (pShared) gpu.device.queue.writeBuffer(pShared, offsets[k]!, p0[k]!);
      const grad = gShared
        ? { buffer: gShared, offset: offsets[k]! }
        : { buffer: gpu.buffer(new Float32Array(n)), offset: 0 };
      return { param, grad, size: n };
    });
    const scaleBuf = cfg.scaleBuffer
      ? gpu.buffer(new Float32Array([cfg.gradScale ?? 1]), { label: 'grad-scale' })
      : undefined;
    const opt = gpu.track(
      await AdaBelief.create(gpu.device, entries, {
        ...cfg.options,
        ...(cfg.skipNonFinite !== undefined ? { skipNonFinite: cfg.skipNonFinite } : {}),
        ...(cfg.maxGradNorm !== undefined ? { maxGradNorm: cfg.maxGradNorm } : {}),
        ...(scaleBuf
          ? { gradScale: scaleBuf }
          : cfg.gradScale !== undefined
            ? { gradScale: cfg.gradScale }
            : {}),
      }),
    );
    const cpu = new AdaBeliefCPU(
      p0.map((p) => p.slice()),
      cfg.options,
    );
    const guard = {
      ...(cfg.gradScale !== undefined ? { gradScale: cfg.gradScale } : {}),
      ...(cfg.maxGradNorm !== undefined ? { maxGradNorm: cfg.maxGradNorm } : {}),
      ...(cfg.skipNonFinite !== undefined ? { skipNonFinite: cfg.skipNonFinite } : {}),
    };
    const travel = cfg.sizes.map((n) => new Float64Array(n));
    const readParams = () =>
      Promise.all(
        entries.map((e) =>
          gpu.read((e.param as { buffer: GPUBuffer }).buffer, e.size, (e.param as { offset: number }).offset),
        ),
      );
    // Windows and tails as src/gpu/layout.ts plans them (every tensor in its own exact-size buffers, or all
    // in one shared pair with room after each): an upper bound on both.
    const windowVec4s = cfg.shared ? [sharedBytes / 16] : cfg.sizes.map((n) => Math.ceil(n / 4));
    const tails = cfg.shared ? 0 : cfg.sizes.filter((n) => n % 4 !== 0).length;
    const maxWorkgroups = isFallbackDevice(gpu.device)
      ? 64
      : gpu.device.limits.maxComputeWorkgroupsPerDimension;
    const normTol = normTolerance(windowVec4s, tails, maxWorkgroups);

    const steps: GuardStep[] = [];
    const pending: Promise<void>[] = [];
    for (let t = 1; t <= cfg.steps; t++) {
      const grads = cfg.sizes.map((n) => randomArray(r, n, magnitude));
      for (const inj of cfg.inject?.[t] ?? []) {
        const g = grads[inj.tensor]!;
        g[inj.index < 0 ? g.length + inj.index : inj.index] = f32Value[inj.value];
      }
      const uploaded = grads.map((g) => g.map((x) => x * (cfg.gradScale ?? 1)));
      uploaded.forEach((g, k) => {
        const ref = entries[k]!.grad as { buffer: GPUBuffer; offset: number };
        gpu.device.queue.writeBuffer(ref.buffer, ref.offset, g);
      });
      const injected = (cfg.inject?.[t]?.length ?? 0) > 0;
      if (cfg.inFlight) {
        pending.push(opt.step());
        const before = cpu.params.map((p) => p.slice());
        cpu.step(uploaded, guard);
        cpu.params.forEach((p, k) => p.forEach((v, i) => (travel[k]![i]! += Math.abs(v - before[k]![i]!))));
        continue;
      }
      const beforeGpu = injected ? { params: await readParams(), state: await opt.exportState() } : undefined;
      await opt.step();
      const gpuReport = await opt.lastStepReport();
      const before = cpu.params.map((p) => p.slice());
      const cpuReport = cpu.step(uploaded, { ...guard, gradNorm: gpuReport.gradNorm })!;
      const own = cpuNorm(uploaded, cfg.gradScale ?? 1);
      cpu.params.forEach((p, k) => p.forEach((v, i) => (travel[k]![i]! += Math.abs(v - before[k]![i]!))));
      const step: GuardStep = {
        gpuSkipped: gpuReport.skipped,
        cpuSkipped: cpuReport.skipped,
        gpuNorm: gpuReport.gradNorm,
        cpuNorm: own,
        normTol,
      };
      if (beforeGpu && gpuReport.skipped) {
        const afterParams = await readParams();
        const afterState = await opt.exportState();
        const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
        step.unchanged =
          afterParams.every((p, k) => same(p, beforeGpu.params[k]!)) &&
          afterState.step === beforeGpu.state.step &&
          afterState.tensors.every((st, k) =>
            (['exp_avg', 'exp_avg_var'] as const).every((q) => same(st[q], beforeGpu.state.tensors[k]![q])),
          );
      }
      steps.push(step);
    }
    await Promise.all(pending);

    const report: Report = {};
    const state = await opt.exportState();
    const want = cpu.exportState();
    const params = await readParams();
    const stepsTaken = Math.max(cpu.stepCount, 1);
    // Non-finite values are expected (and must match exactly) only where one was injected and not skipped.
    const propagates = !cfg.skipNonFinite && Object.values(cfg.inject ?? {}).some((l) => l.length > 0);
    const options = propagates ? { nonFinite: 'expected' as const } : {};
    const merge = (q: string, s: Report[string]) => {
      const cur = report[q];
      if (!cur || s.worst > cur.worst) report[q] = { ...s, maxUlp: Math.max(s.maxUlp, cur?.maxUlp ?? 0) };
    };
    params.forEach((p, k) => {
      merge(
        'param',
        compareArrays(p, cpu.params[k]!, paramTolerance(cpu.params[k]!, travel[k]!, stepsTaken), options),
      );
      for (const q of ['exp_avg', 'exp_avg_var'] as const) {
        merge(
          q,
          compareArrays(
            state.tensors[k]![q],
            want.tensors[k]![q],
            stateTolerance(want.tensors[k]![q], stepsTaken),
            options,
          ),
        );
      }
    });
    return {
      report,
      steps,
      gpuStepCount: opt.stepCount,
      cpuStepCount: cpu.stepCount,
      exportedStep: state.step,
    };
  });
}

/** The f64 norm of the unscaled gradients (the CPU's own, independent of the GPU's). */
function cpuNorm(grads: Float32Array[], scale: number): number {
  const inv = Math.fround(1 / scale);
  let sum = 0;
  for (const g of grads) for (const x of g) sum += Math.fround(x * inv) ** 2;
  return Math.sqrt(sum);
}

/** GradScaler driving an optimizer: inf in some steps, scale backoff and growth as torch.amp does. */
export async function scalerRun(cfg: { infAt: number[]; steps: number; growthInterval: number }): Promise<{
  scales: number[];
  skipped: boolean[];
  stepCount: number;
}> {
  return withGpu(async (gpu) => {
    const n = 1000;
    const param = gpu.buffer(new Float32Array(n).fill(1));
    const grad = gpu.buffer(new Float32Array(n));
    const opt = gpu.track(await AdaBelief.create(gpu.device, [{ param, grad, size: n }], { gradScale: 1 }));
    const scaler = new GradScaler({ initScale: 1024, growthInterval: cfg.growthInterval });
    const scales: number[] = [];
    const skipped: boolean[] = [];
    for (let t = 1; t <= cfg.steps; t++) {
      const g = new Float32Array(n).fill(0.01 * scaler.scale);
      if (cfg.infAt.includes(t)) g[n - 1] = Infinity;
      gpu.device.queue.writeBuffer(grad, 0, g);
      await scaler.step(opt);
      skipped.push(await scaler.update(opt));
      scales.push(scaler.scale);
    }
    return { scales, skipped, stepCount: opt.stepCount };
  });
}

/**
 * What an optimizer creates with and without guard options (the guard as a module: without them it has no
 * partials and runs no guard pass): the labels of the buffers it creates, what `lastStepReport()` answers, and
 * one step of each still matching the other when the guard changes nothing.
 */
export async function guardFootprint(): Promise<{
  unguardedLabels: string[];
  guardedLabels: string[];
  unguardedReport: string;
  guardedReport: string;
  sameParams: boolean;
}> {
  return withGpu(async (gpu) => {
    const device = gpu.device;
    const p0 = randomArray(rng(5), 1027, 1);
    const g = randomArray(rng(6), 1027, 0.1);
    const run = async (guard: { maxGradNorm?: number }) => {
      const labels: string[] = [];
      const original = device.createBuffer.bind(device);
      device.createBuffer = (d: GPUBufferDescriptor) => (labels.push(d.label ?? ''), original(d));
      const param = gpu.buffer(p0);
      const grad = gpu.buffer(g);
      try {
        const opt = gpu.track(await AdaBelief.create(device, [{ param, grad, size: 1027 }], { ...guard }));
        await opt.step();
        let report: string;
        try {
          report = JSON.stringify(await opt.lastStepReport());
        } catch (e) {
          report = (e as Error).message;
        }
        return { labels, report, params: await gpu.read(param, 1027) };
      } finally {
        device.createBuffer = original;
      }
    };
    const plain = await run({});
    // A norm bound no gradient reaches: the guarded step changes nothing.
    const guarded = await run({ maxGradNorm: 1e30 });
    return {
      unguardedLabels: plain.labels,
      guardedLabels: guarded.labels,
      unguardedReport: plain.report,
      guardedReport: guarded.report,
      sameParams: plain.params.every((v, i) => Object.is(v, guarded.params[i])),
    };
  });
}
