/**
 * The host ↔ WGSL interface, stated once. Every struct the host writes or reads (its fields, types and byte
 * offsets), every constant and flag bit both sides use, every override constant, and every binding (number,
 * access mode, type) of every entry point of shaders/*.wgsl is declared here; the host code encodes records
 * and builds bind group layouts and bind groups from these declarations only, never from numbers of its own.
 *
 * test/unit/abi.test.ts parses the .wgsl files (no GPU) and fails, naming the struct, constant or binding, when
 * a shader and this module disagree. Each shader module is `shaders/common.wgsl` followed by its own file
 * (WGSL has no include): what both shaders share (the window table, its piece lookup, `Steps`, `TailPiece`,
 * f16 decoding) is written once, there.
 *
 * Pure: no GPU objects (binding types are WebGPU's strings), so it loads and is tested in plain Node.
 */
import { Update } from '../core/step-scalars.js';

// ---------------------------------------------------------------------------------------------------------
// Struct layouts (WGSL's alignment rules: u32 / f32 4 bytes, vec2 8, vec4 16; a struct is aligned to its
// largest member and its size rounded up to that; a runtime-sized array takes the rest).

/** The WGSL types the shared structs and bindings use. */
export type WgslType =
  | 'u32'
  | 'f32'
  | 'vec2<u32>'
  | 'vec2<f32>'
  | 'vec4<u32>'
  | 'vec4<f32>'
  | 'array<u32>'
  | 'array<f32>'
  | 'array<vec2<f32>>'
  | 'array<vec4<u32>>'
  | 'array<vec4<f32>>';

const SIZE_ALIGN: Record<string, [number, number]> = {
  u32: [4, 4],
  f32: [4, 4],
  'vec2<u32>': [8, 8],
  'vec2<f32>': [8, 8],
  'vec4<u32>': [16, 16],
  'vec4<f32>': [16, 16],
};

export interface StructField {
  name: string;
  type: WgslType;
  /** Byte offset in the struct. */
  offset: number;
}

export interface StructLayout {
  name: string;
  fields: readonly StructField[];
  /** Bytes of the struct (the array stride of an array of it); of its fixed part when it ends in an array. */
  size: number;
  /** Byte offset of field `name` (throws for a field the struct does not have). */
  at(name: string): number;
}

/** The layout WGSL gives a struct of these fields, in this order. */
function struct(name: string, fields: readonly (readonly [string, WgslType])[]): StructLayout {
  let offset = 0;
  let align = 4;
  const out: StructField[] = [];
  for (const [field, type] of fields) {
    const [size, a] = type.startsWith('array<')
      ? [0, (SIZE_ALIGN[type.slice(6, -1)] ?? [0, 4])[1]]
      : SIZE_ALIGN[type]!;
    offset = Math.ceil(offset / a) * a;
    out.push({ name: field, type, offset });
    offset += size;
    align = Math.max(align, a);
  }
  const size = Math.ceil(offset / align) * align;
  const byName = new Map(out.map((f) => [f.name, f.offset]));
  return {
    name,
    fields: out,
    size,
    at(field: string): number {
      const at = byName.get(field);
      if (at === undefined) throw new Error(`struct ${name} has no field '${field}'`);
      return at;
    },
  };
}

/**
 * One group's scalars for one step count (src/core/step-scalars.ts computes them in f64; records.ts packHyper
 * rounds them to f32 and writes this record): each entry of the step record's ring holds one per group.
 */
export const HYPER = struct('Hyper', [
  ['update', 'u32'],
  ['flags', 'u32'],
  ['_pad0', 'u32'],
  ['_pad1', 'u32'],
  ['decay_mul', 'f32'],
  ['l2', 'f32'],
  ['beta1', 'f32'],
  ['one_minus_beta1', 'f32'],
  ['beta2', 'f32'],
  ['one_minus_beta2', 'f32'],
  ['eps', 'f32'],
  ['eps_s', 'f32'],
  ['eps_max', 'f32'],
  ['sqrt_bc2', 'f32'],
  ['step_size', 'f32'],
  ['_pad2', 'u32'],
]);

