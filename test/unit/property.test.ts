/**
 * Property-based tests (fast-check) in plain Node: the layout math (src/gpu/layout.ts), the host scalars of a
 * step (src/core/step-scalars.ts), the CPU reference (src/cpu/reference.ts) against f64 math, against its own
 * export/import and against AdaBeliefFastCPU, and the official validation messages (src/core/options.ts).
 *
 * Every property runs from one seed, printed with it. `FUZZ_SEED=<n> npx vitest run test/unit/property.test.ts`
 * replays a run (fast-check also prints the seed and the shrunk counterexample of a failure).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  AdaBeliefCPU,
  AdaBeliefFastCPU,
  Update,
  encodeWindowTable,
  maxChunkElements,
  planLayout,
  rectifyRho,
  resolveOptions,
  stepScalars,
  type AdaBeliefOptions,
  type GroupOverrides,
  type Layout,
  type StepScalars,
  type LayoutLimits,
  type TensorPlacement,
} from '../../src/internal.js';
import { HYPER_BYTES, packHyper } from '../../src/gpu/records.js';
import {
  BINDING_ALIGNMENT,
  BLOCK_VEC4,
  PIECE_WORDS,
  TABLE_HEADER_WORDS,
  findPiece,
} from '../../src/gpu/layout.js';
import { randomArray, rng } from '../gpu/scenarios/harness.js';
import { compareArrays } from '../helpers/compare.js';

/** Seed of every property: $FUZZ_SEED when set (to replay a failure), else a fixed one. */
const SEED = seedFromEnv(20260101);
console.log(`property tests: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

function seedFromEnv(fallback: number): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got '${raw}'`);
  return seed;
}

/** Runs `property` `numRuns` times from SEED and prints what ran. */
function check<Ts extends unknown[]>(name: string, numRuns: number, property: fc.IProperty<Ts>): void {
  console.log(`property '${name}': seed ${SEED}, ${numRuns} runs`);
  fc.assert(property, { seed: SEED, numRuns });
}

// ---------------------------------------------------------------------------------------------------------
// Layout: pieces, windows, tables, state slots.

const MiB = 2 ** 20;

/** Device limits: tiny ones (many pieces and windows) or real-GPU-sized ones. */
const limitsArb: fc.Arbitrary<LayoutLimits> = fc.oneof(
  fc.record({
    maxStorageBufferBindingSize: fc.integer({ min: 64, max: 4096 }).map((k) => 4 * k),
    maxBufferSize: fc.integer({ min: 64, max: 16384 }).map((k) => 4 * k),
  }),
  fc.record({
    maxStorageBufferBindingSize: fc.constantFrom(128 * MiB, 2 ** 31 - 4, 2 ** 32 - 4),
    maxBufferSize: fc.constantFrom(256 * MiB, 2 ** 32),
  }),
);

interface PlacementCase {
  limits: LayoutLimits;
  tensors: TensorPlacement[];
}

/**
 * Tensors placed in shared or separate param / grad buffers (param and grad buffer ids disjoint), in a
 * random order inside each buffer, at 256-byte-aligned offsets with random gaps, buffers ending exactly
 * at their last tensor (f16: its last 4-byte word) or a few bytes later. Sizes: 1..3, small, medium, and
 * huge for the limits (up to ~40 pieces), so no two tensors overlap and no buffer is inconsistent with its
 * tensors. A third of the cases are packed (the lower-precision modes): f16 or f32 elements, a state region of
 * 8 to 56 bytes per vec4 of work (more for f16 tensors with master weights).
 */
const placementArb: fc.Arbitrary<PlacementCase> = fc
  .tuple(limitsArb, fc.boolean(), fc.constantFrom(8, 16, 24, 32, 48), fc.boolean())
  .chain(([given, packed, stateGroupBytes, master]) => {
    // Packed pieces are whole multiples of 128 elements of up to 16 state bytes each: tiny limits get 2 KiB more.
    const limits = packed
      ? {
          maxStorageBufferBindingSize: given.maxStorageBufferBindingSize + 2048,
          maxBufferSize: given.maxBufferSize + 2048,
        }
      : given;
    const chunk = maxChunkElements(limits); // at least 64: both limits are >= 256 bytes
    const size = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) },
      { weight: 4, arbitrary: fc.integer({ min: 4, max: 300 }) },
      { weight: 3, arbitrary: fc.integer({ min: 301, max: 50_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: chunk, max: Math.min(chunk * 40, 2 ** 31) }) },
    );
    const tensor = fc.record({
      size,
      // Buffer 0 more often than the others, so that many tensors share a param / grad buffer pair.
      paramBuffer: fc.oneof(fc.constant(0), fc.nat(5)),
      gradBuffer: fc.oneof(fc.constant(0), fc.nat(5)),
      paramGap: fc.nat(3).map((k) => k * BINDING_ALIGNMENT),
      gradGap: fc.nat(3).map((k) => k * BINDING_ALIGNMENT),
      paramOrder: fc.nat(1000),
      gradOrder: fc.nat(1000),
      f16: fc.boolean(),
    });
    return fc
      .record({
        specs: fc.array(tensor, { minLength: 1, maxLength: 12 }),
        paramPad: fc.constantFrom(0, 4, 8, 12, 16, 256),
        gradPad: fc.constantFrom(0, 4, 8, 12, 16, 256),
      })
      .map(({ specs, paramPad, gradPad }) => {
        const tensors: TensorPlacement[] = specs.map((s) => ({
          size: s.size,
          param: { buffer: s.paramBuffer, offset: 0, bufferSize: 0 },
          grad: { buffer: 100 + s.gradBuffer, offset: 0, bufferSize: 0 },
          ...(packed
            ? {
                packed: true,
                elementBytes: s.f16 ? 2 : 4,
                stateGroupBytes: stateGroupBytes + (s.f16 && master ? 16 : 0),
              }
            : {}),
        }));
        // Lay each buffer's tensors out in a random order (its own for params and for grads), then give
        // every buffer its final size.
        const ends = new Map<number, number>();
        for (const role of ['param', 'grad'] as const) {
          const order = (x: (typeof specs)[number]) => (role === 'param' ? x.paramOrder : x.gradOrder);
          const byOrder = specs.map((s, k) => ({ s, k })).sort((a, b) => order(a.s) - order(b.s));
          for (const { s, k } of byOrder) {
            const place = tensors[k]![role];
            const at = Math.ceil((ends.get(place.buffer) ?? 0) / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
            place.offset = at + (role === 'param' ? s.paramGap : s.gradGap);
            const bytes = tensors[k]!.elementBytes ?? 4;
            ends.set(place.buffer, place.offset + Math.ceil((s.size * bytes) / 4) * 4);
          }
        }
        for (const t of tensors) {
          t.param.bufferSize = ends.get(t.param.buffer)! + paramPad;
          t.grad.bufferSize = ends.get(t.grad.buffer)! + gradPad;
        }
        return { limits, tensors };
      });
  });

