// adabelief.wgsl — one fused AdaBelief step over one contiguous chunk of one parameter tensor.
//
// Per element (f32, in this order; the host decides every branch below from `hyper`, see src/hyper.ts):
//   p  = p * decay_mul                      decoupled / fixed weight decay (decay_mul is exactly 1 otherwise)
//   g  = g + l2 * p                         L2 weight decay, only when FLAG_L2 is set
//   m  = m * beta1 + one_minus_beta1 * g
//   r  = g - m                              the belief residual, with the NEW m
//   s  = s * beta2 + (one_minus_beta2 * r) * r
//   s  = s + eps                            unless AMSGRAD_EPS_AFTER_MAX (torch-optimizer + AMSGrad)
//   smax = max(smax, s) [+ eps]             AMSGrad only
//   adaptive: D = sqrt(v) [/ sqrt_bc2] + eps, v = smax or s;  p = p + step_size * (m / D)
//   sgd:      p = p + step_size * m
//   none:     p unchanged
//
// Dispatch, per chunk of `count` elements (both entry points share the uniform slot and the state):
//   `main`: 1D grid of WORKGROUP_SIZE-invocation workgroups over the count / 4 whole vec4s; invocation i
//           handles vec4 i, i + stride, i + 2*stride, ... (grid-stride loop, so any count fits under the
//           65535-workgroups-per-dimension limit). Binds param / grad as vec4 arrays of exactly those bytes.
//   `tail`: one invocation for the last count % 4 elements, through scalar views of the chunk
//           (`param_tail` / `grad_tail`): the caller's buffers may end exactly at the last element.
//           A separate dispatch, because one dispatch may not bind overlapping writable ranges.
// Optimizer state (m, s, smax) is padded to whole vec4s. Without AMSGrad, `max_exp_avg_var` is bound to a
// 16-byte placeholder and never touched.

override WORKGROUP_SIZE: u32 = 256u;

const UPDATE_NONE: u32 = 0u;
const UPDATE_SGD: u32 = 1u;
const UPDATE_ADAPTIVE: u32 = 2u;

const AMSGRAD_OFF: u32 = 0u;
const AMSGRAD_EPS_AFTER_MAX: u32 = 2u;

const FLAG_DENOM_FROM_MAX: u32 = 1u;
const FLAG_DIVIDE_BC2: u32 = 2u;
const FLAG_L2: u32 = 4u;

struct Hyper {
  count: u32,            // elements in this chunk
  update: u32,           // UPDATE_*
  amsgrad: u32,          // AMSGRAD_* (1 = eps before the max, the official order)
  flags: u32,            // FLAG_*
  decay_mul: f32,
  l2: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  sqrt_bc2: f32,
  step_size: f32,
}

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg_var: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> max_exp_avg_var: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> param_tail: array<f32>;
@group(0) @binding(7) var<storage, read> grad_tail: array<f32>;

fn has_flag(flag: u32) -> bool {
  return (hyper.flags & flag) != 0u;
}

// Updates the state of vec4 `i` in place and returns the new parameter values.
fn adabelief(i: u32, p_in: vec4<f32>, g_in: vec4<f32>) -> vec4<f32> {
  var p = p_in * hyper.decay_mul;
  var g = g_in;
  if (has_flag(FLAG_L2)) {
    g = g + hyper.l2 * p;
  }
  let m = exp_avg[i] * hyper.beta1 + hyper.one_minus_beta1 * g;
  let r = g - m;
  var s = exp_avg_var[i] * hyper.beta2 + (hyper.one_minus_beta2 * r) * r;
  if (hyper.amsgrad != AMSGRAD_EPS_AFTER_MAX) {
    s = s + hyper.eps;
  }
  exp_avg[i] = m;
  exp_avg_var[i] = s;

  var v = s;
  if (hyper.amsgrad != AMSGRAD_OFF) {
    var smax = max(max_exp_avg_var[i], s);
    if (hyper.amsgrad == AMSGRAD_EPS_AFTER_MAX) {
      smax = smax + hyper.eps;
    }
    max_exp_avg_var[i] = smax;
    if (has_flag(FLAG_DENOM_FROM_MAX)) {
      v = smax;
    }
  }

  if (hyper.update == UPDATE_ADAPTIVE) {
    var d = sqrt(v);
    if (has_flag(FLAG_DIVIDE_BC2)) {
      d = d / hyper.sqrt_bc2;
    }
    d = d + hyper.eps;
    p = p + hyper.step_size * (m / d);
  } else if (hyper.update == UPDATE_SGD) {
    p = p + hyper.step_size * m;
  }
  return p;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n4 = hyper.count / 4u;
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < n4; i = i + stride) {
    param[i] = adabelief(i, param[i], grad[i]);
  }
}

@compute @workgroup_size(1)
fn tail() {
  let n4 = hyper.count / 4u;
  let base = n4 * 4u;
  let rest = hyper.count - base;
  var p = vec4<f32>(0.0);
  var g = vec4<f32>(0.0);
  for (var k = 0u; k < rest; k = k + 1u) {
    p[k] = param_tail[base + k];
    g[k] = grad_tail[base + k];
  }
  let updated = adabelief(n4, p, g);
  for (var k = 0u; k < rest; k = k + 1u) {
    param_tail[base + k] = updated[k];
  }
}