/**
 * The step record (shaders/common.wgsl `Steps`): the step count, the latest step's decision, the guard's inputs,
 * then `words`: the group of each tensor and the ring of step-count-tagged entries (src/gpu/step-record.ts).
 * The host writes `scale` .. `ring_at` (STEPS_HOST_BYTES), the count on importState(); step-decision.wgsl the
 * rest.
 */
export const STEPS = struct('Steps', [
  ['scale', 'f32'],
  ['max_norm', 'f32'],
  ['skip_nonfinite', 'u32'],
  ['ring_mask', 'u32'],
  ['entry_words', 'u32'],
  ['ring_at', 'u32'],
  ['count_lo', 'u32'],
  ['count_hi', 'u32'],
  ['runs', 'u32'],
  ['missing', 'u32'],
  ['skip', 'u32'],
  ['entry', 'u32'],
  ['inv_scale', 'f32'],
  ['clip_coef', 'f32'],
  ['norm', 'f32'],
  ['found_nonfinite', 'u32'],
  ['words', 'array<u32>'],
]);

/** Bytes of the fields the host writes (`scale` .. `ring_at`). */
export const STEPS_HOST_BYTES = STEPS.at('count_lo');

/**
 * A window's piece table (layout.ts encodeWindowTable): a header, then PIECE_WORDS words per piece (the
 * PIECE_* word indices below), then the block map (for each run of BLOCK_VEC4 work vec4s, the piece holding
 * its first) from word `blocks_at` of `words`. `state_vec4`: the work vec4s of the window's state (a packed
 * region's stride between moments).
 */
export const TABLE = struct('Table', [
  ['piece_count', 'u32'],
  ['total_vec4', 'u32'],
  ['blocks_at', 'u32'],
  ['state_vec4', 'u32'],
  ['words', 'array<u32>'],
]);

/**
 * The record of one tail dispatch (`tail`, `tail_packed`, `init_master_tail`, `stats_tail`): the last
 * `rest` elements of a piece (f32 path: count % 4; packed: count % 8), from element `first` of the piece's
 * word views, their state from work vec4 `state_index` (packed: the piece's first state vec4, in a region of
 * `state_vec4`; the tail is the piece's last pair).
 */
export const TAIL_PIECE = struct('TailPiece', [
  ['tensor', 'u32'],
  ['rest', 'u32'],
  ['state_index', 'u32'],
  ['first', 'u32'],
  ['state_vec4', 'u32'],
  ['_pad0', 'u32'],
  ['_pad1', 'u32'],
  ['_pad2', 'u32'],
]);

/** The structs the host shares with the shaders, by WGSL name. */
export const SHARED_STRUCTS: Record<string, StructLayout> = {
  Hyper: HYPER,
  Steps: STEPS,
  Table: TABLE,
  TailPiece: TAIL_PIECE,
};

// ---------------------------------------------------------------------------------------------------------
// Constants (each declared in the shaders as `const NAME: u32 = value;`).

/** Vec4s of work per entry of a window table's block map. */
export const BLOCK_VEC4 = 256;
/** u32 words per piece record of a window table. */
export const PIECE_WORDS = 8;
/** Word indices of a piece record's fields. */
export const PIECE = {
  /** First work vec4 of the piece in its window. */
  PIECE_WORK_START: 0,
  /** Elements of the piece. */
  PIECE_COUNT: 1,
  /** Vec4 index (16 bytes) of the piece's element 0 in the window's param / grad binding. */
  PIECE_PARAM_INDEX: 2,
  PIECE_GRAD_INDEX: 3,
  /** Vec4 index of the piece's first state vec4 in the window's state slot (or region). */
  PIECE_STATE_INDEX: 4,
  /** The tensor (`Steps.words[tensor]` is its group: which `Hyper` record of an entry it takes). */
  PIECE_TENSOR: 5,
} as const;

/** u32 words of a `Hyper` record, and before an entry's records (its tag: the step count's two words, two zeros). */
export const HYPER_WORDS = HYPER.size / 4;
export const ENTRY_HEAD_WORDS = 4;

/** `Hyper.flags` bits. */
export const HYPER_FLAGS = {
  /** The denominator is taken from smax (AMSGrad), not s. */
  FLAG_DENOM_FROM_MAX: 1,
  /** sqrt(v) is divided by sqrt(1 - beta2^t). */
  FLAG_DIVIDE_BC2: 2,
  /** L2 weight decay: g += l2 * p. */
  FLAG_L2: 4,
  /** The second moment tracks the belief g - m (AdaBelief), not g (Adam). */
  FLAG_BELIEF: 8,
  /** SGD's Nesterov momentum. */
  FLAG_NESTEROV: 16,
} as const;

