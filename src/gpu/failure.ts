/**
 * Whether an optimizer may still run, and how its errors reach the caller: destroyed, failed after an
 * earlier WebGPU error, or on a lost device. Every promise the optimizer returns goes through `settle`, so a
 * caller that never awaits it cannot crash the process with an unhandled rejection; the failure is kept and
 * the next call throws it.
 *
 * Device loss is watched once per device (one reaction on `device.lost`, in a WeakMap keyed by the device),
 * never by a closure per optimizer: a destroyed optimizer holds nothing the device keeps alive, and is
 * garbage-collected while its device lives.
 */

/** What a device's loss left: its reason and message, once `device.lost` resolved. */
interface LossRecord {
  info: GPUDeviceLostInfo | undefined;
}

const losses = new WeakMap<GPUDevice, LossRecord>();

/** The loss record of `device` (the one `device.lost` reaction is added on first use). */
function lossOf(device: GPUDevice): LossRecord {
  let record = losses.get(device);
  if (!record) {
    const r: LossRecord = { info: undefined };
    record = r;
    losses.set(device, r);
    // The reaction holds the record only (not the device, not an optimizer).
    void device.lost.then((info) => {
      r.info = info;
    });
  }
  return record;
}

/** Milliseconds a failed readback waits for `device.lost` to say whether the device was lost. */
const LOSS_GRACE_MS = 200;

/** Marks `promise` handled (an unawaited rejection cannot crash Node) and returns it: awaiting it still throws. */
export function settle<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

export class Health {
  private readonly loss: LossRecord;
  private failure: Error | undefined;
  private destroyedFlag = false;

  constructor(
    private readonly device: GPUDevice,
    /** The optimizer's name, prefixed to messages ('AdaBelief'). */
    private readonly name: string,
  ) {
    this.loss = lossOf(device);
  }

  get destroyed(): boolean {
    return this.destroyedFlag;
  }

  markDestroyed(): void {
    this.destroyedFlag = true;
  }

  /** The clear message of the device's loss, or undefined while it lives. */
  get lostMessage(): string | undefined {
    const info = this.loss.info;
    if (!info) return undefined;
    const message = info.message.replace(/\.*$/, '') || 'no message';
    return `the GPUDevice was lost (${info.reason}): ${message}. Create a new device and optimizer, then importState() the last exported state`;
  }

  /** Throws unless the optimizer may run `what` (destroyed, lost device, earlier failure). */
  check(what: string): void {
    if (this.destroyedFlag) throw new Error(`${this.name}.${what}: this optimizer was destroyed`);
    const lost = this.lostMessage;
    if (lost) throw new Error(`${this.name}.${what}: ${lost}`);
    if (this.failure) {
      throw new Error(
        `${this.name}.${what}: the optimizer is unusable after an earlier error: ${this.failure.message}`,
      );
    }
  }

  /** Throws if destroyed or on a lost device (reading state back works after other failures). */
  checkReadable(what: string): void {
    if (this.destroyedFlag) throw new Error(`${this.name}.${what}: this optimizer was destroyed`);
    const lost = this.lostMessage;
    if (lost) throw new Error(`${this.name}.${what}: ${lost}`);
  }

  /** Records `e` as the optimizer's failure (the first one is kept): later calls refuse to run. */
  fail(e: Error): void {
    this.failure ??= e;
  }

  /**
   * The errors of a call (from its error scopes), checked against a loss of the device meanwhile: rejects
   * with the clear message and records the failure. Handled (see `settle`).
   */
  watch(errors: Promise<void>, what: string): Promise<void> {
    const checked = errors.then(
      () => {
        const lost = this.lostMessage;
        if (lost) throw new Error(`${this.name}.${what}: ${lost}`);
      },
      async (e: Error) => {
        throw await this.explain(e, what);
      },
    );
    return settle(
      checked.catch((e: Error) => {
        this.fail(e);
        throw e;
      }),
    );
  }

  /**
   * The error to report for `e`, thrown by a call's GPU work: the device's loss (waiting briefly for
   * `device.lost`, which may settle after a readback's AbortError) or the optimizer's destruction when that
   * is the cause, else `e` with the call named.
   */
  async explain(e: unknown, what: string): Promise<Error> {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!this.loss.info && isAbort(err)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.device.lost,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, LOSS_GRACE_MS))),
      ]);
      clearTimeout(timer);
    }
    const lost = this.lostMessage;
    if (lost) return new Error(`${this.name}.${what}: ${lost}`, { cause: err });
    if (this.destroyedFlag)
      return new Error(`${this.name}.${what}: this optimizer was destroyed meanwhile`, { cause: err });
    const message = err.message || err.name || 'unknown error';
    return message.startsWith(`${this.name}.`) || message.includes(': WebGPU ')
      ? err
      : new Error(
          `${this.name}.${what}: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${message}`,
          {
            cause: err,
          },
        );
  }
}

/** A DOMException-like abort (a mapAsync cut short by a loss or a destroy), often with an empty message. */
function isAbort(e: Error): boolean {
  return e.name === 'AbortError' || e.name === 'OperationError' || e.message === '';
}
