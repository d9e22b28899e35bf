/**
 * Compares the shaders with src/gpu/abi.ts: every difference as a message naming the shader module and the
 * struct, constant, override, binding or entry point. Used by test/unit/abi.test.ts on the real files and on
 * deliberately broken copies of them (so the check itself is shown to fail when it should).
 */
import {
  ENTRY_POINTS,
  OVERRIDES,
  RESOURCES,
  SHADER_FILES,
  SHARED_CONSTANTS,
  SHARED_STRUCTS,
  type ResourceVar,
  type ShaderName,
} from '../../src/gpu/abi.js';
import { literalValue, parseWgsl, staticUses, structLayout, type WgslModule } from './wgsl.js';

/**
 * Structs and constants that never cross to the host (values a shader computes for itself). Anything else a
 * shader declares must be in abi.ts, so a new shared struct or constant cannot be left out of it.
 */
export const SHADER_LOCAL = {
  structs: ['Piece', 'Updated', 'Partial', 'StepInputs', 'Pair', 'PairWords', 'PairState'],
  constants: ['EXPONENT_MASK', 'NO_PIECE', 'UNGUARDED'],
};

/** Each shader module's code from the files of `sources` (by file name), as abi.ts SHADER_FILES composes it. */
export function composeModules(sources: Record<string, string>): Record<ShaderName, string> {
  const out = {} as Record<ShaderName, string>;
  for (const [name, files] of Object.entries(SHADER_FILES) as [ShaderName, readonly string[]][]) {
    out[name] = files.map((f) => sources[f] ?? '').join('\n');
  }
  return out;
}

