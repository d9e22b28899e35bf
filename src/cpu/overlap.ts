/**
 * Memory aliasing between the arrays a CPU optimizer is given. A parameter listed twice, or two parameters that
 * are overlapping views of one ArrayBuffer, would be stepped twice per step (torch and the GPU optimizer refuse
 * them); a gradient sharing memory with a parameter would change while the step writes that parameter.
 * Gradients may share memory with each other: they are only read.
 */

/** One array handed to the optimizer, named as messages show it ('params[2]', 'grads[0]'). */
export interface Region {
  what: string;
  role: 'param' | 'grad';
  view: ArrayBufferView;
}

const end = (r: Region) => r.view.byteOffset + r.view.byteLength;

/**
 * Throws if two regions share memory where at least one of them is a parameter, naming both: the later one in
 * `regions`' order first. Regions of no bytes hold no memory and are ignored. O(n log n): regions are grouped by
 * ArrayBuffer and swept in order of their first byte.
 */
export function checkNoOverlap(who: string, regions: readonly Region[]): void {
  const order = new Map(regions.map((r, k) => [r, k]));
  const byBuffer = new Map<ArrayBufferLike, Region[]>();
  for (const r of regions) {
    if (r.view.byteLength === 0) continue;
    const list = byBuffer.get(r.view.buffer);
    if (list) list.push(r);
    else byBuffer.set(r.view.buffer, [r]);
  }
  for (const list of byBuffer.values()) {
    if (list.length < 2) continue;
    list.sort((a, b) => a.view.byteOffset - b.view.byteOffset || order.get(a)! - order.get(b)!);
    /** Per role, the region seen so far that reaches furthest: any overlap with an earlier one shows with it. */
    const furthest = new Map<Region['role'], Region>();
    for (const b of list) {
      for (const [role, a] of furthest) {
        if ((role === 'param' || b.role === 'param') && b.view.byteOffset < end(a)) {
          throw aliasError(who, a, b, order);
        }
      }
      const current = furthest.get(b.role);
      if (!current || end(b) > end(current)) furthest.set(b.role, b);
    }
  }
}

function aliasError(who: string, x: Region, y: Region, order: Map<Region, number>): RangeError {
  const [earlier, later] = order.get(x)! < order.get(y)! ? [x, y] : [y, x];
  const why =
    later.role === 'param' && earlier.role === 'param'
      ? 'that memory would be stepped twice per step; pass each parameter once, in memory of its own'
      : 'the step would change that gradient while it reads it; give each gradient memory apart from the parameters';
  if (x.view === y.view)
    return new RangeError(`${who}: ${later.what} is ${earlier.what} (the same array): ${why}`);
  const bytes = (r: Region) => `[${r.view.byteOffset}, ${end(r)})`;
  return new RangeError(
    `${who}: ${later.what} overlaps ${earlier.what} in one ArrayBuffer (bytes ${bytes(later)} and ${bytes(earlier)}): ${why}`,
  );
}
