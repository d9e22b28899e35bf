/**
 * The host ↔ WGSL contract (src/gpu/abi.ts) against the shaders themselves, in plain Node: struct fields,
 * types and byte offsets, shared constants, overrides, the binding number, access mode and type of every
 * resource variable, and the variables every entry point uses. Broken copies of the shaders show that each
 * kind of mismatch fails with a message naming the struct, constant or binding.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  ENTRY_POINTS,
  type EntryPoint,
  HYPER,
  RESOURCES,
  SHADER_FILES,
  STEPS,
  bindGroupEntries,
  layoutEntries,
} from '../../src/gpu/abi.js';
import { shaderCode } from '../../src/gpu/pipelines.js';
import { initialSteps, packHyper, readSteps, writeCount, writeStepsInputs } from '../../src/gpu/records.js';
import { DEFAULTS } from '../../src/core/options.js';
import { stepScalars } from '../../src/core/step-scalars.js';
import { checkShaderAbi, composeModules } from '../helpers/abi-check.js';
import { parseWgsl, structLayout } from '../helpers/wgsl.js';

const FILES = [...new Set(Object.values(SHADER_FILES).flat())];
const sources: Record<string, string> = Object.fromEntries(
  FILES.map((f) => [f, readFileSync(new URL(`../../shaders/${f}`, import.meta.url), 'utf8')]),
);

/** The check's messages for the shaders with `file`'s text changed by `edit` (which must change it). */
function errorsAfter(file: string, edit: (code: string) => string): string[] {
  const changed = edit(sources[file]!);
  expect(changed, `the edit of ${file} changes it`).not.toBe(sources[file]);
  return checkShaderAbi(composeModules({ ...sources, [file]: changed }));
}

describe('the shaders agree with src/gpu/abi.ts', () => {
  test('structs, constants, overrides, bindings and entry points', () => {
    const errors = checkShaderAbi(composeModules(sources));
    expect(errors, errors.join('\n')).toEqual([]);
  });

  test('the pipelines compile exactly the modules checked here', () => {
    for (const name of Object.keys(SHADER_FILES) as (keyof typeof SHADER_FILES)[]) {
      expect(shaderCode(name)).toBe(composeModules(sources)[name]);
    }
  });

  test('the WGSL layout rules the check applies (vec alignment, arrays, nesting)', () => {
    const m = parseWgsl(
      'struct A { x: f32, v: vec2<f32>, w: vec4<u32>, y: u32 }\nstruct B { a: u32, inner: A, tail: array<vec2<f32>> }',
    );
    expect(structLayout(m.structs.get('A')!, m.structs)).toMatchObject({ align: 16, size: 48 });
    expect(structLayout(m.structs.get('A')!, m.structs).fields.map((f) => f.offset)).toEqual([0, 8, 16, 32]);
    expect(structLayout(m.structs.get('B')!, m.structs).fields.map((f) => f.offset)).toEqual([0, 16, 64]);
  });
});