/** Largest binding the layout may use: one binding and one buffer, in whole vec4s. */
const bindingMax = (l: LayoutLimits) =>
  Math.floor(Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize) / 16) * 16;

/**
 * Throws `what` with the two values unless `actual === expected`. The layout checks run millions of
 * times: a plain comparison, not an `expect`, in the loops.
 */
function same(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}
function atMost(actual: number, bound: number, what: string): void {
  if (!(actual <= bound)) throw new Error(`${what}: ${actual} > ${bound}`);
}

/** Every element of every tensor in exactly one piece, and in exactly one of its two dispatches. */
function checkCoverage(c: PlacementCase, layout: Layout): void {
  const chunk = layout.maxChunkElements;
  same(chunk % (BINDING_ALIGNMENT / 4), 0, 'maxChunkElements % 64');
  c.tensors.forEach((t, k) => {
    const mine = layout.pieces.filter((p) => p.tensor === k).sort((a, b) => a.start - b.start);
    let next = 0; // pieces sorted by start must tile [0, size) without gap or overlap
    for (const p of mine) {
      const where = `tensor ${k} piece at ${p.start}`;
      same(p.start, next, `${where}: starts where the previous piece ended`);
      atMost(1, p.count, `${where}: count`);
      // A piece's bytes (and a packed piece's state region) fit one binding.
      if (t.packed) atMost(p.count * (t.elementBytes ?? 4), bindingMax(c.limits), `${where}: bytes`);
      else atMost(p.count, chunk, `${where}: count`);
      next = p.start + p.count;
      // Main dispatch: whole units (a vec4, or a pair of vec4s when packed) of elements; tail dispatch: the rest.
      const unit = t.packed ? 8 : 4;
      const bytes = t.elementBytes ?? 4;
      const units = p.tail ? Math.floor(p.count / unit) : Math.ceil(p.count / unit);
      same(p.vec4s, (units * unit) / 4, `${where}: vec4s`);
      same(p.tail, p.count - Math.min(p.count, 4 * p.vec4s) > 0, `${where}: tail covers the rest`);
      same(p.paramOffset, t.param.offset + bytes * p.start, `${where}: paramOffset`);
      same(p.gradOffset, t.grad.offset + bytes * p.start, `${where}: gradOffset`);
      same(p.paramOffset % BINDING_ALIGNMENT, 0, `${where}: paramOffset aligned`);
      same(p.gradOffset % BINDING_ALIGNMENT, 0, `${where}: gradOffset aligned`);
      if (t.packed) same(p.workStart % 2, 0, `${where}: packed pieces start on a pair`);
      // A tail exactly when the last, partial unit cannot be read whole (to its 16-byte boundary) from both buffers.
      const wholeBytes = 16 * Math.ceil((p.count * bytes) / 16);
      const unitFits =
        p.paramOffset + wholeBytes <= t.param.bufferSize && p.gradOffset + wholeBytes <= t.grad.bufferSize;
      same(p.tail, p.count % unit !== 0 && !unitFits, `${where}: tail iff its last unit can't be read whole`);
    }
    same(next, t.size, `tensor ${k}: elements covered`);
  });
}

/** Each piece inside its window's bindings, windows inside their buffers and within one binding. */
function checkWindows(c: PlacementCase, layout: Layout): void {
  const max = bindingMax(c.limits);
  layout.windows.forEach((w, k) => {
    let work = 0;
    for (const pi of w.pieces) {
      const p = layout.pieces[pi]!;
      const t = c.tensors[p.tensor]!;
      const where = `window ${k} piece ${pi}`;
      same(p.window, k, `${where}: window`);
      same(w.paramBuffer, t.param.buffer, `${where}: param buffer`);
      same(w.gradBuffer, t.grad.buffer, `${where}: grad buffer`);
      same(p.workStart, work, `${where}: pieces in work order, back to back`);
      work += p.vec4s;
      same(w.paramOffset + 16 * p.paramIndex, p.paramOffset, `${where}: paramIndex`);
      same(w.gradOffset + 16 * p.gradIndex, p.gradOffset, `${where}: gradIndex`);
      if (p.vec4s > 0) {
        // The bytes the main dispatch loads: its whole units, the last one up to its 16-byte boundary.
        const bytes = t.elementBytes ?? 4;
        const touched = Math.min(16 * Math.ceil((p.count * bytes) / 16), p.vec4s * 4 * bytes);
        atMost(16 * p.paramIndex + touched, w.paramBytes, `${where}: end inside the param binding`);
        atMost(16 * p.gradIndex + touched, w.gradBytes, `${where}: end inside the grad binding`);
      }
    }
    same(w.totalVec4, work, `window ${k}: totalVec4`);
    same(w.paramOffset % BINDING_ALIGNMENT, 0, `window ${k}: paramOffset aligned`);
    same(w.gradOffset % BINDING_ALIGNMENT, 0, `window ${k}: gradOffset aligned`);
    atMost(w.stateBytes, max, `window ${k}: state slot within one binding`);
    if (w.totalVec4 === 0) return; // a window of tail pieces only is never bound
    const t = c.tensors[layout.pieces[w.pieces[0]!]!.tensor]!;
    atMost(w.paramBytes, max, `window ${k}: param binding size`);
    atMost(w.gradBytes, max, `window ${k}: grad binding size`);
    atMost(w.paramOffset + w.paramBytes, t.param.bufferSize, `window ${k}: param binding inside its buffer`);
    atMost(w.gradOffset + w.gradBytes, t.grad.bufferSize, `window ${k}: grad binding inside its buffer`);
  });
}