/** `Hyper.update` values: how the parameter moves (src/core/step-scalars.ts `Update`). */
export const UPDATE_KINDS = {
  UPDATE_NONE: Update.none,
  UPDATE_SGD: Update.sgd,
  UPDATE_ADAPTIVE: Update.adaptive,
} as const;

/** Invocations per workgroup of the guard's reduction passes. */
export const STATS_WG = 256;

/** Every constant the host shares with the shaders, by WGSL name. */
export const SHARED_CONSTANTS: Record<string, number> = {
  BLOCK_VEC4,
  PIECE_WORDS,
  ...PIECE,
  ...HYPER_FLAGS,
  ...UPDATE_KINDS,
  STATS_WG,
  HYPER_WORDS,
  ENTRY_HEAD_WORDS,
};

// ---------------------------------------------------------------------------------------------------------
// Shader modules, override constants, resource variables and entry points.

/** The shader modules: each is the concatenation of these files of shaders/, in order. */
export const SHADER_FILES = {
  adabelief: ['common.wgsl', 'adabelief.wgsl'],
  'step-decision': ['common.wgsl', 'step-decision.wgsl'],
} as const;
export type ShaderName = keyof typeof SHADER_FILES;

/** Pipeline-overridable constants of each shader (their WGSL types); set per pipeline, never by editing WGSL. */
export const OVERRIDES = {
  adabelief: {
    WORKGROUP_SIZE: 'u32',
    AMSGRAD: 'bool',
    VARIANCE: 'bool',
    GUARDED: 'bool',
    PARAM_F16: 'bool',
    STATE_BF16: 'bool',
    MASTER: 'bool',
  },
  'step-decision': {
    GRAD_F16: 'bool',
  },
} as const satisfies Record<ShaderName, Record<string, 'u32' | 'bool'>>;

export type Access = 'read' | 'read_write';

/** A module-scope `var<storage, access>` at @group(0) @binding(binding). */
export interface ResourceVar {
  binding: number;
  access: Access;
  type: string;
}

/** The resource variables of each shader module, by WGSL name. */
export const RESOURCES = {
  adabelief: {
    steps: { binding: 0, access: 'read', type: 'Steps' },
    table: { binding: 1, access: 'read', type: 'Table' },
    param: { binding: 2, access: 'read_write', type: 'array<vec4<f32>>' },
    grad: { binding: 3, access: 'read', type: 'array<vec4<f32>>' },
    exp_avg: { binding: 4, access: 'read_write', type: 'array<vec4<f32>>' },
    exp_avg_var: { binding: 5, access: 'read_write', type: 'array<vec4<f32>>' },
    max_exp_avg_var: { binding: 6, access: 'read_write', type: 'array<vec4<f32>>' },
    tail_piece: { binding: 7, access: 'read', type: 'TailPiece' },
    param_tail: { binding: 8, access: 'read_write', type: 'array<u32>' },
    grad_tail: { binding: 9, access: 'read', type: 'array<u32>' },
    param_units: { binding: 11, access: 'read_write', type: 'array<vec4<u32>>' },
    grad_units: { binding: 12, access: 'read', type: 'array<vec4<u32>>' },
    state: { binding: 13, access: 'read_write', type: 'array<vec4<u32>>' },
  },
  'step-decision': {
    steps: { binding: 0, access: 'read_write', type: 'Steps' },
    table: { binding: 1, access: 'read', type: 'Table' },
    grad: { binding: 2, access: 'read', type: 'array<vec4<f32>>' },
    partials: { binding: 3, access: 'read_write', type: 'array<vec2<f32>>' },
    tail_piece: { binding: 4, access: 'read', type: 'TailPiece' },
    grad_tail: { binding: 5, access: 'read', type: 'array<u32>' },
    grad_units: { binding: 6, access: 'read', type: 'array<vec4<u32>>' },
  },
} as const satisfies Record<ShaderName, Record<string, ResourceVar>>;

type VarOf<S extends ShaderName> = keyof (typeof RESOURCES)[S] & string;

