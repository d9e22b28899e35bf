/**
 * The optimizer's step record on the GPU (shaders/common.wgsl `Steps`) and the host's side of it. One buffer:
 *   header   the step count (the only one: advanced by step-decision.wgsl when a step is applied), `runs`, the
 *            latest step's decision, and the fields the host writes (the guard's inputs, the ring's shape)
 *   groups   for each tensor, its group: tensors with the same options share scalars (PyTorch's param groups)
 *   ring     `entries` entries (a power of two); the entry of step count t sits at t mod entries, tagged with t,
 *            and holds one `Hyper` record per group: the scalars of step t, computed once in f64 on the host and
 *            rounded to f32 once (records.ts packHyper)
 *
 * A step, whenever the caller submits it, takes the entry tagged with the count it runs at plus one, or applies
 * nothing (and counts itself `missing`). So the host needs no wrapper on the caller's queue or encoders to learn
 * when a step runs: it keeps entries for every count a step may run at (core/step-count.ts CountWindow: the range
 * [lo, hi] of counts the GPU may be at), writing only those missing or written with other options. Options changed
 * between an encode() and its submit are written into the entries at once: a step takes the options in force
 * when it runs (as PyTorch's capturable optimizers read `lr` from a device tensor).
 */
import { CountWindow, MAX_STEP, type ReadPoint } from '../core/step-count.js';
import type { StepScalars } from '../core/step-scalars.js';
import { ENTRY_HEAD_WORDS, HYPER_WORDS, STEPS_HOST_BYTES } from './abi.js';
import {
  COUNT_AT,
  STEPS_HEADER_BYTES,
  initialSteps,
  packHyper,
  readSteps,
  writeCount,
  writeStepsInputs,
  type StepsInputs,
  type StepsReadback,
} from './records.js';
import { Usage, readBuffers } from './device.js';

/** Entries of the ring for the groups an optimizer is constructed with: steps that may be in flight unconfirmed. */
export const RING_ENTRIES = 2048;
/** Entries the ring keeps however many groups the tensors are split into later (setOverrides). */
export const MIN_RING_ENTRIES = 16;

/** Steps ran at a step count whose scalars the ring did not hold: they applied nothing (the optimizer fails). */
export class MissingScalarsError extends Error {}

/** u32 words of an entry for `groups` groups. */
const entryWords = (groups: number) => ENTRY_HEAD_WORDS + HYPER_WORDS * groups;

/** The guard's inputs (the first fields of `Steps`). */
export interface GuardInputs {
  scale: number;
  maxNorm: number;
  skipNonFinite: boolean;
}

/** Each tensor's group, from its overrides (tensors with equal overrides share one). */
export function groupTensors(tensors: readonly { overrides: object; hasOverrides: boolean }[]): {
  groupOf: number[];
  /** A tensor of each group (whose overrides are the group's). */
  members: number[];
} {
  const index = new Map<string, number>();
  const members: number[] = [];
  const groupOf = tensors.map((t, i) => {
    const key = t.hasOverrides
      ? JSON.stringify(Object.entries(t.overrides).sort(([a], [b]) => (a < b ? -1 : 1)))
      : '';
    let g = index.get(key);
    if (g === undefined) {
      g = members.length;
      index.set(key, g);
      members.push(i);
    }
    return g;
  });
  return { groupOf, members };
}

export class StepRecord {
  readonly buffer: GPUBuffer;
  readonly window: CountWindow;
  /** Word of `Steps.words` where the ring starts (the group map before it, padded to 16 bytes). */
  private readonly ringAt: number;
  /** Words the ring may take. */
  private readonly capacity: number;
  private guard: GuardInputs;
  private groupOf: number[] = [];
  private members: number[] = [];
  private entries = 0;
  private words = 0;
  /** Per ring slot: the step count its entry holds (0: none) and the options version it was written with. */
  private slotCount = new Float64Array(0);
  private slotVersion = new Uint32Array(0);
  private version = 1;
  /** Where entries are packed before their write. */
  private scratch = new ArrayBuffer(0);
  private scratchView = new DataView(this.scratch);
  /** `Steps.missing` as last read (a change means steps ran without their scalars). */
  private missingSeen = 0;

