/**
 * In-page scenarios of ONNX Runtime Web as a source of gradients, called from test/gpu/onnx.test.ts: a
 * least-squares gradient graph built here as ONNX bytes, run on ORT's WebGPU execution provider with its
 * outputs kept on the GPU, and this library's AdaBelief stepping the weights in place on ORT's device — the
 * loop docs/interop.md shows. Plus what docs/interop.md says about the device: how to get it, whether ORT
 * takes ours, what `session.release()` does to it. Each returns plain numbers for Node to assert and print.
 *
 * Builds: `onnxruntime-web/webgpu` (the native WebGPU EP, asyncify wasm) and `onnxruntime-web` (JSEP, the
 * JavaScript WebGPU EP). Both load their wasm from node_modules as the vite dev server serves it,
 * single-threaded (no cross-origin isolation needed).
 */
import type * as ortTypes from 'onnxruntime-web';
import { AdaBelief, AdaBeliefCPU } from 'adabelief-webgpu';
import { paramTolerance } from '../../helpers/tolerance.js';
import { compareArrays, type ErrorStats } from '../../helpers/compare.js';
import { randomArray, rng } from './harness.js';

type Ort = typeof ortTypes;
export type OrtBuild = 'webgpu' | 'jsep';

const WASM_PATHS = '/node_modules/onnxruntime-web/dist/';

/** The ORT build `build`, set up to load its wasm from node_modules, single-threaded. */
async function loadOrt(build: OrtBuild): Promise<Ort> {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
  if (!(await navigator.gpu.requestAdapter()))
    throw new Error('requestAdapter() returned null: no WebGPU adapter');
  const ort = (build === 'webgpu'
    ? await import('onnxruntime-web/webgpu')
    : await import('onnxruntime-web')) as unknown as Ort;
  ort.env.wasm.wasmPaths = WASM_PATHS;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return ort;
}

// ---------------------------------------------------------------------------------------------------------
// A minimal protobuf writer, enough for an ONNX ModelProto (onnx.proto3: field numbers as noted).

type Field = Uint8Array;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const concat = (parts: (Uint8Array | number[])[]): Uint8Array => {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};

/** Field `n` as a varint (wire type 0). */
const int = (n: number, value: number): Field => Uint8Array.from([...varint(n * 8), ...varint(value)]);
/** Field `n` as length-delimited bytes (wire type 2): strings, nested messages, packed arrays. */
const bytes = (n: number, payload: Uint8Array): Field =>
  concat([varint(n * 8 + 2), varint(payload.length), payload]);
const str = (n: number, s: string): Field => bytes(n, new TextEncoder().encode(s));
const msg = (n: number, ...fields: Field[]): Field => bytes(n, concat(fields));

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INTS = 7; // AttributeProto.AttributeType.INTS

/** ValueInfoProto (name 1, type 2) of a float tensor: TypeProto.tensor_type 1 { elem_type 1, shape 2 { dim 1 { dim_value 1 } } }. */
const floatValue = (n: number, name: string, dims: number[]): Field =>
  msg(n, str(1, name), msg(2, msg(1, int(1, FLOAT), msg(2, ...dims.map((d) => msg(1, int(1, d)))))));

/** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. */
const node = (op: string, inputs: string[], outputs: string[], ...attributes: Field[]): Field =>
  msg(
    1,
    ...inputs.map((s) => str(1, s)),
    ...outputs.map((s) => str(2, s)),
    str(3, `${op}_${outputs[0]}`),
    str(4, op),
    ...attributes,
  );

/** AttributeProto with INTS: name 1, type 20, ints 8 (packed). */
const intsAttribute = (name: string, values: number[]): Field =>
  msg(5, str(1, name), int(20, ATTR_INTS), bytes(8, Uint8Array.from(values.flatMap(varint))));

/** TensorProto initializer: dims 1, data_type 2, name 8, raw_data 9 (little-endian f32). */
const floatInitializer = (name: string, dims: number[], values: number[]): Field =>
  msg(
    5,
    ...dims.map((d) => int(1, d)),
    int(2, FLOAT),
    str(8, name),
    bytes(9, new Uint8Array(Float32Array.from(values).buffer)),
  );

