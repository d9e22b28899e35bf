/**
 * In-page scenario for test/gpu/lowp.test.ts: the kernel's own f16 / bf16 conversions (shaders/common.wgsl
 * `f16_value`, shaders/adabelief.wgsl `f16_bits`, `bf16_bits`) run on the GPU over every f16 bit pattern and
 * over the f32 values around every f16 and rounding boundary, against their CPU mirrors (src/core/precision.ts).
 * The update kernel's module is compiled with one test entry point added after it (test-only WGSL, never
 * shipped), so the functions under test are exactly those the kernels call.
 */
import { shaderCode } from '../../../src/gpu/pipelines.js';
import { bf16Bits, f16Bits, f16Value } from '../../../src/core/precision.js';
import { rng, withGpu } from './harness.js';

const TEST_ENTRY = `
@group(0) @binding(30) var<storage, read> conv_in: array<vec4<u32>>;
@group(0) @binding(31) var<storage, read_write> conv_out: array<vec4<u32>>;

@compute @workgroup_size(64)
fn conversions_test(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var i = gid.x; i < arrayLength(&conv_in); i = i + groups.x * 64u) {
    let x = conv_in[i];
    conv_out[3u * i] = bitcast<vec4<u32>>(f16_value(x & vec4<u32>(0xffffu)));
    conv_out[3u * i + 1u] = f16_bits(bitcast<vec4<f32>>(x));
    conv_out[3u * i + 2u] = bf16_bits(bitcast<vec4<f32>>(x));
  }
}
`;

export interface ConversionsResult {
  inputs: number;
  /** Inputs whose GPU result differs from the CPU mirror, per conversion (first few as hex). */
  f16Value: { mismatches: number; first: string[] };
  f16Bits: { mismatches: number; first: string[] };
  bf16Bits: { mismatches: number; first: string[] };
}

/**
 * The inputs (u32 each; decoded as the f16 in their low 16 bits, encoded as the f32 of their bits): every f16 bit
 * pattern, every finite f16 value's f32 bits and the f32s around the halfway points to its neighbours (f16's ties,
 * ±0xfff..0x1001 of the f32 bits; bf16's, ±0x7fff..0x8001), and 100,000 random bit patterns.
 */
function inputs(): Uint32Array {
  const out: number[] = [];
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const around = [0, 1, -1, 0xfff, 0x1000, 0x1001, -0xfff, -0x1000, -0x1001, 0x7fff, 0x8000, 0x8001];
  for (let h = 0; h < 0x10000; h++) {
    out.push(h);
    const v = f16Value(h);
    if (!Number.isFinite(v)) continue;
    f32[0] = v;
    for (const d of around) out.push((u32[0]! + d) >>> 0);
  }
  const r = rng(17);
  for (let i = 0; i < 100_000; i++) out.push(Math.floor(r.next() * 2 ** 32) >>> 0);
  while (out.length % 4) out.push(0); // whole vec4s
  return Uint32Array.from(out);
}

/** Whether f32 bits `x` are a NaN. */
const f32NaN = (x: number) => (x & 0x7fffffff) > 0x7f800000;

export async function conversions(): Promise<ConversionsResult> {
  return withGpu(async (gpu) => {
    const device = gpu.device;
    const data = inputs();
    const module = device.createShaderModule({
      label: 'conversions-test',
      code: shaderCode('adabelief') + TEST_ENTRY,
    });
    const pipeline = device.createComputePipeline({
      label: 'conversions-test',
      layout: 'auto',
      compute: { module, entryPoint: 'conversions_test' },
    });
    const input = gpu.buffer(new Float32Array(data.buffer), { label: 'conversions-in' });
    const output = gpu.track(
      device.createBuffer({
        label: 'conversions-out',
        size: data.byteLength * 3,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      }),
    );
    const encoder = device.createCommandEncoder({ label: 'conversions-test' });
    const pass = encoder.beginComputePass({ label: 'conversions-test' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        label: 'conversions-test',
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 30, resource: { buffer: input } },
          { binding: 31, resource: { buffer: output } },
        ],
      }),
    );
    pass.dispatchWorkgroups(Math.min(4096, Math.ceil(data.length / 4 / 64)));
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = new Uint32Array((await gpu.read(output, data.length * 3)).buffer);

    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    // Whether conversion `kind`'s result `v` for input `x` is a NaN (f32 bits, f16 bits, bf16 bits).
    const kinds = [
      (v: number) => f32NaN(v),
      (v: number) => (v & 0x7fff) > 0x7c00,
      (v: number) => (v & 0x7fff) > 0x7f80,
    ];
    const check = (kind: 0 | 1 | 2, want: (x: number) => number) => {
      const isNaN = (x: number, v: number) =>
        (kind === 0 ? (x & 0x7fff) > 0x7c00 : f32NaN(x)) && kinds[kind]!(v);
      let mismatches = 0;
      const first: string[] = [];
      for (let i = 0; i < data.length; i++) {
        const x = data[i]!;
        const g = got[(Math.floor(i / 4) * 3 + kind) * 4 + (i % 4)]!;
        const w = want(x) >>> 0;
        // A NaN is compared as a NaN: the CPU mirrors take JS numbers, which keep no NaN payload.
        if (isNaN(x, g) ? !isNaN(x, w) : g !== w) {
          mismatches++;
          if (first.length < 5)
            first.push(`in 0x${x.toString(16)}: GPU 0x${g.toString(16)}, CPU 0x${w.toString(16)}`);
        }
      }
      return { mismatches, first };
    };
    const asF32 = (x: number) => ((u32[0] = x), f32[0]!);
    const f16ValueBits = (x: number) => ((f32[0] = f16Value(x & 0xffff)), u32[0]!);
    return {
      inputs: data.length,
      f16Value: check(0, f16ValueBits),
      f16Bits: check(1, (x) => f16Bits(asF32(x))),
      bf16Bits: check(2, (x) => bf16Bits(asF32(x))),
    };
  });
}
