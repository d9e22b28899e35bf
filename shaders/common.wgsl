// common.wgsl — what both shader modules share, written once: src/gpu/pipelines.ts builds each module as this
// file followed by adabelief.wgsl or step-decision.wgsl (WGSL has no include). The window table and its piece
// lookup, the step record `Steps`, the tail-piece record, f16 decoding. Every struct, constant and
// binding here is declared in src/gpu/abi.ts too, and test/unit/abi.test.ts checks that they agree.

const BLOCK_VEC4: u32 = 256u;       // work vec4s per block-map entry of a window table
const PIECE_WORDS: u32 = 8u;        // u32 words per piece record of a window table
// Word indices of a piece record (src/gpu/layout.ts encodeWindowTable writes them).
const PIECE_WORK_START: u32 = 0u;   // first work vec4 of the piece in its window
const PIECE_COUNT: u32 = 1u;        // elements
const PIECE_PARAM_INDEX: u32 = 2u;  // 16-byte index of element 0 in the window's param binding
const PIECE_GRAD_INDEX: u32 = 3u;   // the same in the grad binding
const PIECE_STATE_INDEX: u32 = 4u;  // first state vec4 in the window's state slot (or region)
const PIECE_TENSOR: u32 = 5u;       // the tensor (Steps.words[tensor]: its group)

// A window's pieces: piece j's record is words[j * PIECE_WORDS ..]; the block map (for each run of BLOCK_VEC4
// work vec4s, the piece holding its first) starts at words[blocks_at].
// state_vec4: the work vec4s of the window's state (the stride between the moments of a packed region).
struct Table {
  piece_count: u32,
  total_vec4: u32,
  blocks_at: u32,
  state_vec4: u32,
  words: array<u32>,
}

// The optimizer's step record: the step count (the one count there is, advanced on the GPU by the step that is
// applied), what was decided for the latest step, the guard's inputs, and the scalars of every step count a
// step may run at. Words 0-5 are written by the host (src/gpu/step-record.ts), the count by the host only on
// importState(), the rest by step-decision.wgsl (`advance`, or the guard's `finalize`).
struct Steps {
  scale: f32,             // loss scale: gradients are multiplied by f32(1 / scale) (guarded optimizers)
  max_norm: f32,          // clip to this global norm; 0: no clipping
  skip_nonfinite: u32,    // skip a step whose unscaled gradients hold inf or NaN
  ring_mask: u32,         // entries in the ring, minus 1 (a power of two)
  entry_words: u32,       // words per entry: ENTRY_HEAD_WORDS, then HYPER_WORDS per group
  ring_at: u32,           // word of `words` where the ring starts (after the group map)
  count_lo: u32,          // the step count: steps applied (a u64, low word first)
  count_hi: u32,
  runs: u32,              // steps run, applied or not (mod 2^32)
  missing: u32,           // steps that found no scalars for their count (skipped; the host reports them)
  skip: u32,              // the latest step applied nothing
  entry: u32,             // the latest applied step: word of `words` where its entry's Hyper records start
  inv_scale: f32,         // f32(1 / scale) as the latest step applied it
  clip_coef: f32,         // the latest step's clipping coefficient (1: none)
  norm: f32,              // the latest step's global L2 norm of the unscaled gradients (guarded)
  found_nonfinite: u32,   // the latest step's unscaled gradients held inf or NaN (guarded)
  // words[t] for each tensor t: its group (the Hyper record of an entry it takes); from ring_at, the ring:
  // entry e at ring_at + e * entry_words holds the scalars of step count t (e = t mod entries), tagged with t:
  // its first ENTRY_HEAD_WORDS words are t's low and high word and two zeros, then one Hyper per group.
  words: array<u32>,
}

const HYPER_WORDS: u32 = 16u;       // u32 words of a Hyper record
const ENTRY_HEAD_WORDS: u32 = 4u;   // u32 words before an entry's Hyper records (its tag)

// The piece a tail dispatch finishes: its last `rest` elements (f32 path: 1 to 3; packed: 1 to 7).
struct TailPiece {
  tensor: u32,
  rest: u32,
  state_index: u32,     // the state vec4 holding the first of them (packed: the piece's first)
  first: u32,           // index of the first of them in the piece (its word views start at element 0)
  state_vec4: u32,      // packed: the window's Table.state_vec4
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(1) var<storage, read> table: Table;

// A piece as the kernels use it: its work vec4s [begin, end) in the window and the table's other words.
struct Piece {
  begin: u32,
  end: u32,
  count: u32,
  param_base: u32,
  grad_base: u32,
  state_base: u32,
  tensor: u32,
}

// Matches no work vec4: the first `piece_holding` of a grid-stride walk looks the table up.
const NO_PIECE = Piece(1u, 0u, 0u, 0u, 0u, 0u, 0u);

fn piece_word(j: u32, field: u32) -> u32 {
  return table.words[j * PIECE_WORDS + field];
}

// The piece holding work vec4 w: the block map gives the piece holding the first vec4 of w's block, a short
// forward scan the exact one. (src/gpu/layout.ts findPiece is the same lookup, for the host's tests.)
fn find_piece(w: u32) -> Piece {
  var j = table.words[table.blocks_at + w / BLOCK_VEC4];
  while (j + 1u < table.piece_count && piece_word(j + 1u, PIECE_WORK_START) <= w) {
    j = j + 1u;
  }
  let end = select(table.total_vec4, piece_word(j + 1u, PIECE_WORK_START), j + 1u < table.piece_count);
  return Piece(
    piece_word(j, PIECE_WORK_START),
    end,
    piece_word(j, PIECE_COUNT),
    piece_word(j, PIECE_PARAM_INDEX),
    piece_word(j, PIECE_GRAD_INDEX),
    piece_word(j, PIECE_STATE_INDEX),
    piece_word(j, PIECE_TENSOR),
  );
}

// `p` while work vec4 w is still inside it (the common case on a grid-stride walk), else w's piece.
fn piece_holding(p: Piece, w: u32) -> Piece {
  if (w >= p.begin && w < p.end) {
    return p;
  }
  return find_piece(w);
}

// f16 bits (low 16 bits of each lane) → the value, exactly (subnormals, ±0, ±inf and NaN included). The common
// case (normal numbers and zeros) is a shift and an add of the exponent bias; subnormals, rare, take a branch.
fn f16_value(h: vec4<u32>) -> vec4<f32> {
  let sign = (h & vec4<u32>(0x8000u)) << vec4<u32>(16u);
  let mag = h & vec4<u32>(0x7fffu);
  // Exponent e + 112 (f32's bias 127 minus f16's 15); inf / NaN (e = 31) get 255, zeros stay 0.
  var bits = (mag << vec4<u32>(13u)) + vec4<u32>(0x38000000u);
  bits = select(bits, bits + vec4<u32>(0x38000000u), mag >= vec4<u32>(0x7c00u));
  bits = select(bits, vec4<u32>(0u), mag == vec4<u32>(0u));
  let subnormal = (mag < vec4<u32>(0x400u)) & (mag != vec4<u32>(0u));
  if (any(subnormal)) {
    // mag · 2^-24 with its top bit at t gives exponent t - 24 (biased t + 103).
    let t = vec4<u32>(31u) - countLeadingZeros(mag);
    let sub = ((t + 103u) << vec4<u32>(23u)) | ((mag << (vec4<u32>(23u) - t)) & vec4<u32>(0x7fffffu));
    bits = select(bits, sub, subnormal);
  }
  return bitcast<vec4<f32>>(sign | bits);
}
