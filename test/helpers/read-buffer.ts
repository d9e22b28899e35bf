/** Reads a GPUBuffer's bytes back as f32 values (a staging copy, mapped and released): for Node tests on Dawn. */
export async function readFloat32Buffer(device: GPUDevice, b: GPUBuffer): Promise<Float32Array> {
  const staging = device.createBuffer({ label: 'test/read-back', size: b.size, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  const e = device.createCommandEncoder({ label: 'test/read-back' });
  e.copyBufferToBuffer(b, 0, staging, 0, b.size);
  device.queue.submit([e.finish()]);
  await staging.mapAsync(1); // GPUMapMode.READ
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}
