/**
 * A small reader of the WGSL this project writes, for Node tests without a GPU: module-scope structs,
 * constants, overrides and resource variables, functions and entry points, which resource variables each
 * entry point uses (through every function it calls), and WGSL's own struct layout rules. Not a WGSL
 * parser in general: it reads declarations, and finds uses from identifiers (a local that shadows a resource
 * variable would count as a use: an over-approximation, never a missed use).
 */

export interface WgslStruct {
  name: string;
  fields: { name: string; type: string }[];
}

export interface WgslVar {
  name: string;
  group: number;
  binding: number;
  /** `storage`, `uniform`, ... */
  space: string;
  /** `read` / `read_write` for storage (WGSL's default for storage is `read`). */
  access: string;
  type: string;
}

export interface WgslFunction {
  name: string;
  /** The stage of an entry point (`compute`), else undefined. */
  stage: string | undefined;
  /** Its parameter list and body. */
  text: string;
}

export interface WgslModule {
  structs: Map<string, WgslStruct>;
  /** Module-scope `const` declarations: declared type ('' when inferred) and the value's text. */
  consts: Map<string, { type: string; value: string }>;
  overrides: Map<string, { type: string; value: string }>;
  vars: Map<string, WgslVar>;
  functions: Map<string, WgslFunction>;
}

/** `code` without comments (line and block comments; block comments may nest, as WGSL allows). */
export function stripComments(code: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const two = code.slice(i, i + 2);
    if (depth === 0 && two === '//') {
      while (i < code.length && code[i] !== '\n') i++;
      out += '\n';
    } else if (two === '/*') {
      depth++;
      i++;
    } else if (depth > 0 && two === '*/') {
      depth--;
      i++;
    } else if (depth === 0) out += code[i];
  }
  return out;
}

/** The module-scope items of comment-free `code`: each declaration's text, up to its `;` or closing brace. */
function topLevelItems(code: string): string[] {
  const items: string[] = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        // A struct or function ends here (a struct may be followed by a stray ';').
        items.push(code.slice(start, i + 1).trim());
        start = i + 1;
      }
    } else if (c === ';' && depth === 0) {
      const item = code.slice(start, i).trim();
      if (item) items.push(item);
      start = i + 1;
    }
  }
  if (code.slice(start).trim()) throw new Error(`unterminated WGSL declaration: ${code.slice(start).trim()}`);
  return items;
}

/** Splits `text` at commas outside <...> and (...). */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '<' || c === '(') depth++;
    if (c === '>' || c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const squash = (t: string) => t.replace(/\s+/g, '');

/** Reads the declarations of a WGSL module. */
export function parseWgsl(code: string): WgslModule {
  const m: WgslModule = {
    structs: new Map(),
    consts: new Map(),
    overrides: new Map(),
    vars: new Map(),
    functions: new Map(),
  };
  for (const item of topLevelItems(stripComments(code))) {
    let r: RegExpMatchArray | null;
    if ((r = item.match(/^struct\s+(\w+)\s*\{([\s\S]*)\}$/))) {
      const fields = splitTop(r[2]!).map((f) => {
        const [name, type] = f.replace(/@\w+(\([^)]*\))?\s*/g, '').split(':');
        return { name: name!.trim(), type: squash(type!) };
      });
      m.structs.set(r[1]!, { name: r[1]!, fields });
    } else if ((r = item.match(/^const\s+(\w+)\s*(?::\s*([^=]+))?=\s*([\s\S]+)$/))) {
      m.consts.set(r[1]!, { type: squash(r[2] ?? ''), value: r[3]!.trim() });
    } else if (
      (r = item.match(/^(?:@id\(\d+\)\s*)?override\s+(\w+)\s*(?::\s*([^=]+))?(?:=\s*([\s\S]+))?$/))
    ) {
      m.overrides.set(r[1]!, { type: squash(r[2] ?? ''), value: (r[3] ?? '').trim() });
    } else if ((r = item.match(/^((?:@\w+\([^)]*\)\s*)*)var\s*(?:<([^>]*)>)?\s*(\w+)\s*:\s*([\s\S]+)$/))) {
      const attrs = r[1]!;
      const group = attrs.match(/@group\((\d+)\)/);
      const binding = attrs.match(/@binding\((\d+)\)/);
      const [space = 'private', access = ''] = (r[2] ?? '').split(',').map((s) => s.trim());
      if (!group || !binding) continue; // workgroup / private variables are not resources
      m.vars.set(r[3]!, {
        name: r[3]!,
        group: +group[1]!,
        binding: +binding[1]!,
        space,
        access: access || (space === 'storage' ? 'read' : ''),
        type: squash(r[4]!),
      });
    } else if ((r = item.match(/^((?:@[\w]+(?:\([^)]*\))?\s*)*)fn\s+(\w+)\s*([\s\S]*)$/))) {
      const stage = r[1]!.match(/@(compute|vertex|fragment)\b/)?.[1];
      m.functions.set(r[2]!, { name: r[2]!, stage, text: r[3]! });
    } else if (/^(alias|enable|requires|diagnostic)\b/.test(item)) {
      continue;
    } else {
      throw new Error(`unrecognised WGSL declaration: ${item.slice(0, 80)}`);
    }
  }
  return m;
}