/** Every disagreement between the shader modules `modules` and abi.ts (empty when they agree). */
export function checkShaderAbi(modules: Record<ShaderName, string>): string[] {
  const errors: string[] = [];
  const parsed = {} as Record<ShaderName, WgslModule>;
  for (const [name, code] of Object.entries(modules) as [ShaderName, string][]) {
    try {
      parsed[name] = parseWgsl(code);
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (errors.length > 0) return errors;
  const shaders = Object.keys(parsed) as ShaderName[];

  // Structs: every shared struct as abi.ts lays it out, wherever a module declares it; no unknown struct.
  for (const [name, abi] of Object.entries(SHARED_STRUCTS)) {
    const declaring = shaders.filter((s) => parsed[s].structs.has(name));
    if (declaring.length === 0) errors.push(`struct ${name}: declared in no shader module`);
    for (const s of declaring) {
      const m = parsed[s];
      const l = structLayout(m.structs.get(name)!, m.structs);
      const wgsl = l.fields.map((f) => `${f.name}: ${f.type} @ ${f.offset}`);
      const host = abi.fields.map((f) => `${f.name}: ${f.type} @ ${f.offset}`);
      const n = Math.max(wgsl.length, host.length);
      for (let k = 0; k < n; k++) {
        if (wgsl[k] !== host[k]) {
          errors.push(
            `struct ${name} (${s}): field ${k} is '${wgsl[k] ?? 'missing'}' in WGSL, '${host[k] ?? 'missing'}' in abi.ts`,
          );
        }
      }
      if (l.size !== abi.size)
        errors.push(`struct ${name} (${s}): ${l.size} bytes in WGSL, ${abi.size} in abi.ts`);
    }
  }
  for (const s of shaders) {
    for (const name of parsed[s].structs.keys()) {
      if (!(name in SHARED_STRUCTS) && !SHADER_LOCAL.structs.includes(name)) {
        errors.push(`struct ${name} (${s}): neither in abi.ts SHARED_STRUCTS nor listed as shader-local`);
      }
    }
  }

  // Constants: each shared one with its value; every module-scope constant is shared or listed as local.
  for (const [name, value] of Object.entries(SHARED_CONSTANTS)) {
    const declaring = shaders.filter((s) => parsed[s].consts.has(name));
    if (declaring.length === 0) errors.push(`constant ${name}: declared in no shader module`);
    for (const s of declaring) {
      const c = parsed[s].consts.get(name)!;
      const v = literalValue(c.value);
      if (c.type !== 'u32') errors.push(`constant ${name} (${s}): type '${c.type}' in WGSL, u32 in abi.ts`);
      if (v !== value) errors.push(`constant ${name} (${s}): ${c.value} in WGSL, ${value} in abi.ts`);
    }
  }
  for (const s of shaders) {
    for (const name of parsed[s].consts.keys()) {
      if (!(name in SHARED_CONSTANTS) && !SHADER_LOCAL.constants.includes(name)) {
        errors.push(`constant ${name} (${s}): neither in abi.ts SHARED_CONSTANTS nor listed as shader-local`);
      }
    }
  }

  for (const s of shaders) {
    const m = parsed[s];
    // Overrides: exactly abi.ts's, with their types.
    const overrides = OVERRIDES[s] as Record<string, string>;
    for (const [name, type] of Object.entries(overrides)) {
      const o = m.overrides.get(name);
      if (!o) errors.push(`override ${name} (${s}): in abi.ts, not in WGSL`);
      else if (o.type !== type)
        errors.push(`override ${name} (${s}): type '${o.type}' in WGSL, '${type}' in abi.ts`);
    }
    for (const name of m.overrides.keys()) {
      if (!(name in overrides)) errors.push(`override ${name} (${s}): in WGSL, not in abi.ts OVERRIDES`);
    }

    // Resource variables: binding number, access mode and type of each.
    const vars = RESOURCES[s] as Record<string, ResourceVar>;
    for (const [name, v] of Object.entries(vars)) {
      const w = m.vars.get(name);
      if (!w) {
        errors.push(`binding of '${name}' (${s}): in abi.ts (binding ${v.binding}), not in WGSL`);
        continue;
      }
      if (w.group !== 0) errors.push(`binding of '${name}' (${s}): @group(${w.group}) in WGSL, 0 in abi.ts`);
      if (w.binding !== v.binding)
        errors.push(`binding of '${name}' (${s}): @binding(${w.binding}) in WGSL, ${v.binding} in abi.ts`);
      if (w.space !== 'storage' || w.access !== v.access)
        errors.push(
          `binding of '${name}' (${s}): var<${w.space}, ${w.access}> in WGSL, var<storage, ${v.access}> in abi.ts`,
        );
      if (w.type !== v.type)
        errors.push(`binding of '${name}' (${s}): type ${w.type} in WGSL, ${v.type} in abi.ts`);
    }
    for (const name of m.vars.keys()) {
      if (!(name in vars)) errors.push(`binding of '${name}' (${s}): in WGSL, not in abi.ts RESOURCES`);
    }

    // Entry points: exactly abi.ts's, each using exactly the variables abi.ts lists (its bind group layout).
    const entries = Object.entries(ENTRY_POINTS).filter(([, e]) => e.shader === s);
    for (const [name, e] of entries) {
      const f = m.functions.get(name);
      if (!f || f.stage !== 'compute') {
        errors.push(`entry point ${name} (${s}): in abi.ts, no @compute fn ${name} in WGSL`);
        continue;
      }
      const used = [...staticUses(m, name)].sort();
      const listed = [...(e.vars as readonly string[])].sort();
      for (const v of used) {
        if (!listed.includes(v))
          errors.push(`entry point ${name} (${s}): uses '${v}', which abi.ts does not list`);
      }
      for (const v of listed) {
        if (!used.includes(v))
          errors.push(`entry point ${name} (${s}): abi.ts lists '${v}', which it does not use`);
      }
    }
    for (const [name, f] of m.functions) {
      if (f.stage && !entries.some(([e]) => e === name)) {
        errors.push(`entry point ${name} (${s}): in WGSL, not in abi.ts ENTRY_POINTS`);
      }
    }
  }
  return errors;
}
