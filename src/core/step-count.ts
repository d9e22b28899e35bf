/**
 * The step count as the host knows it, exact and authoritative (a JS number: every integer up to 2^53 - 1).
 *
 * Unguarded steps count when called and are taken back if WebGPU rejects them (`fail`). Guarded steps may
 * be skipped on the GPU, and the host learns of that later: each is "unsure" until a readback of the GPU's
 * own counter confirms it (see guard.ts "Why rows"). The GPU's counter is a u32 relative to `origin` (the
 * count at construction or at the last importState), so counts past 2^32 stay exact on the host.
 */

/** What the host knows of a step call it has not folded into the confirmed count. */
type Later = 'unsure' | 'failed';

export class StepTracker {
  /** `guarded`: every step may be skipped on the GPU (the guard passes run). */
  constructor(readonly guarded: boolean) {}

  /** Steps applied as of step call `baseSeq`. */
  private base = 0;
  private baseSeq = 0;
  private seq = 0;
  /** Step calls after `baseSeq`, in order. */
  private later: Later[] = [];
  /** The latest step call before the latest reset: failures of older calls no longer count. */
  private resetSeq = 0;
  /** The step count the GPU's u32 `applied` counter is relative to. */
  private originCount = 0;

  /** The step count, assuming no unsure step was skipped (exact when `unsure` is 0). */
  get count(): number {
    let n = this.base;
    for (const l of this.later) if (l === 'unsure') n++;
    return n;
  }

  /** Guarded step calls not yet confirmed by a readback. */
  get unsure(): number {
    let n = 0;
    for (const l of this.later) if (l === 'unsure') n++;
    return n;
  }

  /** The number of the latest step call. */
  get latest(): number {
    return this.seq;
  }

  /** The count the GPU's counter starts from (its `applied` word is the count minus this). */
  get origin(): number {
    return this.originCount;
  }

  /** Whether step call `seq` is confirmed (folded into the known count). */
  confirmed(seq: number): boolean {
    return seq <= this.baseSeq;
  }

  /** Records a step call; returns its number. */
  push(): number {
    this.seq++;
    if (this.guarded) {
      this.later.push('unsure');
    } else {
      this.base++;
      this.baseSeq = this.seq;
    }
    return this.seq;
  }

  /** A readback: after step call `seq`, the GPU's counter read `gpuApplied`. Stale readbacks are ignored. */
  confirm(seq: number, gpuApplied: number): void {
    if (seq <= this.baseSeq || seq <= this.resetSeq || seq > this.seq) return;
    this.later = this.later.slice(seq - this.baseSeq);
    this.base = this.originCount + gpuApplied;
    this.baseSeq = seq;
  }

  /**
   * Step call `seq` was rejected by WebGPU (nothing of it ran): it does not count. An unguarded step counted
   * at once is taken back; a guarded one not yet confirmed is dropped (a later readback confirms the rest).
   */
  fail(seq: number): void {
    if (seq <= this.resetSeq || seq > this.seq) return;
    if (seq > this.baseSeq) this.later[seq - this.baseSeq - 1] = 'failed';
    else if (!this.guarded) this.base--; // a guarded count folded in came from the GPU: already exact
  }

  /** Starts over at `count` steps (importState); the GPU's counter restarts at 0 from there. */
  reset(count: number): void {
    this.base = count;
    this.originCount = count;
    this.baseSeq = this.seq;
    this.resetSeq = this.seq;
    this.later = [];
  }

  /** The step count of record row 0 of the next guarded step (row r is step `firstRow + r`). */
  get firstRow(): number {
    return this.count - this.unsure + 1;
  }
}