/** The resource variables entry point (or function) `fn` uses, directly or through the functions it calls. */
export function staticUses(m: WgslModule, fn: string): Set<string> {
  const uses = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const f = m.functions.get(name);
    if (!f) throw new Error(`no function '${name}'`);
    for (const id of f.text.match(/\b[A-Za-z_]\w*\b/g) ?? []) {
      if (m.vars.has(id)) uses.add(id);
      else if (m.functions.has(id)) visit(id);
    }
  };
  visit(fn);
  return uses;
}

/** WGSL's alignment and size of `type` (host-shareable types of this project; `structs` for nested ones). */
export function alignSize(type: string, structs: Map<string, WgslStruct>): { align: number; size: number } {
  if (type === 'u32' || type === 'f32' || type === 'i32') return { align: 4, size: 4 };
  if (type === 'f16') return { align: 2, size: 2 };
  let r: RegExpMatchArray | null;
  if ((r = type.match(/^vec([234])<(\w+)>$/))) {
    const n = +r[1]!;
    const e = alignSize(r[2]!, structs).size;
    return { align: (n === 2 ? 2 : 4) * e, size: n * e };
  }
  if ((r = type.match(/^array<(.+?)(?:,(\w+))?>$/))) {
    const el = alignSize(r[1]!, structs);
    const stride = Math.ceil(el.size / el.align) * el.align;
    return { align: el.align, size: r[2] ? stride * Number(r[2].replace(/u$/, '')) : 0 };
  }
  const s = structs.get(type);
  if (!s) throw new Error(`no layout for WGSL type '${type}'`);
  const l = structLayout(s, structs);
  return { align: l.align, size: l.size };
}

/** Field offsets, alignment and size of struct `s` by WGSL's rules. */
export function structLayout(
  s: WgslStruct,
  structs: Map<string, WgslStruct>,
): { fields: { name: string; type: string; offset: number }[]; align: number; size: number } {
  let offset = 0;
  let align = 1;
  const fields = s.fields.map((f) => {
    const l = alignSize(f.type, structs);
    offset = Math.ceil(offset / l.align) * l.align;
    const at = offset;
    offset += l.size;
    align = Math.max(align, l.align);
    return { name: f.name, type: f.type, offset: at };
  });
  return { fields, align, size: Math.ceil(offset / align) * align };
}

/** The value of a u32 / i32 / f32 literal (`256u`, `0x7f800000u`, `1.0`), or undefined for other text. */
export function literalValue(text: string): number | undefined {
  const t = text.trim();
  const r = t.match(/^(0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)[uif]?$/);
  if (!r) return undefined;
  return Number(r[1]);
}
