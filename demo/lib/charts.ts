/**
 * The demo pages' charts, each drawn by a chart library (no SVG or canvas path built here):
 * - the training page's live loss and accuracy curves: uPlot (one canvas, redrawn cheaply after every block
 *   of steps, thousands of points);
 * - its decision maps and the trajectories page's contour map with the optimizers' paths: Observable Plot
 *   (raster, contour, line and dot marks; the benchmark report uses it too, bench/render.ts).
 */
import * as Plot from '@observablehq/plot';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = { adabelief: '#d62728', adam: '#1f77b4', sgd: '#2ca02c' } as const;

/** Colours of classes 0 … 7 (points; the regions are the same at 30 % opacity). */
export const CLASS_COLORS = [
  '#e6550d',
  '#3182bd',
  '#31a354',
  '#756bb1',
  '#d6616b',
  '#8c6d31',
  '#17becf',
  '#636363',
];

// ---------------------------------------------------------------------------------------------- curves

export interface CurveChart {
  title: string;
  yLabel: string;
  /** The x axis runs from step 0 to this (the run's length, so a live run fills it in). */
  steps: number;
  /** One line per name, in its colour. */
  lines: { name: string; color: string }[];
  /** log10 y axis (losses) instead of linear. */
  log?: boolean;
  /** Fixed y range (linear axes), e.g. [0, 1] for accuracy; else from the data. */
  yRange?: [number, number];
}

/** Training curves over the step axis (uPlot), drawn into `container` and updated as a run goes. */
export class Curves {
  private readonly plot: uPlot;
  private readonly log: boolean;

  constructor(container: HTMLElement, spec: CurveChart, width = 560, height = 320) {
    this.log = spec.log === true;
    container.replaceChildren();
    this.plot = new uPlot(
      {
        title: spec.title,
        width,
        height,
        scales: {
          x: { time: false, auto: false, range: [0, Math.max(spec.steps, 1)] },
          y: spec.log ? { distr: 3, log: 10 } : spec.yRange ? { auto: false, range: spec.yRange } : {},
        },
        axes: [{ label: 'step' }, { label: spec.yLabel }],
        series: [
          { label: 'step' },
          ...spec.lines.map((l) => ({ label: l.name, stroke: l.color, width: 2, spanGaps: false })),
        ],
      },
      [[], ...spec.lines.map(() => [])],
      container,
    );
  }

  /** The curves' values so far: `values[i][k]` of line i at step k; a value that is not finite (or not positive on
   * a log axis) breaks its line. */
  update(values: readonly (readonly number[])[]): void {
    const n = Math.max(0, ...values.map((v) => v.length));
    const usable = (v: number | undefined) =>
      v !== undefined && Number.isFinite(v) && (!this.log || v > 0) ? v : null;
    const xs = Array.from({ length: n }, (_, k) => k);
    this.plot.setData([xs, ...values.map((v) => xs.map((k) => usable(v[k])))] as uPlot.AlignedData);
  }
}

// ---------------------------------------------------------------------------------------------- decision map

export interface DecisionMap {
  title: string;
  /** Cells per side; `classes[row * size + col]`, row 0 at the top. */
  size: number;
  classes: readonly number[];
  /** The grid covers [-extent, extent]² of the plane. */
  extent: number;
  /** Training points: xy[2k], xy[2k + 1] with label labels[k]. */
  xy: ArrayLike<number>;
  labels: ArrayLike<number>;
}

/** A classifier's decision map: the class predicted over the plane, tinted, with the training points over it. */
export function decisionMap(map: DecisionMap, side = 300): Element {
  const e = map.extent;
  const points = Array.from({ length: map.labels.length }, (_, k) => k);
  const color = (c: number) => CLASS_COLORS[c % CLASS_COLORS.length]!;
  return Plot.plot({
    title: map.title,
    width: side,
    height: side,
    margin: 0,
    x: { domain: [-e, e], axis: null },
    y: { domain: [-e, e], axis: null },
    marks: [
      // Row 0 is the top row: the grid's first row lies at y = extent.
      Plot.raster(map.classes as number[], {
        width: map.size,
        height: map.size,
        x1: -e,
        x2: e,
        y1: e,
        y2: -e,
        fill: (c: number) => color(c),
        fillOpacity: 0.3,
        imageRendering: 'pixelated',
      }),
      Plot.dot(points, {
        x: (k: number) => map.xy[2 * k],
        y: (k: number) => map.xy[2 * k + 1],
        fill: (k: number) => color(map.labels[k]!),
        stroke: '#fff',
        strokeWidth: 0.8,
        r: 2.6,
      }),
      Plot.frame({ stroke: '#999' }),
    ],
  });
}

