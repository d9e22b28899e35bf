/**
 * The parameter shapes of torchvision's ResNet-50 (161 tensors, 25,557,032 elements), in the order of
 * `model.parameters()`: each convolution's weight followed by its batch norm's weight and bias, the
 * downsample branch after a stage's first block, and the final fully connected layer.
 */
export interface NamedShape {
  name: string;
  shape: number[];
}

export function resnet50Shapes(): NamedShape[] {
  const out: NamedShape[] = [];
  const conv = (name: string, cout: number, cin: number, k: number) => {
    out.push({ name: `${name}.weight`, shape: [cout, cin, k, k] });
  };
  const bn = (name: string, c: number) => {
    out.push({ name: `${name}.weight`, shape: [c] }, { name: `${name}.bias`, shape: [c] });
  };
  conv('conv1', 64, 3, 7);
  bn('bn1', 64);
  let inplanes = 64;
  const stages: [number, number][] = [
    [64, 3],
    [128, 4],
    [256, 6],
    [512, 3],
  ];
  stages.forEach(([planes, blocks], s) => {
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      conv(`${p}.conv1`, planes, inplanes, 1);
      bn(`${p}.bn1`, planes);
      conv(`${p}.conv2`, planes, planes, 3);
      bn(`${p}.bn2`, planes);
      conv(`${p}.conv3`, planes * 4, planes, 1);
      bn(`${p}.bn3`, planes * 4);
      if (b === 0) {
        conv(`${p}.downsample.0`, planes * 4, inplanes, 1);
        bn(`${p}.downsample.1`, planes * 4);
      }
      inplanes = planes * 4;
    }
  });
  out.push({ name: 'fc.weight', shape: [1000, 2048] }, { name: 'fc.bias', shape: [1000] });
  return out;
}