/** State: piece slots inside their window's slot, every slot disjoint from every other, aligned windows. */
function checkState(c: PlacementCase, layout: Layout): void {
  const slots: { buffer: number; from: number; to: number; what: string }[] = [];
  layout.windows.forEach((w, k) => {
    same(w.stateOffset % BINDING_ALIGNMENT, 0, `window ${k}: stateOffset aligned`);
    const end = w.stateOffset + w.stateBytes;
    atMost(end, layout.stateBufferBytes[w.stateBuffer]!, `window ${k}: state slot inside its buffer`);
    let stateVec4 = 0;
    for (const pi of w.pieces) {
      const p = layout.pieces[pi]!;
      const t = c.tensors[p.tensor]!;
      const group = t.stateGroupBytes ?? 16;
      // Packed: whole pairs of vec4s, tail included.
      const vec4s = t.packed ? 2 * Math.ceil(p.count / 8) : Math.ceil(p.count / 4);
      same(p.stateIndex, stateVec4, `window ${k} piece ${pi}: state back to back`);
      stateVec4 += vec4s;
      const from = w.stateOffset + group * p.stateIndex;
      const to = from + group * vec4s;
      atMost(to, end, `window ${k} piece ${pi}: state inside the window's slot`);
      slots.push({ buffer: w.stateBuffer, from, to, what: `window ${k} piece ${pi}` });
    }
    same(w.stateVec4, stateVec4, `window ${k}: stateVec4`);
  });
  layout.stateBufferBytes.forEach((bytes, b) => atMost(bytes, c.limits.maxBufferSize, `state buffer ${b}`));
  slots.sort((a, b) => a.buffer - b.buffer || a.from - b.from);
  for (let i = 1; i < slots.length; i++) {
    const [a, b] = [slots[i - 1]!, slots[i]!];
    if (a.buffer === b.buffer) atMost(a.to, b.from, `state of ${a.what} overlaps ${b.what}`);
  }
}

/** The table's words, and findPiece (the kernel's lookup) against a brute-force owner of each work vec4. */
function checkTables(layout: Layout, random: () => number): number {
  let probed = 0;
  layout.windows.forEach((w, k) => {
    const table = encodeWindowTable(layout, k);
    const blocks = Math.ceil(w.totalVec4 / BLOCK_VEC4);
    const header = [w.pieces.length, w.totalVec4, w.pieces.length * PIECE_WORDS, w.stateVec4];
    header.forEach((x, i) => same(table[i], x, `window ${k}: header word ${i}`));
    same(table.length, TABLE_HEADER_WORDS + w.pieces.length * PIECE_WORDS + Math.max(blocks, 1), 'words');
    w.pieces.forEach((pi, j) => {
      const p = layout.pieces[pi]!;
      const record = [p.workStart, p.count, p.paramIndex, p.gradIndex, p.stateIndex, p.tensor];
      const at = TABLE_HEADER_WORDS + j * PIECE_WORDS;
      record.forEach((x, i) => same(table[at + i], x, `window ${k} record ${j} word ${i}`));
    });
    // Brute force: the piece whose work range holds v, by linear search.
    const owner = (v: number) =>
      w.pieces.findIndex((pi) => {
        const p = layout.pieces[pi]!;
        return p.workStart <= v && v < p.workStart + p.vec4s;
      });
    const probes = new Set<number>();
    if (w.totalVec4 <= 4096) for (let v = 0; v < w.totalVec4; v++) probes.add(v);
    else {
      // Around every piece's first and last vec4 and every block boundary, and random ones.
      for (const pi of w.pieces) {
        const { workStart: s, vec4s: n } = layout.pieces[pi]!;
        for (const v of [s - 1, s, s + n - 1, s + n]) probes.add(v);
      }
      for (let b = 0; b < Math.min(blocks, 512); b++) for (const d of [-1, 0]) probes.add(b * BLOCK_VEC4 + d);
      for (let i = 0; i < 500; i++) probes.add(Math.floor(random() * w.totalVec4));
    }
    for (const v of probes) {
      if (v < 0 || v >= w.totalVec4) continue;
      same(findPiece(table, v), owner(v), `window ${k}: the piece of work vec4 ${v}`);
      probed++;
    }
  });
  return probed;
}

