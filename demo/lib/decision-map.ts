/**
 * A classifier's decision map on a Canvas 2D: each cell of a square grid over the plane coloured by the class
 * the model predicts there, the training points drawn over it in their own class's colour.
 */
import { context2d } from './plot.js';

/** Colours of classes 0 … 7 (points), and a light tint of each (regions). */
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

function tint(hex: string, amount: number): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  const channel = (shift: number) => Math.round(255 - (255 - ((n >> shift) & 255)) * amount);
  return [channel(16), channel(8), channel(0)];
}

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

export function drawDecisionMap(canvas: HTMLCanvasElement, map: DecisionMap, side = 300): void {
  const header = 22;
  const ctx = context2d(canvas, side, side + header);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, side, side + header);
  ctx.font = 'bold 13px sans-serif';
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'middle';
  ctx.fillText(map.title, 4, header / 2);
  const cell = side / map.size;
  for (let row = 0; row < map.size; row++)
    for (let col = 0; col < map.size; col++) {
      const c = map.classes[row * map.size + col]!;
      const [r, g, b] = tint(CLASS_COLORS[c % CLASS_COLORS.length]!, 0.3);
      ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
      // Cells overlap by a pixel so no seams show between them.
      ctx.fillRect(col * cell, header + row * cell, cell + 1, cell + 1);
    }
  const px = (x: number) => ((x + map.extent) / (2 * map.extent)) * side;
  const py = (y: number) => header + ((map.extent - y) / (2 * map.extent)) * side;
  ctx.lineWidth = 0.8;
  ctx.strokeStyle = '#fff';
  for (let k = 0; k < map.labels.length; k++) {
    ctx.fillStyle = CLASS_COLORS[map.labels[k]! % CLASS_COLORS.length]!;
    ctx.beginPath();
    ctx.arc(px(map.xy[2 * k]!), py(map.xy[2 * k + 1]!), 2.6, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  ctx.strokeStyle = '#999';
  ctx.strokeRect(0.5, header + 0.5, side - 1, side - 1);
}
