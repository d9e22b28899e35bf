/**
 * The staging ring behind `encode()`: a step recorded into the caller's command encoder takes its scalars
 * from one of `ENCODE_RING` staging slots (written now with `queue.writeBuffer`, copied inside the encoder
 * when the caller submits it). A slot may be written again only after the command buffer that copies it was
 * submitted — queue order then puts the copy first. So the ring knows which slots wait for a submit: it
 * wraps `finish()` of each encoder it records into (to learn the command buffer) and, once per queue,
 * `queue.submit()` (to see that command buffer go). Both wrappers call the originals unchanged.
 *
 * An encoder dropped without a submit (never finished, or finished into a command buffer that is dropped)
 * can never be submitted: when the garbage collector reclaims it (FinalizationRegistry; not before, so
 * nothing still reachable is given up on) its slots are released and `onDropped` runs for each of its steps
 * (the optimizer then refuses further calls: that step was counted but never ran).
 *
 * When every slot waits for a submit, `take()` throws a clear error and nothing is recorded.
 */

/** Steps that `encode()` may record into encoders before their submit. */
export const ENCODE_RING = 8;

/** What to do for each step recorded into one encoder, once its command buffer is submitted or dropped. */
type Pending = ((submitted: boolean) => void)[];

/** Per command buffer holding encoded steps. */
const onSubmit = new WeakMap<GPUCommandBuffer, Pending>();
/** Per encoder recorded into and not yet finished. */
const onFinish = new WeakMap<GPUCommandEncoder, Pending>();
const wrappedQueues = new WeakSet<GPUQueue>();
/**
 * Runs the steps' hooks of an encoder, or of its command buffer, reclaimed without a submit. The unregister
 * token is the list itself: finish() moves the registration from the encoder to its command buffer, a
 * submit removes it; so each list runs once, at its submit or at its collection.
 */
const onDrop = new FinalizationRegistry<Pending>((pending) => pending.forEach((r) => r(false)));

/** Wraps `queue.submit` (once per queue) to run the hooks of the command buffers it submits. */
function watchSubmits(queue: GPUQueue): void {
  if (wrappedQueues.has(queue)) return;
  wrappedQueues.add(queue);
  const submit = queue.submit;
  Object.defineProperty(queue, 'submit', {
    configurable: true,
    writable: true,
    value: function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
      const list = Array.from(buffers);
      for (const b of list) {
        const pending = onSubmit.get(b);
        if (pending) {
          onSubmit.delete(b);
          onDrop.unregister(pending);
          pending.forEach((r) => r(true));
        }
      }
      return submit.call(this, list);
    },
  });
}

/** Registers `settle` to run when the command buffer `encoder` finishes into is submitted or dropped. */
function settleOnSubmit(encoder: GPUCommandEncoder, settle: (submitted: boolean) => void): void {
  let list = onFinish.get(encoder);
  if (!list) {
    const pending: Pending = [];
    list = pending;
    onFinish.set(encoder, pending);
    onDrop.register(encoder, pending, pending);
    const finish = encoder.finish;
    Object.defineProperty(encoder, 'finish', {
      configurable: true,
      writable: true,
      value: function (this: GPUCommandEncoder, descriptor?: GPUCommandBufferDescriptor) {
        const buffer = finish.call(this, descriptor);
        onFinish.delete(encoder);
        onSubmit.set(buffer, pending);
        onDrop.unregister(pending);
        onDrop.register(buffer, pending, pending);
        return buffer;
      },
    });
  }
  list.push(settle);
}

export class EncodeRing {
  /** Per slot: whether it waits for the submit of the encoder that copies it. */
  private readonly busy = new Array<boolean>(ENCODE_RING).fill(false);
  private next = 0;

  constructor(
    private readonly device: GPUDevice,
    /** The optimizer's name, for the message. */
    private readonly name: string,
    /** Called with a step's number when its encoder was collected without a submit. */
    private readonly onDropped: (step: number) => void,
  ) {}

  /** A free slot's index, or throws (before anything is written) when all wait for a submit. */
  peek(): number {
    for (let k = 0; k < ENCODE_RING; k++) {
      const slot = (this.next + k) % ENCODE_RING;
      if (!this.busy[slot]) return slot;
    }
    throw new Error(
      `${this.name}.encode: ${ENCODE_RING} encoded steps wait for their command encoders to be submitted; ` +
        `submit them (device.queue.submit) before encoding more (encode() holds at most ${ENCODE_RING} steps between submits)`,
    );
  }

  /**
   * Takes slot `slot` (from peek) for step `step`, recorded into `encoder`, until that encoder is submitted,
   * or collected without a submit (then `onDropped(step)` runs too).
   */
  take(slot: number, encoder: GPUCommandEncoder, step: number): void {
    watchSubmits(this.device.queue);
    this.busy[slot] = true;
    this.next = (slot + 1) % ENCODE_RING;
    settleOnSubmit(encoder, (submitted) => {
      this.busy[slot] = false;
      if (!submitted) this.onDropped(step);
    });
  }
}
