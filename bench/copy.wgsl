// copy.wgsl — the bandwidth rooflines of the benchmark (bench only, not part of the library): one kernel,
// `copy_mode`, that moves exactly the bytes per element one optimizer step moves, and nothing else worth
// mentioning. Which arrays it moves are override constants, so each traffic is a pipeline of its own:
//   - the variants table (bench/page.ts measureGpu, bench/modes.ts variantTraffic): the f32 AdaBelief step, p,
//     m, s read and written in place and g only read (IN_PLACE_0..2 = 2, READ_0 = 2: 28 B per element), and
//     with AMSGrad max_exp_avg_var a 4th f32 array in place (IN_PLACE_3 = 2: 36 B per element);
//   - the modes section (bench/page.ts measureModes): each mode's own traffic (bench/modes.ts MODE_DEFS).
//
// Arrays: up to 4 read and written in place (IN_PLACE_*), 2 only read (READ_*), 1 only written (WRITE_0). Each
// constant is that array's vec4<u32>s per unit of 8 elements: 0 (absent: a small dummy buffer is bound and never
// touched), 1 (2-byte elements: f16, bf16) or 2 (4-byte elements: f32).
//
// No load or store can be dropped. Values move as raw bits (no float math, so no NaN / subnormal slow paths
// whatever the data). Every loaded vec4 is XORed into `x`; an in-place array stores its own value ^ x (the XOR
// of all the other vec4s loaded for the unit) and the written-only array stores x. So no store writes back the
// value loaded from its own address, and every load feeds the stores of the other arrays (each traffic has at
// least two).
//
// Access pattern: 16-byte loads and stores. Per unit u of 8 elements, a 2-byte array is one vec4 (index u) and a
// 4-byte array two, at indices u and u + units (not 2u, 2u + 1), so that in each load and store neighbouring
// invocations touch neighbouring vec4s: fully coalesced. The f32 step's `main` (shaders/adabelief.wgsl) instead
// takes vec4 i of each array per invocation (4 elements), also fully coalesced; this kernel uses the 8-element
// units for every traffic, the f32 variants' included (on an NVIDIA H200 both patterns moved the f32 step's 28 B
// per element at the same speed: docs/benchmark.md, docs/measurements/nvidia-h200-2026-12-04.md).
//
// Dispatch: the shape family of `main` — a 1D grid of WORKGROUP_SIZE-invocation workgroups, invocation i
// handling units i, i + stride, ... (grid-stride), with the workgroup size and workgroup cap of the optimizer
// it is compared with on that adapter (the bench passes both; the grid is src/gpu/layout.ts workgroupsFor over
// the units, so below the cap it has half the workgroups of `main`'s grid over size / 4 vec4s). Elements past
// the last whole unit are not touched: the bench's sizes are multiples of 8 (every default and --quick size;
// a --sizes value that is not is credited with up to 7 elements' bytes more than the copy moves).

override WORKGROUP_SIZE: u32 = 256u;

override IN_PLACE_0: u32 = 0u;
override IN_PLACE_1: u32 = 0u;
override IN_PLACE_2: u32 = 0u;
override IN_PLACE_3: u32 = 0u;
override READ_0: u32 = 0u;
override READ_1: u32 = 0u;
override WRITE_0: u32 = 0u;

struct Params {
  units: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> rw0: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> rw1: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> rw2: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> rw3: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> r0: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read> r1: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> w0: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_mode(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let units = params.units;
  for (var i = gid.x; i < units; i = i + stride) {
    let j = i + units;
    var x = vec4<u32>(0u);
    var a0 = vec4<u32>(0u); var b0 = vec4<u32>(0u);
    var a1 = vec4<u32>(0u); var b1 = vec4<u32>(0u);
    var a2 = vec4<u32>(0u); var b2 = vec4<u32>(0u);
    var a3 = vec4<u32>(0u); var b3 = vec4<u32>(0u);
    if (IN_PLACE_0 >= 1u) { a0 = rw0[i]; x = x ^ a0; }
    if (IN_PLACE_0 >= 2u) { b0 = rw0[j]; x = x ^ b0; }
    if (IN_PLACE_1 >= 1u) { a1 = rw1[i]; x = x ^ a1; }
    if (IN_PLACE_1 >= 2u) { b1 = rw1[j]; x = x ^ b1; }
    if (IN_PLACE_2 >= 1u) { a2 = rw2[i]; x = x ^ a2; }
    if (IN_PLACE_2 >= 2u) { b2 = rw2[j]; x = x ^ b2; }
    if (IN_PLACE_3 >= 1u) { a3 = rw3[i]; x = x ^ a3; }
    if (IN_PLACE_3 >= 2u) { b3 = rw3[j]; x = x ^ b3; }
    if (READ_0 >= 1u) { x = x ^ r0[i]; }
    if (READ_0 >= 2u) { x = x ^ r0[j]; }
    if (READ_1 >= 1u) { x = x ^ r1[i]; }
    if (READ_1 >= 2u) { x = x ^ r1[j]; }
    if (IN_PLACE_0 >= 1u) { rw0[i] = a0 ^ x; }
    if (IN_PLACE_0 >= 2u) { rw0[j] = b0 ^ x; }
    if (IN_PLACE_1 >= 1u) { rw1[i] = a1 ^ x; }
    if (IN_PLACE_1 >= 2u) { rw1[j] = b1 ^ x; }
    if (IN_PLACE_2 >= 1u) { rw2[i] = a2 ^ x; }
    if (IN_PLACE_2 >= 2u) { rw2[j] = b2 ^ x; }
    if (IN_PLACE_3 >= 1u) { rw3[i] = a3 ^ x; }
    if (IN_PLACE_3 >= 2u) { rw3[j] = b3 ^ x; }
    if (WRITE_0 >= 1u) { w0[i] = x; }
    if (WRITE_0 >= 2u) { w0[j] = x; }
  }
}