/**
 * ModelProto (ir_version 1, graph 7, opset_import 8) of the least-squares gradient
 *   grad_w = (2/n) · Xᵀ (X W − Y)      W [d, k], X [n, d], Y [n, k] → grad_w [d, k]
 * with every MatMul operand 2-D (JSEP's MatMul wants that).
 */
export function leastSquaresGradModel(n: number, d: number, k: number): Uint8Array {
  const graph = msg(
    7,
    node('MatMul', ['x', 'w'], ['xw']),
    node('Sub', ['xw', 'y'], ['r']),
    node('Transpose', ['x'], ['xt'], intsAttribute('perm', [1, 0])),
    node('MatMul', ['xt', 'r'], ['xtr']),
    node('Mul', ['xtr', 'scale'], ['grad_w']),
    str(2, 'least_squares_grad'),
    floatInitializer('scale', [], [2 / n]),
    floatValue(11, 'w', [d, k]),
    floatValue(11, 'x', [n, d]),
    floatValue(11, 'y', [n, k]),
    floatValue(12, 'grad_w', [d, k]),
  );
  return concat([int(1, 8), str(2, 'adabelief-webgpu-test'), graph, msg(8, str(1, ''), int(2, 17))]);
}

// ---------------------------------------------------------------------------------------------------------

async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

/** The least-squares gradient in f64, and the bound of its f32 rounding error per element. */
function gradientReference(
  w: Float32Array,
  x: Float32Array,
  y: Float32Array,
  n: number,
  d: number,
  k: number,
): { grad: Float64Array; bound: Float64Array } {
  // Dot products of length m computed in f32 differ from the exact ones by at most γ_m Σ|a||b|
  // (γ_m = m·u / (1 − m·u), u = 2^-24, any summation order; Higham, Accuracy and Stability, §3.1). XW − Y
  // is one product of length d plus a subtraction, Xᵀ R one of length n on rounded R, then one multiply by
  // the rounded 2/n: bounded by γ_(n+d+3) (2/n) Σ_i |x_ij| (Σ_l |x_il w_lk| + |y_ik|).
  const u = 2 ** -24;
  const m = n + d + 3;
  const gamma = (m * u) / (1 - m * u);
  const grad = new Float64Array(d * k);
  const bound = new Float64Array(d * k);
  for (let j = 0; j < d; j++) {
    for (let c = 0; c < k; c++) {
      let g = 0;
      let a = 0;
      for (let i = 0; i < n; i++) {
        let r = -y[i * k + c]!;
        let ra = Math.abs(y[i * k + c]!);
        for (let l = 0; l < d; l++) {
          r += x[i * d + l]! * w[l * k + c]!;
          ra += Math.abs(x[i * d + l]! * w[l * k + c]!);
        }
        g += x[i * d + j]! * r;
        a += Math.abs(x[i * d + j]!) * ra;
      }
      grad[j * k + c] = (2 / n) * g;
      bound[j * k + c] = gamma * (2 / n) * a;
    }
  }
  return { grad, bound };
}

export interface LoopResult {
  ort: string;
  build: OrtBuild;
  adapter: string;
  steps: number;
  /** `await ort.env.webgpu.device` after the session was created is a GPUDevice. */
  deviceIsGPUDevice: boolean;
  /** grad_w's tensor: location, its GPUBuffer's size in bytes, and the tensor's own byte size. */
  location: string;
  gradBufferBytes: number;
  gradTensorBytes: number;
  /** How many distinct GPUBuffers ORT handed out for grad_w over the steps (rebind needed when > 1). */
  distinctGradBuffers: number;
  rebinds: number;
  /** Each step's grad_w against the f64 gradient at that step's weights: worst |Δ| / bound. */
  gradWorstOfBound: number;
  gradMaxAbs: number;
  /** Weights after each step against AdaBeliefCPU fed ORT's gradients (tolerance paramTolerance). */
  param: ErrorStats;
  lossFirst: number;
  lossLast: number;
  /** After the loop: session.release(), then what became of ORT's device and of the optimizer. */
  release: ReleaseResult;
}

