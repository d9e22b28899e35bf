/**
 * The script of results/benchmark.html (bundled into it by bench/report-html.ts): reads the report inlined in
 * the page (`<script type="application/json" id="benchmark-data">`) and draws it with bench/render.ts. Marks
 * `<body data-rendered>` 'done' or 'error' (the PNG and the test wait for it).
 */
import { renderReport } from './render.js';

const root = document.getElementById('report');
try {
  const data = document.getElementById('benchmark-data')?.textContent;
  if (!root || !data) throw new Error('this page has no #report or no #benchmark-data');
  renderReport(root, JSON.parse(data) as Parameters<typeof renderReport>[1]);
  document.body.dataset.rendered = 'done';
} catch (e) {
  const p = document.createElement('p');
  p.className = 'error';
  p.textContent = `The report could not be drawn: ${e instanceof Error ? e.message : String(e)}`;
  (root ?? document.body).append(p);
  document.body.dataset.rendered = 'error';
  console.error(p.textContent);
}