interface EntrySpec<S extends ShaderName> {
  shader: S;
  /** Every resource variable the entry point uses (statically: through any function it calls). */
  vars: readonly VarOf<S>[];
}

const entry = <S extends ShaderName, const V extends readonly VarOf<S>[]>(shader: S, vars: V) =>
  ({ shader, vars }) satisfies EntrySpec<S>;

const F32_STATE = ['exp_avg', 'exp_avg_var', 'max_exp_avg_var'] as const;

/**
 * Every entry point of the shaders and the resource variables it uses. Every update entry point reads `steps`
 * (the decision `advance` or the guard's `finalize` made for the step, and the step's scalars).
 */
export const ENTRY_POINTS = {
  main: entry('adabelief', ['steps', 'table', 'param', 'grad', ...F32_STATE]),
  tail: entry('adabelief', ['steps', 'tail_piece', 'param_tail', 'grad_tail', ...F32_STATE]),
  main_packed: entry('adabelief', ['steps', 'table', 'param_units', 'grad_units', 'state']),
  tail_packed: entry('adabelief', ['steps', 'tail_piece', 'param_tail', 'grad_tail', 'state']),
  init_master: entry('adabelief', ['table', 'param_units', 'state']),
  init_master_tail: entry('adabelief', ['tail_piece', 'param_tail', 'state']),
  advance: entry('step-decision', ['steps']),
  stats: entry('step-decision', ['steps', 'table', 'grad', 'partials']),
  stats_f16: entry('step-decision', ['steps', 'table', 'grad_units', 'partials']),
  stats_tail: entry('step-decision', ['steps', 'partials', 'tail_piece', 'grad_tail']),
  finalize: entry('step-decision', ['steps', 'partials']),
} as const;
export type EntryPoint = keyof typeof ENTRY_POINTS;

/** The resource variables of entry point `E`. */
export type EntryVar<E extends EntryPoint> = (typeof ENTRY_POINTS)[E]['vars'][number];

/** WebGPU's buffer binding type for a variable of this access mode. */
export const bindingType = (access: Access): GPUBufferBindingType =>
  access === 'read' ? 'read-only-storage' : 'storage';

const COMPUTE_STAGE = 0x4; // GPUShaderStage.COMPUTE, spelled out so the module loads without the globals

/**
 * The bind group layout entries for pipelines of these entry points (of one shader) sharing one bind group:
 * every variable any of them uses, at its binding, with its access mode.
 */
export function layoutEntries(entries: readonly EntryPoint[]): GPUBindGroupLayoutEntry[] {
  const shader = ENTRY_POINTS[entries[0]!].shader;
  const vars = RESOURCES[shader] as Record<string, ResourceVar>;
  const names = new Set<string>();
  for (const e of entries) {
    if (ENTRY_POINTS[e].shader !== shader) throw new Error(`${e} is not an entry point of ${shader}`);
    for (const v of ENTRY_POINTS[e].vars) names.add(v);
  }
  return [...names]
    .map((name) => vars[name]!)
    .sort((a, b) => a.binding - b.binding)
    .map((v) => ({ binding: v.binding, visibility: COMPUTE_STAGE, buffer: { type: bindingType(v.access) } }));
}

/**
 * The bind group entries for entry points `entries` (sharing one bind group; see layoutEntries) from a
 * buffer binding per variable name: exactly the variables they use (throws naming one missing or one they do
 * not use), each at its binding number.
 */
export function bindGroupEntries<E extends EntryPoint>(
  entries: readonly E[],
  resources: Partial<Record<EntryVar<E>, GPUBufferBinding>>,
): GPUBindGroupEntry[] {
  const shader = ENTRY_POINTS[entries[0]!].shader;
  const vars = RESOURCES[shader] as Record<string, ResourceVar>;
  const given = resources as Record<string, GPUBufferBinding | undefined>;
  const names = new Set(entries.flatMap((e) => ENTRY_POINTS[e].vars as readonly string[]));
  for (const name of Object.keys(given)) {
    if (!names.has(name)) throw new Error(`${entries.join('/')}: no resource variable '${name}'`);
  }
  return [...names].map((name) => {
    const resource = given[name];
    if (!resource) throw new Error(`${entries.join('/')}: no buffer given for '${name}'`);
    return { binding: vars[name]!.binding, resource };
  });
}