  constructor(
    private readonly device: GPUDevice,
    label: string,
    tensors: readonly { overrides: object; hasOverrides: boolean }[],
    guard: GuardInputs,
    own: (d: GPUBufferDescriptor) => GPUBuffer,
  ) {
    this.window = new CountWindow(0);
    this.guard = guard;
    const n = tensors.length;
    this.ringAt = Math.ceil(n / 4) * 4;
    const { groupOf, members } = groupTensors(tensors);
    this.capacity = Math.max(RING_ENTRIES * entryWords(members.length), MIN_RING_ENTRIES * entryWords(n));
    this.buffer = own({
      label: `${label}/steps`,
      size: STEPS_HEADER_BYTES + 4 * (this.ringAt + this.capacity),
      usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
      mappedAtCreation: true,
    });
    this.setGroups(groupOf, members);
    const range = this.buffer.getMappedRange();
    new Uint8Array(range).set(new Uint8Array(initialSteps(this.inputs())));
    new Uint32Array(range, STEPS_HEADER_BYTES, n).set(groupOf);
    this.buffer.unmap();
  }

  /** The ring's entries now (at least MIN_RING_ENTRIES). */
  get ringEntries(): number {
    return this.entries;
  }

  /** The host's fields of `Steps`. */
  private inputs(): StepsInputs {
    return { ...this.guard, entries: this.entries, entryWords: this.words, ringAt: this.ringAt };
  }

  private setGroups(groupOf: number[], members: number[]): void {
    this.groupOf = groupOf;
    this.members = members;
    this.words = entryWords(members.length);
    this.entries = 2 ** Math.floor(Math.log2(this.capacity / this.words));
    this.slotCount = new Float64Array(this.entries);
    this.slotVersion = new Uint32Array(this.entries);
  }

  /** Writes the host's fields of the header (in queue order: steps submitted from now on see them). */
  private writeInputs(): void {
    const view = new DataView(new ArrayBuffer(STEPS_HOST_BYTES));
    writeStepsInputs(view, 0, this.inputs());
    this.device.queue.writeBuffer(this.buffer, 0, view.buffer);
  }

  /** New guard inputs (a loss scale or clipping norm set between steps): written at once. */
  setGuard(guard: GuardInputs): void {
    this.guard = guard;
    this.writeInputs();
  }

  /**
   * The tensors' overrides changed (setOverrides): when that changes how they group, the ring is laid out again
   * (emptied; the entries the next steps need are written by the next `sync`).
   */
  regroup(tensors: readonly { overrides: object; hasOverrides: boolean }[]): void {
    const { groupOf, members } = groupTensors(tensors);
    const same = members.length === this.members.length && groupOf.every((g, i) => g === this.groupOf[i]);
    this.version++;
    if (same) {
      this.members = members;
      return;
    }
    this.setGroups(groupOf, members);
    const queue = this.device.queue;
    this.writeInputs();
    queue.writeBuffer(this.buffer, STEPS_HEADER_BYTES, new Uint32Array(groupOf));
    // Emptied, so that no bytes of the old layout can read as a tag.
    queue.writeBuffer(
      this.buffer,
      STEPS_HEADER_BYTES + 4 * this.ringAt,
      new ArrayBuffer(4 * this.entries * this.words),
    );
  }

  /** The options changed: entries written before are rewritten by the next `sync`. */
  optionsChanged(): void {
    this.version++;
  }

  /**
   * Throws, before anything is recorded, when one more step cannot be taken: past MAX_STEP, or with more steps in
   * flight than the ring can hold entries for. `what`: the call, for the message.
   */
  checkRoom(name: string, what: string): void {
    const w = this.window;
    if (w.hi + 1 > MAX_STEP) {
      throw new RangeError(
        `${name}.${what}: the step count would pass 2^53 - 1 (${MAX_STEP}), where it stops being exact; ` +
          `importState() a smaller step to go on`,
      );
    }
    if (w.hi - w.lo + 1 > this.entries) {
      throw new Error(
        `${name}.${what}: ${w.hi - w.lo} steps may still run or be skipped without the host knowing ` +
          `(encode()d steps not known to have run, guarded steps not read since), and the optimizer keeps the ` +
          `scalars of ${this.entries} step counts: submit your encoders and await readStepCount() (or ` +
          `lastStepReport()) to go on. An encoder dropped without a submit keeps its steps here until importState()`,
      );
    }
  }

