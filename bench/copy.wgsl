// copy.wgsl — the bandwidth roofline of the fused AdaBelief step (bench only, not part of the library).
//
// Moves exactly the bytes one AdaBelief step moves, and nothing else worth mentioning: per element it reads
// param, grad, exp_avg, exp_avg_var (and max_exp_avg_var) and writes param, exp_avg, exp_avg_var (and
// max_exp_avg_var): 28 bytes per element, 36 with AMSGrad. The values are rotated and one of them is
// XORed with the gradient, as raw bits (no float math, so no NaN / subnormal slow paths whatever the data):
//   param' = exp_avg;  exp_avg' = exp_avg_var;  exp_avg_var' = param ^ grad;  [max_exp_avg_var' = max ^ grad]
// No store writes back the value loaded from its own address, so no compiler may drop a load or a store.
//
// Dispatch: the shape family of shaders/adabelief.wgsl's `main` — a 1D grid of WORKGROUP_SIZE-invocation
// workgroups over the count / 4 whole vec4s, invocation i handling vec4 i, i + stride, ... (grid-stride),
// with the optimizer's workgroup size and workgroup cap on that adapter (the bench passes both). Elements
// past the last whole vec4 are not touched (the bench uses multiples of 4). Entry points: `copy` (28 B per
// element; binding 5 unused) and `copy_amsgrad` (36 B per element).
//
// `copy_mode` (bindings 10-17, apart from the two above): the roofline of any mode (bench/modes.ts), moving
// that mode's own bytes per element with 16-byte accesses. Per unit of 8 elements, an array of 2-byte
// elements (f16, bf16) is one vec4<u32> (index u) and an array of 4-byte elements two (indices u and
// u + units, so that neighbouring invocations touch neighbouring vec4s in each load). Override constants
// give each array's vec4s per unit: 0 (absent: a small dummy buffer is bound), 1 (2-byte) or 2 (4-byte).
// Up to 4 arrays read and written in place (IN_PLACE_*), 2 only read (READ_*), 1 only written (WRITE_0).
// Every loaded vec4 is XORed into `x`; an in-place array stores its own value ^ x (the XOR of all the
// others) and the written-only array stores x, so no load or store can be dropped. Invocation i handles
// units i, i + stride, ... (grid-stride), as `copy` does; elements past the last whole unit are not touched.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  vec4_count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg_var: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> max_exp_avg_var: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < params.vec4_count; i = i + stride) {
    let p = param[i];
    let g = grad[i];
    let m = exp_avg[i];
    let s = exp_avg_var[i];
    param[i] = m;
    exp_avg[i] = s;
    exp_avg_var[i] = p ^ g;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_amsgrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < params.vec4_count; i = i + stride) {
    let p = param[i];
    let g = grad[i];
    let m = exp_avg[i];
    let s = exp_avg_var[i];
    let x = max_exp_avg_var[i];
    param[i] = m;
    exp_avg[i] = s;
    exp_avg_var[i] = p ^ g;
    max_exp_avg_var[i] = x ^ g;
  }
}

override IN_PLACE_0: u32 = 0u;
override IN_PLACE_1: u32 = 0u;
override IN_PLACE_2: u32 = 0u;
override IN_PLACE_3: u32 = 0u;
override READ_0: u32 = 0u;
override READ_1: u32 = 0u;
override WRITE_0: u32 = 0u;

struct ModeParams {
  units: u32,
}

@group(0) @binding(10) var<uniform> mode_params: ModeParams;
@group(0) @binding(11) var<storage, read_write> rw0: array<vec4<u32>>;
@group(0) @binding(12) var<storage, read_write> rw1: array<vec4<u32>>;
@group(0) @binding(13) var<storage, read_write> rw2: array<vec4<u32>>;
@group(0) @binding(14) var<storage, read_write> rw3: array<vec4<u32>>;
@group(0) @binding(15) var<storage, read> r0: array<vec4<u32>>;
@group(0) @binding(16) var<storage, read> r1: array<vec4<u32>>;
@group(0) @binding(17) var<storage, read_write> w0: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_mode(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let units = mode_params.units;
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