describe('layout (src/gpu/layout.ts)', () => {
  test('random placements: exact coverage, pieces inside their bindings, aligned, disjoint state, table lookup', () => {
    let pieces = 0;
    let windows = 0;
    let probes = 0;
    let shared = 0;
    check(
      'planLayout',
      500,
      fc.property(placementArb, fc.integer(), (c, seed) => {
        const layout = planLayout(c.tensors, c.limits);
        pieces += layout.pieces.length;
        windows += layout.windows.length;
        shared += layout.windows.filter((w) => w.pieces.length > 1).length;
        checkCoverage(c, layout);
        checkWindows(c, layout);
        checkState(c, layout);
        probes += checkTables(layout, rng(seed).next);
      }),
    );
    console.log(
      `planLayout: ${pieces} pieces in ${windows} windows (${shared} of several pieces), ` +
        `${probes} table lookups checked`,
    );
  });

  test('limits below one 256-byte chunk are rejected, naming the bytes', () => {
    check(
      'maxChunkElements rejects',
      100,
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 ** 20 }), (small, other) => {
        const limits = { maxStorageBufferBindingSize: small, maxBufferSize: small + other };
        expect(() => maxChunkElements(limits)).toThrow(
          `device limits too small for one chunk: ${small} bytes`,
        );
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Host scalars.

/** Valid options over their whole range (beta2 up to the largest double below 1). */
const optionsArb: fc.Arbitrary<AdaBeliefOptions> = fc.record({
  lr: fc.oneof(fc.constant(0), fc.double({ min: 1e-8, max: 10, noNaN: true })),
  betas: fc.tuple(
    fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
    fc.oneof(
      fc.constantFrom(0, 0.9, 0.99, 0.999, 1 - 2 ** -53),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    ),
  ),
  eps: fc.oneof(fc.constant(0), fc.double({ min: 1e-30, max: 1, noNaN: true })),
  weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 1e-8, max: 1, noNaN: true })),
  amsgrad: fc.boolean(),
  weightDecouple: fc.boolean(),
  fixedDecay: fc.boolean(),
  rectify: fc.boolean(),
  degeneratedToSgd: fc.boolean(),
  semantics: fc.constantFrom('adabelief-pytorch' as const, 'torch-optimizer' as const),
});
const stepArb = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1_000_000 }));

