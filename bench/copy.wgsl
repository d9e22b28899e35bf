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
