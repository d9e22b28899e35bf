/**
 * The staging ring behind `encode()`: a step recorded into the caller's command encoder takes its scalars
 * from one of `ENCODE_RING` staging slots (written now with `queue.writeBuffer`, copied inside the encoder
 * when the caller submits it). A slot may be written again only after the command buffer that copies it was
 * submitted — queue order then puts the copy first. So the ring knows which slots wait for a submit: it
 * wraps `finish()` of each encoder it records into (to learn the command buffer) and, once per queue,
 * `queue.submit()` (to see that command buffer go). Both wrappers call the originals unchanged.
 *
 * When every slot waits for a submit, `take()` throws a clear error and nothing is recorded.
 */

/** Steps that `encode()` may record into encoders before their submit. */
export const ENCODE_RING = 8;

/** Per command buffer holding encoded steps: what to release when it is submitted. */
const onSubmit = new WeakMap<GPUCommandBuffer, (() => void)[]>();
/** Per encoder recorded into and not yet finished: what to release once its command buffer is submitted. */
const onFinish = new WeakMap<GPUCommandEncoder, (() => void)[]>();
const wrappedQueues = new WeakSet<GPUQueue>();

/** Wraps `queue.submit` (once per queue) to release the slots of the command buffers it submits. */
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
        const release = onSubmit.get(b);
        if (release) {
          onSubmit.delete(b);
          release.forEach((r) => r());
        }
      }
      return submit.call(this, list);
    },
  });
}

/** Registers `release` to run when the command buffer `encoder` finishes into is submitted. */
function releaseOnSubmit(encoder: GPUCommandEncoder, release: () => void): void {
  let list = onFinish.get(encoder);
  if (!list) {
    const pending: (() => void)[] = [];
    list = pending;
    onFinish.set(encoder, pending);
    const finish = encoder.finish;
    Object.defineProperty(encoder, 'finish', {
      configurable: true,
      writable: true,
      value: function (this: GPUCommandEncoder, descriptor?: GPUCommandBufferDescriptor) {
        const buffer = finish.call(this, descriptor);
        onFinish.delete(encoder);
        onSubmit.set(buffer, pending);
        return buffer;
      },
    });
  }
  list.push(release);
}

export class EncodeRing {
  /** Per slot: whether it waits for the submit of the encoder that copies it. */
  private readonly busy = new Array<boolean>(ENCODE_RING).fill(false);
  private next = 0;

  constructor(
    private readonly device: GPUDevice,
    /** The optimizer's name, for the message. */
    private readonly name: string,
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

  /** Takes slot `slot` (from peek) for a step recorded into `encoder`, until that encoder is submitted. */
  take(slot: number, encoder: GPUCommandEncoder): void {
    watchSubmits(this.device.queue);
    this.busy[slot] = true;
    this.next = (slot + 1) % ENCODE_RING;
    releaseOnSubmit(encoder, () => {
      this.busy[slot] = false;
    });
  }
}