// ---------------------------------------------------------------------------------------------- trajectories

export interface ContourMap {
  width: number;
  height: number;
  margin: { left: number; top: number; right: number; bottom: number };
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
}

/**
 * The contour map of `value` over the frame: filled bands of log10(f − fMin) (at most 8 decades), with the
 * start (ring) and the minimum (cross) marked. Drawn once per function; the paths go on top (`pathLayer`).
 */
export function contourLayer(
  frame: ContourMap,
  value: (x: number, y: number) => number,
  fMin: number,
  marks: { start: [number, number]; minimum: [number, number] },
  grid = 4,
): Element {
  const w = Math.round((frame.width - frame.margin.left - frame.margin.right) / grid);
  const h = Math.round((frame.height - frame.margin.top - frame.margin.bottom) / grid);
  const [x1, x2] = frame.x;
  const [y1, y2] = frame.y;
  // values[i + j * w] at the centre of cell (i, j), j = 0 at y1 (Plot's dense-grid layout).
  const values = new Float64Array(w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++)
      values[i + j * w] = Math.log10(
        Math.max(value(x1 + ((i + 0.5) / w) * (x2 - x1), y1 + ((j + 0.5) / h) * (y2 - y1)) - fMin, 1e-12),
      );
  const hi = values.reduce((a, b) => Math.max(a, b), -Infinity);
  const clamped = values.map((v) => Math.max(v, hi - 8));
  return Plot.plot({
    ...frameOptions(frame),
    x: { domain: frame.x, label: frame.xLabel },
    y: { domain: frame.y, label: frame.yLabel },
    color: { type: 'linear', scheme: 'viridis' },
    marks: [
      Plot.contour(Array.from(clamped), {
        width: w,
        height: h,
        x1,
        x2,
        y1,
        y2,
        fill: Plot.identity,
        stroke: '#000',
        strokeOpacity: 0.25,
        thresholds: 14,
      }),
      Plot.dot([marks.start], { x: '0', y: '1', r: 7, stroke: '#fff', strokeWidth: 2 }),
      Plot.dot([marks.minimum], { x: '0', y: '1', r: 7, symbol: 'times', stroke: '#fff', strokeWidth: 2 }),
      Plot.frame({ stroke: '#444' }),
    ],
  });
}

export interface PathLine {
  color: string;
  /** x0, y0, x1, y1, ... */
  path: ArrayLike<number>;
}

/**
 * The optimizers' paths up to step `upto`, each with a dot at its current point, on a transparent figure of
 * the contour layer's size and scales (to lie over it). A path stops at its first non-finite point.
 */
export function pathLayer(frame: ContourMap, lines: PathLine[], upto: number): Element {
  const marks = lines.flatMap((l) => {
    const points: [number, number][] = [];
    for (let k = 0; k <= upto && 2 * k + 1 < l.path.length; k++) {
      const p: [number, number] = [l.path[2 * k]!, l.path[2 * k + 1]!];
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) break;
      points.push(p);
    }
    return [
      Plot.line(points, { x: '0', y: '1', stroke: l.color, strokeWidth: 2, clip: true }),
      Plot.dot(points.slice(-1), {
        x: '0',
        y: '1',
        r: 5,
        fill: l.color,
        stroke: '#fff',
        strokeWidth: 1.5,
        clip: true,
      }),
    ];
  });
  return Plot.plot({
    ...frameOptions(frame),
    style: { background: 'transparent' },
    x: { domain: frame.x, axis: null },
    y: { domain: frame.y, axis: null },
    marks,
  });
}

function frameOptions(frame: ContourMap) {
  return {
    width: frame.width,
    height: frame.height,
    marginLeft: frame.margin.left,
    marginTop: frame.margin.top,
    marginRight: frame.margin.right,
    marginBottom: frame.margin.bottom,
  };
}