describe('host scalars (src/core/step-scalars.ts)', () => {
  test('finite for valid options; decay, eps and AMSGrad fields as the rule says', () => {
    check(
      'stepScalars fields',
      1000,
      fc.property(optionsArb, stepArb, (o, t) => {
        const s = stepScalars(o, t);
        const numeric = { ...s, rho: 0 } as Record<string, unknown>;
        for (const [key, value] of Object.entries(numeric)) {
          if (typeof value === 'number') expect(Number.isFinite(value), `${key} = ${value}`).toBe(true);
        }
        if (o.rectify) expect(Number.isFinite(s.rho)).toBe(true);
        else expect(s.rho).toBeNaN();
        // Decay: exactly 1 / 0 when it is off, one of the two modes otherwise.
        const wd = o.weightDecay;
        if (o.weightDecouple) {
          expect(s.decayMul).toBe(o.fixedDecay ? 1 - wd : 1 - o.lr * wd);
          expect(s.l2).toBe(0);
        } else {
          expect(s.decayMul).toBe(1);
          expect(s.l2).toBe(wd);
        }
        if (wd === 0) expect([s.decayMul, s.l2]).toEqual([1, 0]);
        expect(s.oneMinusBeta1).toBe(1 - o.betas[0]);
        expect(s.oneMinusBeta2).toBe(1 - o.betas[1]);
        expect(s.sqrtBc2).toBe(Math.sqrt(1 - o.betas[1] ** t));
        expect(s.sqrtBc2).toBeGreaterThan(0);
        expect(s.sqrtBc2).toBeLessThanOrEqual(1);
        // eps goes to s (official, or no AMSGrad) or after the max (torch-optimizer AMSGrad), never both.
        const after = o.amsgrad && o.semantics === 'torch-optimizer';
        expect([s.epsS, s.epsMax]).toEqual(after ? [0, o.eps] : [o.eps, 0]);
        if (!o.amsgrad) expect(s.denomFromMax).toBe(false);
      }),
    );
  });

  test('rectify: adaptive exactly where the f64 rho_t >= 5 (official) / > 4 (torch-optimizer)', () => {
    check(
      'rectify phase',
      1000,
      fc.property(optionsArb, stepArb, (options, t) => {
        const o = { ...options, rectify: true };
        const b2 = o.betas[1];
        // DESIGN.md §1: Nmax = 2/(1-b2) - 1, N = Nmax - 2 t b2^t / (1 - b2^t), in f64.
        const nMax = 2 / (1 - b2) - 1;
        const n = nMax - (2 * t * b2 ** t) / (1 - b2 ** t);
        expect(rectifyRho(b2, t)).toEqual({ rhoInf: nMax, rho: n });
        const official = o.semantics === 'adabelief-pytorch';
        const adaptive = official ? n >= 5 : n > 4;
        const s = stepScalars(o, t);
        const expected = adaptive ? Update.adaptive : o.degeneratedToSgd ? Update.sgd : Update.none;
        expect(s.update, `rho ${n}`).toBe(expected);
        // Official rectified step: sqrt(s) + eps, no bias correction, never smax.
        if (official && adaptive) expect([s.divideBc2, s.denomFromMax]).toEqual([false, false]);
        else expect([s.divideBc2, s.denomFromMax]).toEqual([true, o.amsgrad]);
      }),
    );
  });

  test('rho_t grows with t: once adaptive, every later step is adaptive', () => {
    check(
      'rectify monotone',
      300,
      fc.property(
        optionsArb,
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        (options, a, b) => {
          const o = { ...options, rectify: true };
          const [t1, t2] = a < b ? [a, b] : [b, a];
          if (stepScalars(o, t1).update === Update.adaptive)
            expect(stepScalars(o, t2).update).toBe(Update.adaptive);
        },
      ),
    );
  });

  test('step size: 0 without a move, negative with lr > 0, bounded by lr / bc1', () => {
    check(
      'stepSize',
      1000,
      fc.property(optionsArb, stepArb, (o, t) => {
        const s = stepScalars(o, t);
        const bc1 = 1 - o.betas[0] ** t;
        if (s.update === Update.none) expect(s.stepSize).toBe(0);
        else if (o.lr > 0) expect(s.stepSize).toBeLessThan(0);
        else expect(s.stepSize === 0).toBe(true); // -0 or 0
        // RAdam's factor is at most 1 (rho_t <= rho_inf); the official one adds sqrt(bc2) <= 1.
        const bound = (o.lr / bc1) * (1 + 1e-12);
        expect(Math.abs(s.stepSize)).toBeLessThanOrEqual(bound);
        if (!o.rectify) expect(s.stepSize).toBe(-(o.lr / bc1));
        if (o.rectify && s.update === Update.sgd)
          expect(s.stepSize).toBe(o.semantics === 'torch-optimizer' ? -o.lr : -(1 / bc1) * o.lr);
      }),
    );
  });

  test('packHyper writes every scalar rounded to f32 once, and the flags', () => {
    check(
      'packHyper',
      500,
      fc.property(optionsArb, stepArb, fc.nat(3), (o, t, slot) => {
        const s = stepScalars(o, t);
        const view = new DataView(new ArrayBuffer(HYPER_BYTES * 4));
        packHyper(s, view, slot * HYPER_BYTES);
        const at = slot * HYPER_BYTES;
        expect(view.getUint32(at, true)).toBe(s.update);
        const flags = view.getUint32(at + 4, true);
        expect([flags & 1, flags & 2, flags & 4]).toEqual([
          s.denomFromMax ? 1 : 0,
          s.divideBc2 ? 2 : 0,
          s.l2 !== 0 ? 4 : 0,
        ]);
        const fields = [s.decayMul, s.l2, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.eps];
        const rest = [s.epsS, s.epsMax, s.sqrtBc2, s.stepSize];
        [...fields, ...rest].forEach((x, k) =>
          expect(view.getFloat32(at + 16 + 4 * k, true)).toBe(Math.fround(x)),
        );
      }),
    );
  });

  test('the step count must be an integer >= 1, and the message names it', () => {
    check(
      'stepScalars rejects t',
      200,
      fc.property(optionsArb, fc.oneof(fc.integer({ max: 0 }), fc.double({ noInteger: true })), (o, t) => {
        expect(() => stepScalars(o, t)).toThrow(`step count must be an integer >= 1, got ${t}`);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The CPU reference.

/**
 * Options for the CPU runs: the whole valid range (optionsArb) except lr <= 1 (so the decoupled decay
 * factor 1 - lr·wd stays in [0, 1] and does not amplify errors step after step) and eps >= 1e-16 (eps = 0
 * lets the denominator be exactly 0 for an element whose residual cancels: inf on one side, a finite
 * value on the other, which no error bound states).
 */
const cpuOptionsArb = optionsArb.map((o) => ({ ...o, lr: Math.min(o.lr, 1), eps: Math.max(o.eps, 1e-16) }));

/** Per-parameter overrides (param groups), over the same ranges. */
const overridesArb: fc.Arbitrary<GroupOverrides> = fc.record(
  {
    lr: fc.double({ min: 0, max: 1, noNaN: true }),
    betas: fc.tuple(
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    ),
    eps: fc.double({ min: 1e-16, max: 1, noNaN: true }),
    weightDecay: fc.double({ min: 0, max: 1, noNaN: true }),
  },
  { requiredKeys: [] },
);

/** A run's data: sizes, per-tensor overrides, steps, and the seed of its random values. */
const runArb = fc.record({
  sizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 6, max: 300 })), {
    minLength: 1,
    maxLength: 4,
  }),
  overrides: fc.array(fc.option(overridesArb, { nil: undefined }), { minLength: 4, maxLength: 4 }),
  steps: fc.integer({ min: 1, max: 6 }),
  dataSeed: fc.integer(),
  paramScale: fc.integer({ min: -3, max: 1 }).map((k) => 10 ** k),
  gradScale: fc.integer({ min: -3, max: 1 }).map((k) => 10 ** k),
});
type Run = typeof runArb extends fc.Arbitrary<infer R> ? R : never;

/** Initial parameters and every step's gradients of a run, as f32 values. */
function runData(run: Run): { params: Float32Array[]; grads: Float32Array[][] } {
  const r = rng(run.dataSeed);
  const params = run.sizes.map((n) => randomArray(r, n, run.paramScale));
  const grads = Array.from({ length: run.steps }, () =>
    run.sizes.map((n) => randomArray(r, n, run.gradScale)),
  );
  return { params, grads };
}

const STATE_NAMES = ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const;
const EPS_F32 = 2 ** -23;
const F32_MAX = 3.4028234663852886e38;

/**
 * First-order error analysis of one tensor's run. Rounding errors scale with the magnitudes of the
 * operands that produced a value, not with the value: `m = b1·m0 + (1-b1)·g` may cancel to nearly 0 while
 * carrying an error of an ulp of `b1·m0`. So each value gets a *scale*: the same recurrence over absolute
 * values (an upper bound of |value|),
 *   G = |g| + l2·(|p·decayMul| + P)      (L2: the decayed gradient's operands, and the parameter's error)
 *   M = b1·M + (1-b1)·G                  >= |m|
 *   S = b2·S + (1-b2)·(G + M)² + epsS    >= s     (r = g - m has scale G + M)
 *   Smax = max(Smax, S) + epsMax
 *   U = |stepSize|·(M + |m|·(1 + V / 2v)) / D   the update m / D: m's error, and D's (sqrt halves v's
 *                                                relative error V / v), v the denominator's s or smax
 *   P += U + |p·decayMul| + |p_new|      the parameter: its updates and its two roundings per step
 *        + 2^-150/ε · (1 + |m / D|)      (and their floor below f32's normal range: UNDERFLOW)
 * An f32 step rounds each operation (and each host scalar) once, <= ε/2 of its operands' scale, and errors
 * carried from earlier steps shrink by b1, b2 <= 1: after T steps every value is within c·T·ε·scale of the
 * exact one, c a small count of operations per step (each test states its budget).
 */
/**
 * Below f32's normal range rounding errors stop shrinking: any f32 rounding may be off by half the
 * subnormal spacing 2^-150 (a step size under 2^-149 becomes 0). In scale units (multiplied by ε later).
 */
const UNDERFLOW = 2 ** -150 / EPS_F32;

const SCALE_NAMES = ['param', 'exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const;

class ErrorScales {
  readonly exp_avg: Float64Array;
  readonly exp_avg_var: Float64Array;
  readonly max_exp_avg_var: Float64Array;
  readonly param: Float64Array;

  constructor(n: number) {
    [this.exp_avg, this.exp_avg_var, this.max_exp_avg_var, this.param] = [0, 0, 0, 0].map(
      () => new Float64Array(n),
    ) as [Float64Array, Float64Array, Float64Array, Float64Array];
  }

  /** One step with scalars `h`: the parameter before and after it, the gradient, the state after it. */
  step(h: StepScalars, before: ArrayLike<number>, after: ArrayLike<number>, g: ArrayLike<number>, st: State) {
    for (let i = 0; i < before.length; i++) {
      const pd = Math.abs(before[i]! * h.decayMul);
      const G = Math.abs(g[i]!) + Math.abs(h.l2) * (pd + this.param[i]!);
      const M = (this.exp_avg[i] = h.beta1 * this.exp_avg[i]! + h.oneMinusBeta1 * G);
      const R = G + M;
      const S = (this.exp_avg_var[i] = h.beta2 * this.exp_avg_var[i]! + h.oneMinusBeta2 * R * R + h.epsS);
      let [v, V] = [st.exp_avg_var[i]!, S];
      if (st.max_exp_avg_var) {
        const smax = Math.max(this.max_exp_avg_var[i]!, S) + h.epsMax;
        this.max_exp_avg_var[i] = smax;
        if (h.denomFromMax) [v, V] = [st.max_exp_avg_var[i]!, smax];
      }
      let U = 0;
      let direction = 0;
      const m = Math.abs(st.exp_avg[i]!);
      if (h.update === Update.adaptive) {
        const root = Math.sqrt(v);
        const D = (h.divideBc2 ? root / h.sqrtBc2 : root) + h.eps;
        direction = m / D;
        U = (Math.abs(h.stepSize) * (M + m * (1 + V / (2 * Math.max(v, Number.MIN_VALUE))))) / D;
      } else if (h.update === Update.sgd) [U, direction] = [Math.abs(h.stepSize) * M, m];
      this.param[i]! += U + pd + Math.abs(after[i]!) + UNDERFLOW * (1 + direction);
    }
  }
}

type State = {
  exp_avg: ArrayLike<number>;
  exp_avg_var: ArrayLike<number>;
  max_exp_avg_var?: ArrayLike<number>;
};

/** Steps `ref` (and, through `stepOthers`, the runs compared with it) and its error scales through `grads`. */
function runTracked<T extends Float32Array | Float64Array>(
  ref: AdaBeliefCPU<T>,
  grads: Float32Array[][],
  toRef: (g: Float32Array) => T,
  stepOthers: (g: Float32Array[]) => void,
): ErrorScales[] {
  const scales = ref.params.map((p) => new ErrorScales(p.length));
  for (const g of grads) {
    const before = ref.params.map((p) => p.slice());
    ref.step(g.map(toRef));
    stepOthers(g);
    const state = ref.exportState().tensors;
    // The bounds hold while f32 can hold the values: a run that overflows (a huge lr·m/D feeding L2 decay
    // back, step after step) is discarded, as f32 and f64 then legitimately part ways (inf vs finite).
    const values = [...ref.params, ...state.flatMap((st) => STATE_NAMES.map((n) => st[n] ?? []))];
    fc.pre(values.every((xs) => xs.every((x) => Math.abs(x) <= F32_MAX)));
    scales.forEach((sc, k) =>
      sc.step(ref.scalarsFor(k, ref.stepCount), before[k]!, ref.params[k]!, g[k]!, state[k]!),
    );
    // Likewise a run whose error bound itself overflows f64 (L2 decay feeding the param's bound back into the
    // gradient's, step after step, e.g. with betas [0, 0]): an infinite tolerance would pass any difference, and
    // compareArrays fails it rather than let it (test/helpers/compare.ts).
    fc.pre(scales.every((sc) => SCALE_NAMES.every((n) => sc[n].every(Number.isFinite))));
  }
  return scales;
}

interface Worst {
  fraction: number;
  where: string;
}

/** Compares params and every state buffer of `got` with `ref` within `perStep · T · ε · scale`. */
function expectWithinScales(
  got: { params: ArrayLike<number>[]; state: State[] },
  ref: { params: ArrayLike<number>[]; state: State[] },
  scales: ErrorScales[],
  perStep: number,
  steps: number,
  worst: Worst,
  label: string,
): void {
  const k = perStep * steps * EPS_F32;
  scales.forEach((sc, j) => {
    const pairs: [string, ArrayLike<number>, ArrayLike<number>, Float64Array][] = [
      ['param', got.params[j]!, ref.params[j]!, sc.param],
    ];
    for (const name of STATE_NAMES) {
      const want = ref.state[j]![name];
      if (want) pairs.push([name, got.state[j]![name]!, want, sc[name]]);
    }
    for (const [name, a, b, scale] of pairs) {
      const stats = compareArrays(a, b, (i) => k * scale[i]!);
      expect(stats.nanMismatch, `tensor ${j} ${name}: NaN on one side only`).toBe(0);
      expect(stats.worst, `tensor ${j} ${name}: element ${stats.worstIndex}`).toBeLessThanOrEqual(1);
      if (stats.worst > worst.fraction)
        Object.assign(worst, { fraction: stats.worst, where: `${name}, ${label}` });
    }
  });
}

/** Element-wise identical (NaN equals NaN, -0 differs from 0): the first differing index, or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/**
 * f32 math (Float32Array) against f64 math (Float64Array) of AdaBeliefCPU, same inputs. Per step the f32
 * path rounds the host scalars b1, 1-b1, b2, 1-b2, eps, sqrt(bc2), step size, decay (<= ε/2 each, relative)
 * and every operation: m 3, r 1, s 5, sqrt, / sqrt(bc2), + eps, m / D, step × direction, p 2 (+ L2's 2):
 * about 10 ε of its operands' scale along the longest path. Budget: F64_ULP_PER_STEP = 16 ulp per step.
 */
const F64_ULP_PER_STEP = 16;
/** As test/study/fast.test.ts: 4 ulp per step — here of the operands' scale (see ErrorScales). */
const FAST_ULP_PER_STEP = 4;

describe('CPU reference (src/cpu/reference.ts)', () => {
  test(`f32 math stays within ${F64_ULP_PER_STEP} ulp/step (of the operands' scale) of f64 math`, () => {
    const worst: Worst = { fraction: 0, where: '' };
    check(
      'f32 vs f64',
      300,
      fc.property(cpuOptionsArb, runArb, (options, run) => {
        const { params, grads } = runData(run);
        const f32 = new AdaBeliefCPU(
          params.map((p, k) => ({ param: p.slice(), ...run.overrides[k] })),
          options,
        );
        const f64 = new AdaBeliefCPU(
          params.map((p, k) => ({ param: Float64Array.from(p), ...run.overrides[k] })),
          options,
        );
        const scales = runTracked(
          f64,
          grads,
          (g) => Float64Array.from(g),
          (g) => f32.step(g.map((x) => x.slice())),
        );
        expectWithinScales(
          { params: f32.params, state: f32.exportState().tensors },
          { params: f64.params, state: f64.exportState().tensors },
          scales,
          F64_ULP_PER_STEP,
          run.steps,
          worst,
          JSON.stringify(options),
        );
      }),
    );
    console.log(
      `f32 vs f64: worst ${(worst.fraction * 100).toFixed(1)}% of the tolerance (${F64_ULP_PER_STEP} ulp/step) ` +
        `at ${worst.where}`,
    );
  });

  test(`AdaBeliefFastCPU stays within ${FAST_ULP_PER_STEP} ulp/step (of the operands' scale) of AdaBeliefCPU (f32)`, () => {
    const worst: Worst = { fraction: 0, where: '' };
    check(
      'fast vs reference',
      300,
      fc.property(cpuOptionsArb, runArb, (options, run) => {
        const { params, grads } = runData(run);
        const entries = () => params.map((p, k) => ({ param: p.slice(), ...run.overrides[k] }));
        const ref = new AdaBeliefCPU(entries(), options);
        const fast = new AdaBeliefFastCPU(entries(), options);
        const scales = runTracked(
          ref,
          grads,
          (g) => g.slice(),
          (g) => fast.step(g.map((x) => x.slice())),
        );
        expectWithinScales(
          { params: fast.params, state: fast.exportState().tensors },
          { params: ref.params, state: ref.exportState().tensors },
          scales,
          FAST_ULP_PER_STEP,
          run.steps,
          worst,
          JSON.stringify(options),
        );
      }),
    );
    console.log(
      `fast vs reference: worst ${(worst.fraction * 100).toFixed(1)}% of the tolerance ` +
        `(${FAST_ULP_PER_STEP} ulp/step) at ${worst.where}`,
    );
  });

  test('exportState → importState into a fresh optimizer → step equals the uninterrupted run, bit for bit', () => {
    check(
      'export/import',
      200,
      fc.property(
        cpuOptionsArb,
        runArb,
        fc.nat(),
        fc.boolean(),
        fc.option(cpuOptionsArb, { nil: undefined }),
        (options, run, split, useF64, otherOptions) => {
          const { params, grads } = runData(run);
          const splitAt = split % (run.steps + 1);
          const Ctor = useF64 ? Float64Array : Float32Array;
          const make = (o: Partial<AdaBeliefOptions>) =>
            new AdaBeliefCPU<Float32Array | Float64Array>(
              params.map((p, k) => ({ param: Ctor.from(p), ...run.overrides[k] })),
              o,
            );
          const stepAll = (opt: AdaBeliefCPU<Float32Array | Float64Array>, gs: Float32Array[][]) =>
            gs.forEach((g) => opt.step(g.map((x) => Ctor.from(x))));
          const whole = make(options);
          stepAll(whole, grads);
          const first = make(options);
          stepAll(first, grads.slice(0, splitAt));
          const saved = first.exportState();
          const savedParams = first.params.map((p) => p.slice());
          // The export is a copy: stepping the exporter further must not change it.
          const snapshot = saved.tensors.map((st) => st.exp_avg_var.slice());
          first.step(run.sizes.map((n) => new Ctor(n).fill(1)));
          saved.tensors.forEach((st, j) => expect(firstDifference(st.exp_avg_var, snapshot[j]!)).toBe(-1));
          // A new optimizer built with other options (same amsgrad) takes the saved parameters and state;
          // importState restores the step count and the options too.
          const second = make({ ...otherOptions, amsgrad: options.amsgrad });
          second.params.forEach((p, j) => p.set(savedParams[j]!));
          second.importState(saved);
          expect(second.stepCount).toBe(splitAt);
          stepAll(second, grads.slice(splitAt));
          const [a, b] = [whole.exportState(), second.exportState()];
          expect(b.step).toBe(a.step);
          expect(b.options).toEqual(a.options);
          run.sizes.forEach((_, j) => {
            expect(firstDifference(second.params[j]!, whole.params[j]!), `param ${j}`).toBe(-1);
            for (const name of STATE_NAMES) {
              const [x, y] = [a.tensors[j]![name], b.tensors[j]![name]];
              if (x === undefined) expect(y).toBeUndefined();
              else expect(firstDifference(y!, x), `${name} ${j}`).toBe(-1);
            }
          });
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Validation messages.

/**
 * Python's `str(float)` / `repr(float)` (what `'{}'.format(x)` prints in the official package): the
 * shortest round-trip digits, positional for decimal exponents -4 ..= 15 (with `.0` when integral), else
 * scientific with a sign and at least two exponent digits (`1e-05`, `1.5e+16`), and nan / inf / -inf.
 */
function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [digits, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${digits}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const positional = String(x); // JavaScript is positional for exponents -7 ..= 20: the same digits
  return Number.isInteger(x) ? `${positional}.0` : positional;
}

/** What Python may print for `x`: a float's repr, or an int's when a caller passed an integer. */
function pythonReprs(x: number): string[] {
  const asInt = Number.isInteger(x) && Math.abs(x) < 1e21 ? [BigInt(x).toString()] : [];
  return [pythonFloatRepr(x), ...asInt];
}

/** Invalid values: negatives over every magnitude (fc.double and decimal ones), -Infinity, NaN. */
const negativeArb = fc.oneof(
  fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
  fc
    .tuple(fc.integer({ min: 1, max: 99999 }), fc.integer({ min: -30, max: 25 }))
    .map(([m, e]) => -m * 10 ** e),
  fc.constant(Number.NaN),
);
const betaInvalidArb = fc.oneof(
  negativeArb,
  fc.double({ min: 1, noNaN: true }),
  fc
    .tuple(fc.integer({ min: 1, max: 99999 }), fc.integer({ min: 0, max: 20 }))
    .map(([m, e]) => 1 + m * 10 ** e),
);
const maybe = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof(
    valid.map((v) => ({ v, bad: false })),
    invalid.map((v) => ({ v, bad: true })),
  );

describe('validation messages (src/core/options.ts)', () => {
  test('pythonFloatRepr prints what CPython prints', () => {
    // Values whose CPython repr is known (python3 -c 'print(repr(x))').
    const known: [number, string][] = [
      [1e-16, '1e-16'],
      [-0.001, '-0.001'],
      [-0.0001, '-0.0001'],
      [-1e-5, '-1e-05'],
      [-1.5e-7, '-1.5e-07'],
      [-1e-8, '-1e-08'],
      [0.1, '0.1'],
      [-1, '-1.0'],
      [1e16, '1e+16'],
      [123456789012345.6, '123456789012345.6'],
      [-5e-324, '-5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
    ];
    for (const [x, repr] of known) expect(pythonFloatRepr(x)).toBe(repr);
  });

  test('random invalid values: exactly the official message (with Python repr), first invalid field first', () => {
    const fieldsArb = fc
      .record({
        lr: maybe(fc.double({ min: 0, max: 10, noNaN: true }), negativeArb),
        eps: maybe(fc.double({ min: 0, max: 1, noNaN: true }), negativeArb),
        beta0: maybe(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), betaInvalidArb),
        beta1: maybe(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), betaInvalidArb),
        weightDecay: maybe(fc.double({ min: 0, max: 1, noNaN: true }), negativeArb),
      })
      .filter((f) => Object.values(f).some((x) => x.bad));
    check(
      'validation messages',
      500,
      fc.property(fieldsArb, (f) => {
        // The official order: lr, eps, betas[0], betas[1], weight_decay.
        const [label, value] = (
          [
            [f.lr, 'Invalid learning rate'],
            [f.eps, 'Invalid epsilon value'],
            [f.beta0, 'Invalid beta parameter at index 0'],
            [f.beta1, 'Invalid beta parameter at index 1'],
            [f.weightDecay, 'Invalid weight_decay value'],
          ] as const
        )
          .filter(([x]) => x.bad)
          .map(([x, l]) => [l, x.v] as const)[0]!;
        const allowed = pythonReprs(value).map((repr) => `${label}: ${repr}`);
        const hyper = {
          lr: f.lr.v,
          eps: f.eps.v,
          betas: [f.beta0.v, f.beta1.v] as const,
          weightDecay: f.weightDecay.v,
        };
        const messageOf = (fn: () => unknown) => {
          try {
            fn();
          } catch (e) {
            expect(e).toBeInstanceOf(RangeError);
            return (e as Error).message;
          }
          throw new Error('accepted an invalid value');
        };
        expect(allowed).toContain(messageOf(() => resolveOptions(hyper)));
        const param = new Float32Array(2);
        expect(allowed).toContain(messageOf(() => new AdaBeliefCPU([{ param, ...hyper }])));
        const cpu = new AdaBeliefCPU([param]);
        expect(allowed).toContain(messageOf(() => cpu.set(hyper)));
        expect(cpu.options, 'a rejected set() changes nothing').toEqual(resolveOptions({}));
      }),
    );
  });
});
