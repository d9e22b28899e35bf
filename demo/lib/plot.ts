/**
 * Plain Canvas 2D drawing for the demo pages: a contour map of a 2D function with optimizer paths over it
 * (trajectories page), and line charts on log axes (benchmark page). No chart library.
 */

export const PALETTE = { adabelief: '#d62728', adam: '#1f77b4', sgd: '#2ca02c' } as const;

/** A canvas sized for the device's pixel ratio, drawing in CSS pixels. */
export function context2d(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

/** Plot area inside a canvas and the mapping of world coordinates onto it. */
export class Frame {
  constructor(
    readonly left: number,
    readonly top: number,
    readonly width: number,
    readonly height: number,
    readonly xRange: [number, number],
    readonly yRange: [number, number],
  ) {}
  px(x: number): number {
    return this.left + ((x - this.xRange[0]) / (this.xRange[1] - this.xRange[0])) * this.width;
  }
  py(y: number): number {
    return this.top + this.height - ((y - this.yRange[0]) / (this.yRange[1] - this.yRange[0])) * this.height;
  }
}

/** Round tick values covering [lo, hi], about `count` of them. */
export function ticks(lo: number, hi: number, count = 6): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const tickText = (v: number) =>
  v === 0 ? '0' : Math.abs(v) < 1e-2 ? v.toExponential(0) : String(+v.toPrecision(4));

/** A viridis-like ramp: t in [0, 1] → rgb. */
function ramp(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/**
 * Contour map of `value` over `frame`: colour bands of log10(f − fmin) (lighter = higher), with a darker
 * pixel where the band changes (the contour lines), at the canvas's device resolution. Returns the image,
 * to be put at (frame.left, frame.top) × pixel ratio, and kept for redrawing without recomputing.
 */
export function contourBitmap(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  value: (x: number, y: number) => number,
  fMin: number,
  bands = 14,
): ImageData {
  const ratio = ctx.getTransform().a;
  const w = Math.round(frame.width * ratio);
  const h = Math.round(frame.height * ratio);
  const logs = new Float32Array(w * h);
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j < h; j++) {
    const y = frame.yRange[1] - ((j + 0.5) / h) * (frame.yRange[1] - frame.yRange[0]);
    for (let i = 0; i < w; i++) {
      const x = frame.xRange[0] + ((i + 0.5) / w) * (frame.xRange[1] - frame.xRange[0]);
      const v = Math.log10(Math.max(value(x, y) - fMin, 1e-12));
      logs[j * w + i] = v;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  lo = Math.max(lo, hi - 8); // at most 8 decades of colour
  const band = (v: number) => Math.floor(((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo || 1)) * bands);
  const image = ctx.createImageData(w, h);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const k = j * w + i;
      const b = band(logs[k]!);
      const edge = (i + 1 < w && band(logs[k + 1]!) !== b) || (j + 1 < h && band(logs[k + w]!) !== b);
      const [r, g, bl] = ramp(b / bands);
      const shade = edge ? 0.55 : 1;
      image.data.set([r * shade, g * shade, bl * shade, 255], k * 4);
    }
  }
  return image;
}

/** Draws the axes, ticks and axis names around `frame`. */
export function drawAxes(ctx: CanvasRenderingContext2D, frame: Frame, xName: string, yName: string): void {
  ctx.save();
  ctx.strokeStyle = '#444';
  ctx.fillStyle = '#222';
  ctx.font = '12px sans-serif';
  ctx.strokeRect(frame.left, frame.top, frame.width, frame.height);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of ticks(...frame.xRange)) {
    const x = frame.px(v);
    ctx.beginPath();
    ctx.moveTo(x, frame.top + frame.height);
    ctx.lineTo(x, frame.top + frame.height + 4);
    ctx.stroke();
    ctx.fillText(tickText(v), x, frame.top + frame.height + 6);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of ticks(...frame.yRange)) {
    const y = frame.py(v);
    ctx.beginPath();
    ctx.moveTo(frame.left - 4, y);
    ctx.lineTo(frame.left, y);
    ctx.stroke();
    ctx.fillText(tickText(v), frame.left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(xName, frame.left + frame.width / 2, frame.top + frame.height + 36);
  ctx.translate(14, frame.top + frame.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'top';
  ctx.fillText(yName, 0, 0);
  ctx.restore();
}

/**
 * An optimizer's path up to step `upto` (`path` = x0, y0, x1, y1, ...), clipped to the frame, with a dot at
 * the current point. Stops at the first non-finite point.
 */
export function drawPath(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  path: ArrayLike<number>,
  upto: number,
  color: string,
): void {
  ctx.save();
  ctx.beginPath();
  ctx.rect(frame.left, frame.top, frame.width, frame.height);
  ctx.clip();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  let last: [number, number] | null = null;
  for (let k = 0; k <= upto && 2 * k + 1 < path.length; k++) {
    const x = path[2 * k]!;
    const y = path[2 * k + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) break;
    // Canvas coordinates far outside the frame are clamped so that a diverging path still draws its way out.
    const px = Math.min(Math.max(frame.px(x), -1e5), 1e5);
    const py = Math.min(Math.max(frame.py(y), -1e5), 1e5);
    if (k === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
    last = [px, py];
  }
  ctx.stroke();
  if (last) {
    ctx.fillStyle = color;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(last[0], last[1], 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();
}

/** A marker: a ring at the start, a cross at the minimum. */
export function drawMarker(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  x: number,
  y: number,
  kind: 'start' | 'minimum',
): void {
  const px = frame.px(x);
  const py = frame.py(y);
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#fff';
  if (kind === 'start') {
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.stroke();
  } else {
    ctx.beginPath();
    ctx.moveTo(px - 7, py - 7);
    ctx.lineTo(px + 7, py + 7);
    ctx.moveTo(px - 7, py + 7);
    ctx.lineTo(px + 7, py - 7);
    ctx.stroke();
  }
  ctx.restore();
}

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

/**
 * A line chart with a log2 x axis (sizes, labelled 2^k) and a log10 y axis, a legend on the right, and an
 * optional dotted horizontal reference line.
 */
export function drawLogChart(
  canvas: HTMLCanvasElement,
  spec: { title: string; xLabel: string; yLabel: string; series: Series[]; reference?: number },
  width = 600,
  height = 380,
): void {
  const ctx = context2d(canvas, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const m = { l: 64, r: 200, t: 34, b: 46 };
  const usable = spec.series.map((s) => ({
    ...s,
    points: s.points.filter(([, y]) => y > 0 && Number.isFinite(y)),
  }));
  const pts = usable.flatMap((s) => s.points);
  ctx.font = 'bold 14px sans-serif';
  ctx.fillStyle = '#222';
  ctx.fillText(spec.title, m.l, 20);
  if (!pts.length) return;
  const xs = pts.map(([x]) => Math.log2(x));
  const ys = pts.map(([, y]) => Math.log10(y)).concat(spec.reference ? [Math.log10(spec.reference)] : []);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) + (Math.max(...xs) === x0 ? 1 : 0);
  const y0 = Math.floor(Math.min(...ys));
  const y1 = Math.max(Math.ceil(Math.max(...ys) + 1e-9), y0 + 1);
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const X = (x: number) => m.l + ((Math.log2(x) - x0) / (x1 - x0)) * W;
  const Y = (y: number) => m.t + H - ((Math.log10(y) - y0) / (y1 - y0)) * H;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let e = y0; e <= y1; e++) {
    for (const k of e < y1 ? [1, 2, 5] : [1]) {
      const v = k * 10 ** e;
      ctx.strokeStyle = k === 1 ? '#ccc' : '#eee';
      ctx.beginPath();
      ctx.moveTo(m.l, Y(v));
      ctx.lineTo(m.l + W, Y(v));
      ctx.stroke();
      ctx.fillText(v < 1 ? v.toPrecision(1) : String(v), m.l - 6, Y(v));
    }
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let k = Math.ceil(x0); k <= x1; k++) {
    const x = X(2 ** k);
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(x, m.t);
    ctx.lineTo(x, m.t + H);
    ctx.stroke();
    ctx.fillText(`2^${k}`, x, m.t + H + 5);
  }
  ctx.strokeStyle = '#999';
  ctx.strokeRect(m.l, m.t, W, H);
  if (spec.reference) {
    ctx.strokeStyle = '#000';
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(m.l, Y(spec.reference));
    ctx.lineTo(m.l + W, Y(spec.reference));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  usable.forEach((s, i) => {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2.2;
    ctx.setLineDash(s.dashed ? [7, 4] : []);
    ctx.beginPath();
    s.points.forEach(([x, y], j) => (j ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    for (const [x, y] of s.points) {
      ctx.beginPath();
      ctx.arc(X(x), Y(y), 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    const ly = m.t + 10 + i * 20;
    ctx.beginPath();
    ctx.moveTo(m.l + W + 14, ly);
    ctx.lineTo(m.l + W + 40, ly);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#222';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.font = '12px sans-serif';
    ctx.fillText(s.name, m.l + W + 46, ly);
    ctx.lineWidth = 1;
  });
  ctx.fillStyle = '#222';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(spec.xLabel, m.l + W / 2, height - 8);
  ctx.save();
  ctx.translate(16, m.t + H / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'top';
  ctx.fillText(spec.yLabel, 0, 0);
  ctx.restore();
}