describe('a mismatch fails, naming what differs', () => {
  test('two fields of a struct swapped', () => {
    const errors = errorsAfter('common.wgsl', (c) =>
      c.replace(/( {2}inv_scale: f32,[^\n]*\n)( {2}clip_coef: f32,[^\n]*\n)/, '$2$1'),
    );
    expect(errors.join('\n')).toMatch(
      /struct Steps \(adabelief\): field 12 is 'clip_coef: f32 @ 48' in WGSL/,
    );
  });

  test('a field of a struct retyped', () => {
    const errors = errorsAfter('adabelief.wgsl', (c) => c.replace('  step_size: f32,', '  step_size: u32,'));
    expect(errors.join('\n')).toMatch(/struct Hyper \(adabelief\): field 14 is 'step_size: u32 @ 56'/);
  });

  test('a shared constant changed', () => {
    const errors = errorsAfter('common.wgsl', (c) =>
      c.replace('BLOCK_VEC4: u32 = 256u', 'BLOCK_VEC4: u32 = 128u'),
    );
    expect(errors.join('\n')).toMatch(/constant BLOCK_VEC4 \(adabelief\): 128u in WGSL, 256 in abi.ts/);
  });

  test('a flag bit changed', () => {
    const errors = errorsAfter('adabelief.wgsl', (c) =>
      c.replace('FLAG_BELIEF: u32 = 8u', 'FLAG_BELIEF: u32 = 32u'),
    );
    expect(errors.join('\n')).toMatch(/constant FLAG_BELIEF/);
  });

  test('a constant the host does not know of', () => {
    const errors = errorsAfter('step-decision.wgsl', (c) => `const EXTRA: u32 = 3u;\n${c}`);
    expect(errors.join('\n')).toMatch(/constant EXTRA \(step-decision\): neither in abi.ts/);
  });

  test('a binding renumbered', () => {
    const errors = errorsAfter('step-decision.wgsl', (c) =>
      c.replace(
        /@binding\(\d+\) var<storage, read_write> partials/,
        '@binding(9) var<storage, read_write> partials',
      ),
    );
    expect(errors.join('\n')).toMatch(/binding of 'partials' \(step-decision\): @binding\(9\) in WGSL/);
  });

  test('an access mode changed', () => {
    const errors = errorsAfter('adabelief.wgsl', (c) =>
      c.replace(/var<storage, read> steps/, 'var<storage, read_write> steps'),
    );
    expect(errors.join('\n')).toMatch(/binding of 'steps' \(adabelief\): var<storage, read_write> in WGSL/);
  });

  test('an entry point using a variable its bind group layout lacks', () => {
    const errors = errorsAfter('step-decision.wgsl', (c) =>
      c.replace(/(fn finalize\([\s\S]*?\) \{)/, '$1\n  _ = table.piece_count;'),
    );
    expect(errors.join('\n')).toMatch(/entry point finalize \(step-decision\): uses 'table'/);
  });

  test('an override retyped', () => {
    const errors = errorsAfter('adabelief.wgsl', (c) =>
      c.replace('override AMSGRAD: bool', 'override AMSGRAD: u32'),
    );
    expect(errors.join('\n')).toMatch(/override AMSGRAD \(adabelief\): type 'u32' in WGSL/);
  });
});

describe('what the host relies on in the entry point lists', () => {
  test('every update entry point reads the step record (its decision and scalars); the master-weight ones do not', () => {
    for (const [e, spec] of Object.entries(ENTRY_POINTS)) {
      if (spec.shader !== 'adabelief') continue;
      expect((spec.vars as readonly string[]).includes('steps'), e).toBe(!e.startsWith('init_master'));
    }
  });

  test('the step record is the one buffer the step-decision passes write that the update reads', () => {
    expect(RESOURCES['step-decision'].steps.access).toBe('read_write');
    expect(RESOURCES.adabelief.steps.access).toBe('read');
    expect(RESOURCES['step-decision'].steps.binding).toBe(RESOURCES.adabelief.steps.binding);
  });

  test("the master-weight entry points share their update entry point's bind group (a subset of its variables)", () => {
    const subset = (a: EntryPoint, b: EntryPoint) =>
      (ENTRY_POINTS[a].vars as readonly string[]).every((v) =>
        (ENTRY_POINTS[b].vars as readonly string[]).includes(v),
      );
    expect(subset('init_master', 'main_packed')).toBe(true);
    expect(subset('init_master_tail', 'tail_packed')).toBe(true);
  });
});

describe('host helpers built on the declarations', () => {
  test('bind group layouts list every variable of the entry points at its binding', () => {
    const entries = layoutEntries(['main']);
    expect(entries.map((e) => e.binding)).toEqual(
      ENTRY_POINTS.main.vars.map((v) => RESOURCES.adabelief[v].binding).sort((a, b) => a - b),
    );
    for (const e of entries) {
      const v = Object.values(RESOURCES.adabelief).find((r) => r.binding === e.binding)!;
      expect(e.buffer!.type).toBe(v.access === 'read' ? 'read-only-storage' : 'storage');
    }
  });

  test('bind groups need a buffer for each variable and take no other', () => {
    const b = { buffer: {} as GPUBuffer };
    const resources = { steps: b, partials: b };
    expect(bindGroupEntries(['finalize'], resources).map((e) => e.binding)).toEqual([
      RESOURCES['step-decision'].steps.binding,
      RESOURCES['step-decision'].partials.binding,
    ]);
    expect(() => bindGroupEntries(['finalize'], { steps: b } as typeof resources)).toThrow(
      "finalize: no buffer given for 'partials'",
    );
    expect(() => bindGroupEntries(['finalize'], { ...resources, table: b } as typeof resources)).toThrow(
      "finalize: no resource variable 'table'",
    );
  });

  test('records are written and read at the declared offsets', () => {
    const s = stepScalars({ ...DEFAULTS, rectify: false, lr: 0.25 }, 3);
    const view = new DataView(new ArrayBuffer(HYPER.size));
    packHyper(s, view, 0);
    expect(view.getFloat32(HYPER.at('step_size'), true)).toBe(Math.fround(s.stepSize));
    expect(view.getFloat32(HYPER.at('sqrt_bc2'), true)).toBe(Math.fround(s.sqrtBc2));
    expect(view.getUint32(HYPER.at('update'), true)).toBe(s.update);

    const inputs = {
      scale: 2,
      maxNorm: Infinity,
      skipNonFinite: true,
      entries: 8,
      entryWords: 20,
      ringAt: 4,
    };
    const steps = new DataView(initialSteps(inputs));
    expect(steps.getFloat32(STEPS.at('scale'), true)).toBe(2);
    expect(steps.getFloat32(STEPS.at('max_norm'), true)).toBe(0);
    expect(steps.getUint32(STEPS.at('ring_mask'), true)).toBe(7);
    expect(steps.getFloat32(STEPS.at('inv_scale'), true)).toBe(1);
    writeStepsInputs(steps, 0, { ...inputs, maxNorm: 3 });
    expect(steps.getFloat32(STEPS.at('max_norm'), true)).toBe(3);
    writeCount(steps, STEPS.at('count_lo'), 2 ** 32 + 9);
    steps.setFloat32(STEPS.at('norm'), 1.5, true);
    steps.setUint32(STEPS.at('skip'), 1, true);
    expect(readSteps(steps.buffer as ArrayBuffer)).toMatchObject({
      count: 2 ** 32 + 9,
      gradNorm: 1.5,
      skipped: true,
    });
  });
});
