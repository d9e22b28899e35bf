/**
 * The step count of a GPU optimizer and how guarded steps get confirmed: the host's tracker
 * (core/step-count.ts) plus the readbacks of the GPU's own counter (`Control.applied`, a u32 relative to the
 * tracker's origin, so counts past 2^32 stay exact).
 *
 * Confirmation: a guarded `step()` copies `Control` into one of a few readback slots in its own command
 * buffer and its promise resolves once that readback confirmed it. When every slot is busy, the step's
 * promise joins a catch-up readback (one at a time, issued after the busy slots come back) that confirms
 * every step called before it was issued. So awaiting any step() promise makes `stepCount` exact as of that
 * step, however many steps are in flight. A readback is used only once its step's own WebGPU errors
 * resolved clean (a rejected command buffer copies nothing: its slot would hold stale bytes).
 */
import { StepTracker } from '../core/step-count.js';
import { MAX_ROWS, type GuardReport } from '../core/guard.js';
import { CONTROL_APPLIED_AT, CONTROL_BYTES, readControl } from './records.js';
import { Usage, inErrorScopes, readBuffers } from './device.js';

/** Readbacks of `Control` that may be in flight at once. */
const READBACK_SLOTS = 4;

interface Slot {
  buffer: GPUBuffer;
  /** Settles (never rejects) when the slot is free again; undefined while free. */
  busy: Promise<void> | undefined;
}

export class StepCounter {
  readonly tracker: StepTracker;
  private readonly slots: Slot[] = [];
  /** The catch-up readback not yet issued, which later steps join. */
  private pendingCatchUp: Promise<void> | undefined;
  /** The chain of catch-up readbacks (one at a time). */
  private catchUps: Promise<void> = Promise.resolve();
  private catchUpBuffer: GPUBuffer | undefined;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly name: string,
    /** Whether steps are guarded (the GPU decides whether each is applied). */
    readonly guarded: boolean,
    /** The guard's `Control` buffer (read only when guarded). */
    private readonly control: () => GPUBuffer,
    private readonly own: (d: GPUBufferDescriptor) => GPUBuffer,
  ) {
    this.tracker = new StepTracker(guarded);
  }

  /** The step count (exact when no guarded step is unconfirmed; see StepTracker.count). */
  get count(): number {
    return this.tracker.count;
  }

  /** Rows the next step's records need (one per step count it may turn out to be); throws past MAX_ROWS. */
  rowsForNextStep(what: string): number {
    if (!this.guarded) return 1;
    const unsure = this.tracker.unsure;
    if (unsure + 1 > MAX_ROWS) {
      throw new Error(
        `${this.name}.${what}: ${unsure} guarded steps are in flight and none has been confirmed (at most ${MAX_ROWS}); await step() (or lastStepSkipped()) now and then`,
      );
    }
    return unsure + 1;
  }

  /** Step count of record row 0 of the next step. */
  get firstRow(): number {
    return this.guarded ? this.tracker.firstRow : this.tracker.count + 1;
  }

  /** `Control.lo` for the next step: row 0's step count minus 1, relative to the GPU counter's origin. */
  get lo(): number {
    return this.firstRow - 1 - this.tracker.origin;
  }

  /**
   * After a step was recorded into `encoder` as call `seq`: a readback copy at the end of `encoder` (when a
   * slot is free). Returns what the step's promise waits for, given its WebGPU errors: a function to call
   * after the submit. Its promise never rejects.
   */
  afterStep(encoder: GPUCommandEncoder, seq: number): (errors: Promise<void>) => Promise<void> {
    if (!this.guarded) return () => Promise.resolve();
    const slot = this.freeSlot();
    if (!slot) return () => this.confirmThrough(seq);
    encoder.copyBufferToBuffer(this.control(), 0, slot.buffer, 0, CONTROL_BYTES);
    let release!: () => void;
    slot.busy = new Promise<void>((r) => (release = r));
    return (errors) =>
      errors
        .then(async () => {
          await slot.buffer.mapAsync(0x1 /* GPUMapMode.READ */);
          try {
            this.tracker.confirm(seq, readControl(slot.buffer.getMappedRange().slice(0)).applied);
          } finally {
            slot.buffer.unmap();
          }
        })
        .catch(() => undefined) // the step's own failure is reported by its errors; a lost device by Health
        .finally(() => {
          slot.busy = undefined;
          release();
        });
  }

  private freeSlot(): Slot | undefined {
    let slot = this.slots.find((s) => !s.busy);
    if (!slot && this.slots.length < READBACK_SLOTS) {
      slot = {
        buffer: this.own({
          label: `${this.label}/control-readback#${this.slots.length}`,
          size: CONTROL_BYTES,
          usage: Usage.MAP_READ | Usage.COPY_DST,
        }),
        busy: undefined,
      };
      this.slots.push(slot);
    }
    return slot;
  }

  /** Resolves once step call `seq` is confirmed (joining or starting a catch-up readback). Never rejects. */
  confirmThrough(seq: number): Promise<void> {
    if (!this.guarded || this.tracker.confirmed(seq)) return Promise.resolve();
    if (!this.pendingCatchUp) {
      const run = async () => {
        this.pendingCatchUp = undefined; // issued now: later steps start a new one
        await Promise.all(this.slots.map((s) => s.busy));
        const latest = this.tracker.latest;
        this.catchUpBuffer ??= this.own({
          label: `${this.label}/control-catch-up`,
          size: CONTROL_BYTES,
          usage: Usage.MAP_READ | Usage.COPY_DST,
        });
        const buffer = this.catchUpBuffer;
        const { errors } = inErrorScopes(this.device, `${this.label}: confirming steps`, () => {
          const encoder = this.device.createCommandEncoder({ label: `${this.label}/catch-up` });
          encoder.copyBufferToBuffer(this.control(), 0, buffer, 0, CONTROL_BYTES);
          this.device.queue.submit([encoder.finish()]);
        });
        await errors;
        await buffer.mapAsync(0x1 /* GPUMapMode.READ */);
        try {
          this.tracker.confirm(latest, readControl(buffer.getMappedRange().slice(0)).applied);
        } finally {
          buffer.unmap();
        }
      };
      const next = this.catchUps.then(run).catch(() => undefined);
      this.catchUps = next;
      this.pendingCatchUp = next;
    }
    return this.pendingCatchUp;
  }

  /** Reads `Control` now (after all submitted work): the latest step's decision; confirms the count. */
  async report(): Promise<GuardReport> {
    await Promise.all(this.slots.map((s) => s.busy));
    const seq = this.tracker.latest;
    const [bytes] = await readBuffers(
      this.device,
      [{ buffer: this.control(), offset: 0, bytes: CONTROL_BYTES }],
      `${this.label}/control`,
    );
    const report = readControl(bytes!);
    this.tracker.confirm(seq, report.applied);
    return { ...report, applied: this.tracker.origin + report.applied };
  }

  /** Step call `seq` was rejected by WebGPU: it does not count. */
  fail(seq: number): void {
    this.tracker.fail(seq);
  }

  /**
   * Starts over at `step` (importState): the host's count is `step`, the GPU's counter restarts at 0
   * (relative to it). Returns the error promise of the write.
   */
  reset(step: number): Promise<void> {
    this.tracker.reset(step);
    if (!this.guarded) return Promise.resolve();
    return inErrorScopes(this.device, `${this.label}: importState (step counter)`, () =>
      this.device.queue.writeBuffer(this.control(), CONTROL_APPLIED_AT, new Uint32Array([0])),
    ).errors;
  }
}