  /**
   * Writes the entries of every step count a step issued from now on may run at that are missing or were written
   * with other options (`scalars(member, t)`: the scalars of step t for the options of tensor `member`'s group).
   */
  sync(scalars: (member: number, t: number) => StepScalars): void {
    const w = this.window;
    // checkRoom keeps hi - lo below the ring's size: these counts take distinct slots.
    const last = Math.min(w.hi + 1, w.lo + this.entries, MAX_STEP);
    // Runs of consecutive counts in consecutive slots to write: from count `from`, `n` of them.
    let from = 0;
    let n = 0;
    for (let t = w.lo + 1; t <= last; t++) {
      const slot = t % this.entries;
      const current = this.slotCount[slot] === t && this.slotVersion[slot] === this.version;
      if (n > 0 && (current || slot === 0)) {
        this.writeEntries(from, n, scalars);
        n = 0;
      }
      if (current) continue;
      if (n === 0) from = t;
      n++;
    }
    if (n > 0) this.writeEntries(from, n, scalars);
  }

  /** Writes the entries of step counts `from` .. `from + n - 1` (consecutive slots: the ring does not wrap). */
  private writeEntries(from: number, n: number, scalars: (member: number, t: number) => StepScalars): void {
    const size = 4 * this.words * n;
    // One scratch buffer, grown when needed: a step's usual write (one entry) allocates nothing.
    if (this.scratch.byteLength < size) {
      this.scratch = new ArrayBuffer(size);
      this.scratchView = new DataView(this.scratch);
    }
    const view = this.scratchView;
    const groups = this.members.length;
    const slot = from % this.entries;
    for (let k = 0; k < n; k++) {
      const t = from + k;
      const at = 4 * this.words * k;
      writeCount(view, at, t);
      for (let g = 0; g < groups; g++) {
        packHyper(scalars(this.members[g]!, t), view, at + 4 * (ENTRY_HEAD_WORDS + HYPER_WORDS * g));
      }
      this.slotCount[slot + k] = t;
      this.slotVersion[slot + k] = this.version;
    }
    const offset = STEPS_HEADER_BYTES + 4 * (this.ringAt + slot * this.words);
    this.device.queue.writeBuffer(this.buffer, offset, this.scratch, 0, size);
  }

  /** importState(): the count becomes `count` in queue order. */
  setCount(count: number): void {
    const view = new DataView(new ArrayBuffer(8));
    writeCount(view, 0, count);
    this.device.queue.writeBuffer(this.buffer, COUNT_AT, view.buffer);
    this.window.reset(count);
    this.version++;
  }

  /**
   * Records into `encoder` the copy of `source`'s step count into this record (an adapter moving an optimizer's
   * state into a new one: the count, wherever the GPU has it, travels with the state), and takes over its range.
   */
  copyCount(encoder: GPUCommandEncoder, source: StepRecord): void {
    encoder.copyBufferToBuffer(source.buffer, COUNT_AT, this.buffer, COUNT_AT, 8);
    this.window.assume(source.window.lo, source.window.hi);
    this.version++;
  }

  /** The region of the header, for a readback. */
  get header(): { buffer: GPUBuffer; offset: number; bytes: number } {
    return { buffer: this.buffer, offset: 0, bytes: STEPS_HEADER_BYTES };
  }

  /**
   * A readback of the header, queued at `at`, returned `bytes`: narrows the count's range; throws when steps ran
   * without scalars for their count since the last read (they applied nothing).
   */
  read(at: ReadPoint, bytes: ArrayBuffer, name: string): StepsReadback {
    const r = readSteps(bytes);
    this.window.read(at, r.count, r.runs);
    if (r.missing !== this.missingSeen) {
      const n = (r.missing - this.missingSeen + 2 ** 32) % 2 ** 32;
      this.missingSeen = r.missing;
      throw new MissingScalarsError(
        `${name}: ${n} step(s) ran at a step count more than ${this.entries} steps away from where the host ` +
          `expected (an encoder submitted long after it was encoded, or another writer of the optimizer's ` +
          `buffers): they applied nothing and did not count. Submit encoders soon after encode()`,
      );
    }
    return r;
  }

  /**
   * Reads `regions` and the header in one command buffer, queued now (after exactly the work queued so far):
   * their bytes and the header's decoded fields, the count's range narrowed. Rejects like `read`.
   */
  async readWith(
    regions: { buffer: GPUBuffer; offset: number; bytes: number }[],
    label: string,
    name: string,
  ): Promise<{ steps: StepsReadback; bytes: ArrayBuffer[] }> {
    const at = this.window.point();
    const bytes = await readBuffers(this.device, [...regions, this.header], label);
    const steps = this.read(at, bytes.pop()!, name);
    return { steps, bytes };
  }
}
