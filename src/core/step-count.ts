/**
 * What the host knows of a GPU optimizer's step count, which lives on the GPU (shaders/common.wgsl `Steps`): the
 * step kernel advances it when, and only when, a step is applied. The host never holds a second copy; it keeps
 * the range of counts the GPU may be at once the queue has run everything issued so far, to know which step
 * counts' scalars the GPU may need (src/gpu/step-record.ts writes them, tagged with their count).
 *
 * Why a range: a step recorded with `encode()` runs when the caller submits its encoder (later, or never); a
 * guarded step may be skipped on the GPU. Only the GPU knows. A readback of the GPU's record (the count and
 * `runs`, the steps run so far) at a point in queue order narrows the range again:
 *   lo = count at the reference point + steps issued since that surely apply (unguarded `step()` calls)
 *   hi = count at the reference point + every issued step not known to have run there
 * The reference point is the latest readback, or the latest importState() (which sets the count in queue order).
 *
 * Pure: plain numbers (every count is a JS number, exact up to 2^53 - 1), testable in Node.
 */

/** The largest step count a GPU optimizer reaches (a step past it is refused: JS numbers are exact up to here). */
export const MAX_STEP = Number.MAX_SAFE_INTEGER;

/** A readback's place in the host's history, taken when its copy is queued. */
export interface ReadPoint {
  /** Step calls issued before the copy. */
  issued: number;
  /** step() calls (each ran before the copy) issued before it. */
  stepped: number;
  /** Sure steps (unguarded step() calls) issued before the copy. */
  sure: number;
  /** importState() calls before the copy (a readback older than the latest import is stale). */
  imports: number;
}

export class CountWindow {
  /** Step calls issued (step() and encode()). */
  private issued = 0;
  /** Of them, step() calls: each runs at its own submit (applied or, guarded, maybe skipped). */
  private stepped = 0;
  /** Of those, unguarded ones: each surely applies. */
  private sure = 0;
  private imports = 0;
  /** The reference point: the GPU's count there, steps run there (a lower bound), and the host's history there. */
  private refCount: number;
  private refRuns = 0;
  private refIssued = 0;
  private refStepped = 0;
  private refSure = 0;

  /** `count`: the count at construction. */
  constructor(count = 0) {
    this.refCount = count;
  }

  /** The lowest count the GPU may be at after everything issued so far. */
  get lo(): number {
    return this.refCount + (this.sure - this.refSure);
  }

  /** The highest count the GPU may be at after everything issued so far (every step applied). */
  get hi(): number {
    return this.refCount + (this.issued - this.refRuns);
  }

  /** Steps issued since the reference point whose effect is unsure (guarded step() calls, encode() calls). */
  get unsureSinceRead(): number {
    return Math.max(0, this.issued - this.refIssued - (this.sure - this.refSure));
  }

  /**
   * A step call was issued: `submitted` for step() (it runs at its own submit, now), `sure` when it also
   * surely applies (no guard to skip it).
   */
  issue(submitted: boolean, sure: boolean): void {
    this.issued++;
    if (submitted) this.stepped++;
    if (submitted && sure) this.sure++;
  }

  /**
   * A step call issued with `issue(submitted, sure)` never ran: WebGPU rejected it (its command buffer is
   * invalid). It is taken back, as if never issued.
   */
  retract(submitted: boolean, sure: boolean): void {
    this.issued--;
    if (submitted) this.stepped--;
    if (submitted && sure) this.sure--;
  }

  /** The host's history now, for a readback whose copy is queued now. */
  point(): ReadPoint {
    return { issued: this.issued, stepped: this.stepped, sure: this.sure, imports: this.imports };
  }

  /**
   * A readback queued at `at` found the GPU at `count` with `runs` (the GPU's u32 counter of steps run, mod
   * 2^32). Narrows the range, unless an importState() or a newer readback came after `at`. Returns the total
   * number of steps run at `at`.
   */
  read(at: ReadPoint, count: number, runs: number): number {
    // Steps run at `at`: at most `at.issued`, and fewer by less than 2^32 (the counter wraps).
    const total = at.issued - ((((at.issued - runs) % 2 ** 32) + 2 ** 32) % 2 ** 32);
    if (at.imports !== this.imports || at.issued < this.refIssued) return total;
    this.refCount = count;
    this.refRuns = total;
    this.refIssued = at.issued;
    this.refStepped = at.stepped;
    this.refSure = at.sure;
    return total;
  }

  /**
   * The count was set, in queue order, to one the host knows only as a range [lo, hi] (copied on the GPU from
   * another optimizer's record): later readbacks of this one narrow it as usual.
   */
  assume(lo: number, hi: number): void {
    this.reset(lo);
    // hi - lo more steps than issued may have applied: as if that many were issued and not known to have run.
    this.refRuns -= hi - lo;
  }

  /**
   * importState() set the count to `count` in queue order. Every step issued before it that is not known to
   * have run yet may still run after it (an encoded step submitted later).
   */
  reset(count: number): void {
    // Steps surely run by now: those run at the reference point and the step() calls since.
    this.refRuns += this.stepped - this.refStepped;
    this.refCount = count;
    this.refIssued = this.issued;
    this.refStepped = this.stepped;
    this.refSure = this.sure;
    this.imports++;
  }
}