export interface ReleaseResult {
  /** `device.lost` resolved within 2 s after release(): its reason and message, else null. */
  lost: { reason: string; message: string } | null;
  /** The optimizer's next step and a read of the weights after release(): 'ok' or the error message. */
  stepAfter: string;
  readAfter: string;
}

/**
 * The loop of docs/interop.md for `steps` steps: least squares with W [d, k] trained by AdaBelief on ORT's
 * device, gradients from ORT as GPU buffers, each step's gradient and weights copied aside (after the step,
 * in the queue's order) and read once at the end; then session.release() and what it leaves.
 */
export async function trainLoop(build: OrtBuild, steps: number): Promise<LoopResult> {
  const ort = await loadOrt(build);
  const [n, d, k] = [16, 10, 3];
  const size = d * k;
  const r = rng(41);
  const x = Float32Array.from(randomArray(r, n * d, 1));
  const wTrue = Float32Array.from(randomArray(r, size, 1));
  const y = new Float32Array(n * k);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let l = 0; l < d; l++) s += x[i * d + l]! * wTrue[l * k + c]!;
      y[i * k + c] = s + 0.01 * Math.sin(i + c);
    }
  const w0 = Float32Array.from(randomArray(r, size, 0.5));
  const lr = 5e-2;

  // --- the documented loop ---
  const session = await ort.InferenceSession.create(leastSquaresGradModel(n, d, k), {
    executionProviders: ['webgpu'],
    preferredOutputLocation: 'gpu-buffer',
  });
  const device = (await ort.env.webgpu.device) as GPUDevice;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const w = device.createBuffer({ label: 'w', size: size * 4, usage });
  device.queue.writeBuffer(w, 0, w0);
  const feeds = {
    w: ort.Tensor.fromGpuBuffer(w, { dataType: 'float32', dims: [d, k] }),
    x: new ort.Tensor('float32', x, [n, d]),
    y: new ort.Tensor('float32', y, [n, k]),
  };
  // Test only: every step's gradient and weights, copied after the step, read once at the end.
  const record = device.createBuffer({
    label: 'record',
    size: steps * 2 * size * 4,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  const gradBuffers = new Set<GPUBuffer>();
  let location = '';
  let gradBufferBytes = 0;
  let rebinds = 0;
  let opt: AdaBelief | undefined;
  let previous: GPUBuffer | undefined;
  const rebound: Promise<void>[] = [];
  for (let step = 0; step < steps; step++) {
    const out = await session.run(feeds);
    const grad = out.grad_w!;
    location = grad.location;
    const gradBuffer = grad.gpuBuffer as GPUBuffer;
    gradBufferBytes = gradBuffer.size;
    gradBuffers.add(gradBuffer);
    const entry = { param: w, grad: gradBuffer };
    if (!opt) opt = await AdaBelief.create(device, [{ ...entry, size }], { lr });
    else if (gradBuffer !== previous) {
      rebinds++;
      // Bad arguments throw here; a WebGPU error rejects the promise (awaited once, after the loop).
      rebound.push(opt.rebind([entry]));
    }
    previous = gradBuffer;
    opt.step();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(gradBuffer, 0, record, step * 2 * size * 4, size * 4);
    encoder.copyBufferToBuffer(w, 0, record, (step * 2 + 1) * size * 4, size * 4);
    device.queue.submit([encoder.finish()]);
    grad.dispose();
  }
  await Promise.all(rebound);
  const recorded = await readBuffer(device, record, steps * 2 * size * 4);
  record.destroy();

  // --- the reference: AdaBeliefCPU fed ORT's gradients; ORT's gradients against the f64 ones ---
  const cpu = new AdaBeliefCPU([Float32Array.from(w0)], { lr });
  const travel = new Float64Array(size);
  let param: ErrorStats | undefined;
  let gradWorstOfBound = 0;
  let gradMaxAbs = 0;
  let wBefore = Float32Array.from(w0);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const g = recorded.slice(step * 2 * size, step * 2 * size + size);
    const wGpu = recorded.slice((step * 2 + 1) * size, (step * 2 + 2) * size);
    // ORT's gradient must be that of the weights the previous step left (read back from the GPU).
    const ref = gradientReference(wBefore, x, y, n, d, k);
    for (let i = 0; i < size; i++) {
      const e = Math.abs(g[i]! - ref.grad[i]!);
      gradMaxAbs = Math.max(gradMaxAbs, e);
      gradWorstOfBound = Math.max(gradWorstOfBound, e / ref.bound[i]!);
    }
    let loss = 0;
    for (let i = 0; i < size; i++) loss += ref.grad[i]! ** 2;
    losses.push(loss);
    const p = cpu.params[0]!;
    const before = Float32Array.from(p);
    cpu.step([g]);
    for (let i = 0; i < size; i++) travel[i]! += Math.abs(p[i]! - before[i]!);
    const stats = compareArrays(wGpu, p, paramTolerance(p, travel, step + 1));
    if (!param || stats.worst > param.worst) param = stats;
    wBefore = wGpu;
  }

  // --- release(): what it does to ORT's device, and so to the optimizer and the weights ---
  const lost = device.lost.then((info) => ({ reason: String(info.reason), message: info.message }));
  await session.release();
  const lostInfo = await Promise.race([lost, new Promise<null>((res) => setTimeout(() => res(null), 2000))]);
  const attempt = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  const stepAfter = await attempt(() => opt!.step());
  const readAfter = await attempt(() => readBuffer(device, w, size * 4));
  opt?.destroy();
  w.destroy();

  const a = device.adapterInfo;
  return {
    ort: ort.env.versions.web ?? ort.env.versions.common,
    build,
    adapter: `${a.vendor} / ${a.architecture} / ${a.description}`,
    steps,
    deviceIsGPUDevice: device instanceof GPUDevice,
    location,
    gradBufferBytes,
    gradTensorBytes: size * 4,
    distinctGradBuffers: gradBuffers.size,
    rebinds,
    gradWorstOfBound,
    gradMaxAbs,
    param: param!,
    lossFirst: losses[0]!,
    lossLast: losses.at(-1)!,
    release: { lost: lostInfo, stepAfter, readAfter },
  };
}

