/**
 * Lifecycle scenarios run in a child Node process by test/gpu/lifecycle.test.ts (so that an unhandled
 * rejection, which makes Node exit 1, or a leak shows in the exit code and stderr, not in the test runner).
 * Usage: node --expose-gc --import tsx test/gpu/scenarios/lifecycle-child.ts <scenario>
 * Prints one JSON line `RESULT {...}` and exits 0 when the scenario ran through.
 */
import { AdaBelief } from '../../../src/index.js';
import { requestNodeDevice } from '../../../src/node/index.js';

const N = 1024;
const STORAGE = 0x80 | 0x4 | 0x8;

async function setup(options = {}) {
  const device = await requestNodeDevice({ label: 'lifecycle-child' });
  const param = device.createBuffer({ label: 'param', size: N * 4, usage: STORAGE });
  const grad = device.createBuffer({ label: 'grad', size: N * 4, usage: STORAGE });
  const opt = await AdaBelief.create(device, [{ param, grad, size: N }], options);
  return { device, param, grad, opt };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const scenarios: Record<string, () => Promise<unknown>> = {
  /** Steps never awaited, then the device is destroyed: the process must survive. */
  async unawaitedDeviceLoss() {
    for (const options of [{}, { skipNonFinite: true }]) {
      const { device, opt } = await setup(options);
      for (let i = 0; i < 10; i++) void opt.step();
      device.destroy();
      for (let i = 0; i < 3; i++) {
        try {
          void opt.step();
        } catch {
          // the next call throws the loss: expected
        }
      }
      void opt.exportState();
      void opt.rebind([
        {
          param: opt.device.createBuffer({ size: N * 4, usage: STORAGE }),
          grad: opt.device.createBuffer({ size: N * 4, usage: STORAGE }),
        },
      ]);
      await delay(300);
    }
    let message = '';
    try {
      const { device, opt } = await setup();
      device.destroy();
      await delay(100);
      opt.step();
    } catch (e) {
      message = (e as Error).message;
    }
    return { message };
  },
  /** The caller destroys its param buffer and steps without awaiting: the next call throws the cause. */
  async unawaitedDestroyedBuffer() {
    const { param, opt } = await setup();
    param.destroy();
    void opt.step();
    void opt.step();
    await delay(300);
    let message = '';
    try {
      opt.step();
    } catch (e) {
      message = (e as Error).message;
    }
    const state = await opt.exportState();
    return { message, step: state.step, stepCount: opt.stepCount };
  },
  /** Destroyed optimizers are garbage-collected while their device lives. */
  async gc() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    const device = await requestNodeDevice({ label: 'lifecycle-gc' });
    const param = device.createBuffer({ label: 'param', size: N * 4, usage: STORAGE });
    const grad = device.createBuffer({ label: 'grad', size: N * 4, usage: STORAGE });
    const refs: WeakRef<object>[] = [];
    // In a function of its own: no variable of this frame keeps the last optimizer.
    const cycle = async (i: number) => {
      const opt = await AdaBelief.create(
        device,
        [{ param, grad, size: N }],
        i % 2 ? { skipNonFinite: true } : {},
      );
      await opt.step();
      opt.destroy();
      refs.push(new WeakRef(opt));
    };
    for (let i = 0; i < 40; i++) await cycle(i);
    await delay(50);
    for (let k = 0; k < 10 && refs.some((r) => r.deref()); k++) {
      await delay(50);
      gc();
    }
    const alive = refs.flatMap((r, i) => (r.deref() ? [i] : []));
    device.destroy();
    return { created: refs.length, alive: alive.length, aliveIndices: alive };
  },
  /**
   * encode() into encoders dropped without a submit (never finished, or finished into a command buffer that
   * is dropped): once the collector reclaims them the optimizer refuses further calls, saying why (those steps
   * were counted but never ran). Command buffers still held keep their steps through any number of
   * collections, and run when submitted.
   */
  async droppedEncoders() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    const result: Record<string, unknown> = {};
    // One optimizer per case. The encoders are made in a function of its own, so no variable keeps one.
    const drop = (device: GPUDevice, opt: AdaBelief, finish: boolean) => {
      for (let i = 0; i < 8; i++) {
        const e = device.createCommandEncoder();
        opt.encode(e);
        if (finish) e.finish();
      }
    };
    for (const finish of [false, true]) {
      const { device, opt } = await setup();
      drop(device, opt, finish);
      for (let k = 0; k < 5; k++) {
        gc();
        await delay(20);
      }
      // The dropped steps never ran: two steps later the GPU's count is 2, and nothing refuses.
      await opt.step();
      await opt.step();
      const name = finish ? 'finished' : 'unfinished';
      result[`${name}Read`] = await opt.readStepCount();
      result[`${name}Step`] = (await opt.exportState()).step;
      device.destroy();
    }
    // Held command buffers: kept through collections, their steps run when submitted.
    const { device, opt } = await setup();
    const held = Array.from({ length: 8 }, () => {
      const e = device.createCommandEncoder();
      opt.encode(e);
      return e.finish();
    });
    for (let k = 0; k < 5; k++) {
      gc();
      await delay(20);
    }
    await opt.step();
    device.queue.submit(held);
    result.heldStep = (await opt.exportState()).step;
    device.destroy();
    return result;
  },
};

const name = process.argv[2] ?? '';
const run = scenarios[name];
if (!run) {
  console.error(`unknown scenario '${name}' (have ${Object.keys(scenarios).join(', ')})`);
  process.exit(2);
}
run().then(
  (result) => {
    console.log(`RESULT ${JSON.stringify(result)}`);
    // Give late rejections (if any were unhandled) the chance to crash the process before exiting cleanly.
    setTimeout(() => process.exit(0), 300);
  },
  (e: Error) => {
    console.error(`scenario failed: ${e.stack ?? e.message}`);
    process.exit(3);
  },
);
