/**
 * Training curves on a Canvas 2D (no chart library): one line per optimizer over the step axis, on a linear
 * or a log10 y axis, with a legend. A value that is not finite (or not positive on a log axis) breaks its line.
 */
import { context2d, ticks } from './plot.js';

export interface Curve {
  name: string;
  color: string;
  /** values[k] at step k. */
  values: readonly number[];
}

export interface CurveChart {
  title: string;
  yLabel: string;
  /** The x axis runs from step 0 to this (the run's length, so a live run fills it in). */
  steps: number;
  curves: Curve[];
  /** log10 y axis (losses) instead of linear. */
  log?: boolean;
  /** Fixed y range (linear axes), e.g. [0, 1] for accuracy; else from the data. */
  yRange?: [number, number];
  /** Corner of the plot the legend sits in (where the curves are not). Default 'top'. */
  legend?: 'top' | 'bottom';
}

const MARGIN = { left: 62, right: 14, top: 30, bottom: 42 };

const tickText = (v: number) =>
  v === 0 ? '0' : Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4 ? v.toExponential(0) : String(+v.toPrecision(3));

/** The y range of a chart: fixed, or the finite (and, on a log axis, positive) values', padded. */
function yRange(spec: CurveChart): [number, number] {
  if (spec.yRange) return spec.yRange;
  const usable = spec.curves.flatMap((c) =>
    c.values.filter((v) => Number.isFinite(v) && (!spec.log || v > 0)),
  );
  if (!usable.length) return spec.log ? [0.1, 1] : [0, 1];
  let lo = Math.min(...usable);
  let hi = Math.max(...usable);
  if (spec.log) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi) + 1e-9);
    return [lo, Math.max(hi, lo * 10)];
  }
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  return [lo, hi];
}

export function drawCurves(canvas: HTMLCanvasElement, spec: CurveChart, width = 560, height = 320): void {
  const ctx = context2d(canvas, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const W = width - MARGIN.left - MARGIN.right;
  const H = height - MARGIN.top - MARGIN.bottom;
  const steps = Math.max(spec.steps, 1);
  const [y0, y1] = yRange(spec);
  const f = spec.log ? Math.log10 : (v: number) => v;
  const X = (k: number) => MARGIN.left + (k / steps) * W;
  const Y = (v: number) => MARGIN.top + H - ((f(v) - f(y0)) / (f(y1) - f(y0))) * H;

  ctx.font = 'bold 14px sans-serif';
  ctx.fillStyle = '#222';
  ctx.fillText(spec.title, MARGIN.left, 19);
  ctx.font = '11px sans-serif';
  ctx.lineWidth = 1;
  // Grid and tick labels.
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const yTicks = spec.log
    ? Array.from({ length: Math.round(Math.log10(y1 / y0)) + 1 }, (_, e) => y0 * 10 ** e).flatMap((v) =>
        v < y1 ? [v, 2 * v, 5 * v] : [v],
      )
    : ticks(y0, y1, 5);
  for (const v of yTicks) {
    ctx.strokeStyle = spec.log && !/^1/.test(v.toExponential()) ? '#f2f2f2' : '#ddd';
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, Y(v));
    ctx.lineTo(MARGIN.left + W, Y(v));
    ctx.stroke();
    ctx.fillStyle = '#222';
    ctx.fillText(tickText(v), MARGIN.left - 6, Y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const k of ticks(0, steps, 6)) {
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(X(k), MARGIN.top);
    ctx.lineTo(X(k), MARGIN.top + H);
    ctx.stroke();
    ctx.fillText(String(k), X(k), MARGIN.top + H + 5);
  }
  ctx.strokeStyle = '#999';
  ctx.strokeRect(MARGIN.left, MARGIN.top, W, H);
  ctx.fillText('step', MARGIN.left + W / 2, MARGIN.top + H + 22);
  ctx.save();
  ctx.translate(14, MARGIN.top + H / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(spec.yLabel, 0, 0);
  ctx.restore();

  // The curves, clipped to the plot area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(MARGIN.left, MARGIN.top, W, H);
  ctx.clip();
  ctx.lineWidth = 2;
  for (const c of spec.curves) {
    ctx.strokeStyle = c.color;
    ctx.beginPath();
    let drawing = false;
    c.values.forEach((v, k) => {
      if (!Number.isFinite(v) || (spec.log && v <= 0)) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(X(k), Y(v));
      else ctx.moveTo(X(k), Y(v));
      drawing = true;
    });
    ctx.stroke();
  }
  ctx.restore();

  // Legend, in the top or bottom right corner inside the plot.
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  const legendWidth = Math.max(...spec.curves.map((c) => ctx.measureText(c.name).width), 0) + 40;
  const legendHeight = spec.curves.length * 18 + 6;
  const lx = MARGIN.left + W - legendWidth - 6;
  const top = spec.legend === 'bottom' ? MARGIN.top + H - legendHeight - 4 : MARGIN.top + 4;
  ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
  ctx.fillRect(lx - 4, top, legendWidth + 6, legendHeight);
  spec.curves.forEach((c, i) => {
    const ly = top + 12 + i * 18;
    ctx.strokeStyle = c.color;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(lx, ly);
    ctx.lineTo(lx + 26, ly);
    ctx.stroke();
    ctx.fillStyle = '#222';
    ctx.fillText(c.name, lx + 32, ly);
  });
}