export interface OwnDeviceResult {
  build: OrtBuild;
  /** How the attempt to make ORT use our device ended: 'ok' or the error message of session creation/run. */
  outcome: string;
  /** Whether `await ort.env.webgpu.device` is then our device. */
  ortUsesOurs: boolean | null;
}

/**
 * Giving ORT our device, on a fresh page (ORT keeps the first device it initialises): `how` is 'env' (set
 * `ort.env.webgpu.device` before the first session) or 'option' (the `device` field of the webgpu execution
 * provider's options).
 */
export async function ownDevice(build: OrtBuild, how: 'env' | 'option'): Promise<OwnDeviceResult> {
  const ort = await loadOrt(build);
  const adapter = (await navigator.gpu.requestAdapter())!;
  const ours = await adapter.requestDevice();
  let outcome = 'ok';
  let ortUsesOurs: boolean | null = null;
  try {
    if (how === 'env') ort.env.webgpu.device = ours;
    const session = await ort.InferenceSession.create(leastSquaresGradModel(4, 2, 1), {
      executionProviders: [how === 'option' ? { name: 'webgpu', device: ours } : 'webgpu'],
      preferredOutputLocation: 'gpu-buffer',
    });
    ortUsesOurs = (await ort.env.webgpu.device) === ours;
    const out = await session.run({
      w: new ort.Tensor('float32', new Float32Array(2), [2, 1]),
      x: new ort.Tensor('float32', new Float32Array(8), [4, 2]),
      y: new ort.Tensor('float32', new Float32Array(4), [4, 1]),
    });
    out.grad_w!.dispose();
    await session.release();
  } catch (e) {
    outcome = (e as Error).message;
  }
  return { build, outcome, ortUsesOurs };
}
