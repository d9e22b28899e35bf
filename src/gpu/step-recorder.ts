/**
 * Recording one step: the per-step scalars (one `Hyper` record per tensor per candidate step count, packed
 * on the host in f64 and rounded to f32 once, see records.ts), their upload — straight into the `hyper`
 * buffer for `step()`, through the encode ring for `encode()` — the guard's inputs, and the compute pass
 * (guard passes, master-weight initialisation when pending, the update dispatches).
 */
import { CONTROL_INPUT_BYTES } from './abi.js';
import { HYPER_BYTES, packHyper } from './records.js';
import { replay, type Dispatch } from './dispatches.js';
import { EncodeRing, ENCODE_RING } from './encode-ring.js';
import { Usage } from './device.js';
import type { Rule } from '../core/rules.js';
import type { Tensor } from './entries.js';
import type { StepGuard } from './step-guard.js';

/** What a step is recorded from (the optimizer's current state of things). */
export interface StepInputs<O extends object> {
  rule: Rule<O>;
  opts: O;
  tensors: readonly Tensor[];
  guard: StepGuard;
  /** Step count of record row 0 (row r is step `firstRow + r`) and the rows to write. */
  firstRow: number;
  rows: number;
  /** Guarded: `Control.lo` (row 0's step count minus 1, relative to the GPU counter's origin). */
  lo: number;
  dispatches: readonly Dispatch[];
  /** Master-weight initialisation to run before the update (when pending), else undefined. */
  inits: readonly Dispatch[] | undefined;
}

export class StepRecorder {
  /** The `Hyper` records of the next step, rows × tensors. */
  private readonly hyperData: ArrayBuffer;
  private readonly hyperView: DataView;
  private readonly hyperBytes: Uint8Array;
  private readonly controlInputs = new DataView(new ArrayBuffer(CONTROL_INPUT_BYTES));
  private readonly ring: EncodeRing;
  private staging: GPUBuffer | undefined;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    name: string,
    /** The buffer the kernel reads its records from (rows × tensors × HYPER_BYTES). */
    readonly hyper: GPUBuffer,
    private readonly own: (d: GPUBufferDescriptor) => GPUBuffer,
    /** Called with an encoded step's number when its encoder was collected without a submit. */
    onDropped: (step: number) => void,
  ) {
    this.hyperData = new ArrayBuffer(hyper.size);
    this.hyperView = new DataView(this.hyperData);
    this.hyperBytes = new Uint8Array(this.hyperData);
    this.ring = new EncodeRing(device, name, onDropped);
  }

  /** Bytes of the `hyper` buffer for `rows` rows of `tensors` tensors. */
  static hyperBytesFor(rows: number, tensors: number): number {
    return rows * tensors * HYPER_BYTES;
  }

  /**
   * Records one step into `encoder`. `encoded` (encode(): the step's number): the scalars go through a ring
   * slot copied inside the encoder; throws, before anything is written, when every slot waits for a submit.
   */
  record<O extends object>(encoder: GPUCommandEncoder, s: StepInputs<O>, encoded?: number): void {
    const staged = encoded !== undefined;
    const slot = staged ? this.ring.peek() : -1;
    const perRow = s.tensors.length * HYPER_BYTES;
    for (let r = 0; r < s.rows; r++) this.packRow(s, s.firstRow + r, r * perRow);
    const bytes = s.rows * perRow;
    const guarded = s.guard.enabled;
    if (guarded) s.guard.writeInputs(this.controlInputs, 0, s.lo);
    const queue = this.device.queue;
    if (staged) {
      const slotBytes = CONTROL_INPUT_BYTES + this.hyperData.byteLength;
      this.staging ??= this.own({
        label: `${this.label}/hyper-staging`,
        size: slotBytes * ENCODE_RING,
        usage: Usage.COPY_SRC | Usage.COPY_DST,
      });
      this.ring.take(slot, encoder, encoded);
      const offset = slot * slotBytes;
      if (guarded) {
        queue.writeBuffer(this.staging, offset, this.controlInputs.buffer);
        encoder.copyBufferToBuffer(this.staging, offset, s.guard.control!, 0, CONTROL_INPUT_BYTES);
      }
      const at = offset + CONTROL_INPUT_BYTES;
      queue.writeBuffer(this.staging, at, this.hyperData, 0, bytes);
      encoder.copyBufferToBuffer(this.staging, at, this.hyper, 0, bytes);
    } else {
      if (guarded) queue.writeBuffer(s.guard.control!, 0, this.controlInputs.buffer);
      queue.writeBuffer(this.hyper, 0, this.hyperData, 0, bytes);
    }
    if (guarded) s.guard.copyScale(encoder);
    const pass = encoder.beginComputePass({ label: `${this.label}/pass` });
    s.guard.dispatch(pass);
    if (s.inits) replay(pass, s.inits);
    replay(pass, s.dispatches);
    pass.end();
  }

  /** Packs the records of step `t` (one per tensor) at `base` bytes. */
  private packRow<O extends object>(s: StepInputs<O>, t: number, base: number): void {
    // Tensors without overrides share one record: packed once, then copied.
    let shared = -1;
    s.tensors.forEach((tensor, i) => {
      const at = base + i * HYPER_BYTES;
      if (tensor.hasOverrides) {
        packHyper(s.rule.scalars({ ...s.opts, ...tensor.overrides }, t), this.hyperView, at);
      } else if (shared < 0) {
        packHyper(s.rule.scalars(s.opts, t), this.hyperView, at);
        shared = at;
      } else {
        this.hyperBytes.copyWithin(at, shared, shared + HYPER_BYTES);
      }
    });
  }
}
