/**
 * The optimizer modes the benchmark measures side by side (`npm start`'s "modes" section): what each one is
 * (optimizer, entry dtype, options: the optimizers' public API only) and the arrays one step streams per
 * element, from which both its bytes per element and its copy kernel (bench/copy.wgsl `copy_mode`) follow.
 * Pure data, no GPU, no DOM.
 */
import type { Repetitions, Variant } from './common.js';

/** Mode names, in the order of the table; the keys of the JSON's `modes` object. */
export const MODES = [
  'f32',
  'bf16-state',
  'f16-master',
  'f16-bf16-nomaster',
  'guarded',
  'adam',
  'sgd-momentum',
] as const;
export type Mode = (typeof MODES)[number];

/**
 * The arrays one step reads and writes, as element widths in bytes (2: f16 / bf16, 4: f32): read and
 * written in place, only read, only written. A guard's stats pass reads the gradient once more: a second
 * read-only array.
 */
export interface Traffic {
  inPlace: (2 | 4)[];
  readOnly: (2 | 4)[];
  writeOnly: (2 | 4)[];
}

export interface ModeDef {
  label: string;
  optimizer: 'AdaBelief' | 'Adam' | 'SGD';
  /** The param and grad entries' dtype. */
  dtype: 'f32' | 'f16';
  /** Options given to `create()` (public API: stateDtype, masterWeights, skipNonFinite, maxGradNorm, …). */
  options: Record<string, unknown>;
  traffic: Traffic;
  /** What the traffic is, in words (the docs and the report). */
  bytes: string;
}

export const MODE_DEFS: Record<Mode, ModeDef> = {
  f32: {
    label: 'AdaBelief f32',
    optimizer: 'AdaBelief',
    dtype: 'f32',
    options: {},
    traffic: { inPlace: [4, 4, 4], readOnly: [4], writeOnly: [] },
    bytes: 'p, m, s f32 read + written, g f32 read',
  },
  'bf16-state': {
    label: 'AdaBelief, bf16 state',
    optimizer: 'AdaBelief',
    dtype: 'f32',
    options: { stateDtype: 'bf16' },
    traffic: { inPlace: [4, 2, 2], readOnly: [4], writeOnly: [] },
    bytes: 'p f32 and m, s bf16 read + written, g f32 read',
  },
  'f16-master': {
    label: 'AdaBelief, f16 params + f32 master',
    optimizer: 'AdaBelief',
    dtype: 'f16',
    options: {},
    traffic: { inPlace: [4, 4, 4], readOnly: [2], writeOnly: [2] },
    bytes: 'master, m, s f32 read + written, g f16 read, p f16 written',
  },
  'f16-bf16-nomaster': {
    label: 'AdaBelief, f16 params, no master, bf16 state',
    optimizer: 'AdaBelief',
    dtype: 'f16',
    options: { stateDtype: 'bf16', masterWeights: false },
    traffic: { inPlace: [2, 2, 2], readOnly: [2], writeOnly: [] },
    bytes: 'p f16 and m, s bf16 read + written, g f16 read',
  },
  guarded: {
    label: 'AdaBelief, guarded (skipNonFinite + maxGradNorm)',
    optimizer: 'AdaBelief',
    dtype: 'f32',
    options: { skipNonFinite: true, maxGradNorm: 1 },
    traffic: { inPlace: [4, 4, 4], readOnly: [4, 4], writeOnly: [] },
    bytes: 'as f32, plus g read once more by the stats pass',
  },
  adam: {
    label: 'Adam f32',
    optimizer: 'Adam',
    dtype: 'f32',
    options: {},
    traffic: { inPlace: [4, 4, 4], readOnly: [4], writeOnly: [] },
    bytes: 'p, m, v f32 read + written, g f32 read',
  },
  'sgd-momentum': {
    label: 'SGD momentum f32',
    optimizer: 'SGD',
    dtype: 'f32',
    options: { lr: 1e-3, momentum: 0.9 },
    traffic: { inPlace: [4, 4], readOnly: [4], writeOnly: [] },
    bytes: 'p, momentum_buffer f32 read + written, g f32 read',
  },
};

/**
 * The traffic of the variants table's copy kernel: the f32 AdaBelief step's (p, m, s in place, g read: 28 B per
 * element), with AMSGrad's max_exp_avg_var a 4th f32 array in place (36 B); bench/common.ts bytesPerElement.
 */
export function variantTraffic(variant: Variant): Traffic {
  const f32 = MODE_DEFS.f32.traffic;
  return variant === 'amsgrad' ? { ...f32, inPlace: [...f32.inPlace, 4] } : f32;
}

/** Bytes one step of `traffic` moves per element. */
export function trafficBytes(t: Traffic): number {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return 2 * sum(t.inPlace) + sum(t.readOnly) + sum(t.writeOnly);
}

export function modeBytes(mode: Mode): number {
  return trafficBytes(MODE_DEFS[mode].traffic);
}

/** One name per distinct traffic (modes with the same arrays share one copy kernel), e.g. 'rw4.4.4-r4'. */
export function trafficKey(t: Traffic): string {
  const part = (tag: string, xs: number[]) => (xs.length ? `${tag}${xs.join('.')}` : '');
  return [part('rw', t.inPlace), part('r', t.readOnly), part('w', t.writeOnly)].filter(Boolean).join('-');
}

/**
 * Steps per repetition of the modes, capped for every mode alike (the cap the figures in docs/ were measured
 * with; a guarded optimizer once took at most 31 unconfirmed steps in flight).
 */
export const MODE_MAX_STEPS_PER_REP = 16;

/** `--modes LIST`: names from MODES, in the table's order. */
export function parseModes(text: string): Mode[] {
  const want = text.split(',').map((s) => s.trim());
  for (const m of want)
    if (!(MODES as readonly string[]).includes(m))
      throw new Error(`unknown mode '${m}' (have ${MODES.join(', ')})`);
  return MODES.filter((m) => want.includes(m));
}

/** One measurement of the modes section: a mode's fused step, or the copy kernel of a mode's traffic. */
export interface ModeMeasureSpec extends Repetitions {
  kind: 'fused' | 'copy';
  mode: Mode;
  size: number;
}

/** The measurements of one size (measured together, interleaved), and the modes each one serves. */
export interface ModeTask {
  size: number;
  specs: ModeMeasureSpec[];
  /** For each spec: the modes whose row it is (a copy kernel serves every mode of its traffic). */
  serves: Mode[][];
}

/** One task per size: every mode's fused step, then one copy kernel per distinct traffic. */
export function planModes(cfg: { sizes: number[]; modes: Mode[]; rep: Repetitions }): ModeTask[] {
  const rep = { ...cfg.rep, maxStepsPerRep: Math.min(cfg.rep.maxStepsPerRep, MODE_MAX_STEPS_PER_REP) };
  const copies = new Map<string, Mode[]>();
  for (const m of cfg.modes) {
    const key = trafficKey(MODE_DEFS[m].traffic);
    copies.set(key, [...(copies.get(key) ?? []), m]);
  }
  return cfg.sizes.map((size) => {
    const fused = cfg.modes.map((mode) => ({ kind: 'fused' as const, mode, size, ...rep }));
    const copy = [...copies.values()].map((ms) => ({ kind: 'copy' as const, mode: ms[0]!, size, ...rep }));
    return {
      size,
      specs: [...fused, ...copy],
      serves: [...cfg.modes.map((m) => [m]), ...copies.values()],
    };
  });
}
