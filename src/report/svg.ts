// Charts for the run report, written as SVG text: line charts over steps, the gate's timeline, a confusion-matrix
// heatmap and per-class bars. Written directly rather than through Vega: the report then needs no charting
// dependency at run time (Vega + Vega-Lite are dozens of packages, and Vega-Lite 6 declares Node ≥ 22 where ssmae
// supports 20), renders the same everywhere without a browser, and its charts are plain elements a test can count.
import { xmlEscape } from './xml.js';

export const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const esc = xmlEscape;
const f2 = (v: number) => (Math.round(v * 100) / 100).toString();

/** Round tick values covering [lo, hi] (about `count` of them): steps of 1, 2 or 5 × 10^k. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9)); // so that 3 × 0.2 prints as 0.6
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toFixed(decimals)));
  return ticks;
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dash?: boolean;
  /** Draw a dot at each point (sparse series such as validation accuracy). */
  dots?: boolean;
}

export interface LineChartOptions {
  title: string;
  series: Series[];
  xLabel?: string;
  xDomain?: [number, number];
  yDomain?: [number, number];
  percent?: boolean;
  /** Vertical rules (e.g. where the gate opened) and horizontal ones (e.g. its threshold). */
  vRules?: { x: number; label: string }[];
  hRules?: { y: number; label: string }[];
  /** Shaded spans of x (e.g. while the gate was open). */
  spans?: { from: number; to: number; label: string }[];
  width?: number;
  height?: number;
}

const M = { top: 34, right: 16, bottom: 38, left: 52 };

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 240;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const all = o.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = [...all.map((p) => p[1]), ...(o.hRules ?? []).map((r) => r.y)];
  const [x0, x1] = o.xDomain ?? [Math.min(0, ...xs), Math.max(1, ...xs)];
  let [y0, y1] = o.yDomain ?? [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
  if (!o.yDomain) { const t = niceTicks(y0, y1); y1 = Math.max(y1, t[t.length - 1]); y0 = Math.min(y0, t[0]); }
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => M.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const fmtY = (v: number) => (o.percent ? `${Math.round(v * 100)}%` : f2(v));
  const parts: string[] = [];
  for (const s of o.spans ?? []) {
    parts.push(`<rect class="span" x="${f2(sx(s.from))}" y="${M.top}" width="${f2(Math.max(0, sx(s.to) - sx(s.from)))}" height="${ph}" fill="#54a24b" fill-opacity="0.08"><title>${esc(s.label)}</title></rect>`);
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${f2(sy(t))}" y2="${f2(sy(t))}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 6}" y="${f2(sy(t) + 4)}" text-anchor="end" font-size="11" fill="#555">${fmtY(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    parts.push(`<line x1="${f2(sx(t))}" x2="${f2(sx(t))}" y1="${M.top + ph}" y2="${M.top + ph + 4}" stroke="#888"/>`,
      `<text x="${f2(sx(t))}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11" fill="#555">${t}</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#888"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle" font-size="11" fill="#333">${esc(o.xLabel ?? 'step')}</text>`);
  for (const r of o.hRules ?? []) {
    parts.push(`<line class="rule" x1="${M.left}" x2="${M.left + pw}" y1="${f2(sy(r.y))}" y2="${f2(sy(r.y))}" stroke="#333" stroke-dasharray="2 3"><title>${esc(r.label)}</title></line>`,
      `<text x="${M.left + pw - 2}" y="${f2(sy(r.y) - 4)}" text-anchor="end" font-size="10" fill="#333">${esc(r.label)}</text>`);
  }
  for (const r of o.vRules ?? []) {
    parts.push(`<line class="rule" x1="${f2(sx(r.x))}" x2="${f2(sx(r.x))}" y1="${M.top}" y2="${M.top + ph}" stroke="#54a24b" stroke-width="1.5"><title>${esc(r.label)}</title></line>`,
      `<text x="${f2(sx(r.x) + 3)}" y="${M.top + 10}" font-size="10" fill="#2e7d32">${esc(r.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${f2(sx(p[0]))},${f2(sy(p[1]))}`).join('');
    parts.push(`<path class="series" data-name="${esc(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dash ? ' stroke-dasharray="5 3"' : ''}><title>${esc(s.name)}</title></path>`);
    if (s.dots || s.points.length === 1) {
      for (const p of s.points) parts.push(`<circle cx="${f2(sx(p[0]))}" cy="${f2(sy(p[1]))}" r="2.5" fill="${color}"><title>${esc(`${s.name} at step ${p[0]}: ${fmtY(p[1])}`)}</title></circle>`);
    }
  });
  // Legend along the top, after the title.
  let lx = M.left;
  const legend = o.series.map((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const item = `<line x1="${lx}" x2="${lx + 16}" y1="24" y2="24" stroke="${color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5 3"' : ''}/>` +
      `<text x="${lx + 20}" y="28" font-size="11" fill="#333">${esc(s.name)}</text>`;
    lx += 28 + s.name.length * 6.2;
    return item;
  });
  return svg(W, H, o.title, [`<text x="${M.left}" y="12" font-size="13" font-weight="600" fill="#111">${esc(o.title)}</text>`, ...legend, ...parts]);
}

function svg(W: number, H: number, title: string, parts: string[]): string {
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" ${FONT}>` +
    `<title>${esc(title)}</title>${parts.join('')}</svg>`;
}

export interface TimelineDecision { step: number; open: boolean; changed: boolean; reason: string }

/**
 * The gate's decisions as a band over the steps: gray while closed, green while open, a tick at every decision (its
 * figure and reason on hover) and a label where the gate changed.
 */
export function gateTimeline(title: string, decisions: readonly TimelineDecision[], lastStep: number, openFromStart: boolean, width = 640): string {
  const H = 92;
  const pw = width - M.left - M.right;
  const sx = (x: number) => M.left + (x / Math.max(lastStep, 1)) * pw;
  const parts: string[] = [];
  let from = 0;
  let open = openFromStart;
  const y = 40;
  const h = 18;
  const segment = (a: number, b: number, isOpen: boolean) => parts.push(
    `<rect class="segment" data-open="${isOpen ? 1 : 0}" x="${f2(sx(a))}" y="${y}" width="${f2(Math.max(0.5, sx(b) - sx(a)))}" height="${h}" ` +
    `fill="${isOpen ? '#54a24b' : '#bdbdbd'}"><title>${isOpen ? 'open' : 'closed'}: steps ${a}–${b}</title></rect>`);
  for (const d of decisions) {
    if (d.changed) {
      segment(from, d.step, open);
      from = d.step;
      open = d.open;
      parts.push(`<text x="${f2(sx(d.step))}" y="${y - 6}" font-size="10" text-anchor="middle" fill="#222">${d.open ? 'opened' : 'closed'} @ ${d.step}</text>`);
    }
  }
  segment(from, lastStep, open);
  for (const d of decisions) {
    parts.push(`<line class="decision" x1="${f2(sx(d.step))}" x2="${f2(sx(d.step))}" y1="${y + h}" y2="${y + h + 7}" stroke="${d.changed ? '#1b5e20' : '#777'}" stroke-width="${d.changed ? 2 : 1}"><title>${esc(`step ${d.step}: ${d.reason}`)}</title></line>`);
  }
  for (const t of niceTicks(0, lastStep, 6)) parts.push(`<text x="${f2(sx(t))}" y="${y + h + 20}" text-anchor="middle" font-size="11" fill="#555">${t}</text>`);
  parts.push(`<rect x="${width - 150}" y="4" width="10" height="10" fill="#bdbdbd"/><text x="${width - 136}" y="13" font-size="11">closed</text>`,
    `<rect x="${width - 90}" y="4" width="10" height="10" fill="#54a24b"/><text x="${width - 76}" y="13" font-size="11">open</text>`);
  return svg(width, H, title, [`<text x="${M.left}" y="12" font-size="13" font-weight="600" fill="#111">${esc(title)}</text>`, ...parts]);
}

/** Rows: true class; columns: predicted class; cells shaded by the share of their row. */
export function confusionHeatmap(title: string, classes: readonly string[], confusion: readonly number[][]): string {
  const K = classes.length;
  const cell = Math.max(14, Math.min(40, Math.floor(420 / K)));
  const label = Math.min(120, 12 + 6.5 * Math.max(...classes.map((c) => c.length)));
  const W = label + K * cell + 20;
  const H = 40 + label + K * cell;
  const parts: string[] = [`<text x="4" y="12" font-size="13" font-weight="600" fill="#111">${esc(title)}</text>`,
    `<text x="${label + (K * cell) / 2}" y="30" text-anchor="middle" font-size="11" fill="#333">predicted</text>`];
  const top = 40 + label - 8;
  classes.forEach((c, j) => parts.push(`<text transform="translate(${label + j * cell + cell / 2 + 4},${top - 2}) rotate(-60)" font-size="11" fill="#333">${esc(c)}</text>`));
  confusion.forEach((row, i) => {
    const total = row.reduce((s, v) => s + v, 0);
    parts.push(`<text x="${label - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="11" fill="#333">${esc(classes[i])}</text>`);
    row.forEach((v, j) => {
      const share = total ? v / total : 0;
      const fill = i === j ? `rgba(46,125,50,${f2(0.08 + 0.92 * share)})` : `rgba(228,87,86,${f2(share ? 0.08 + 0.92 * share : 0)})`;
      parts.push(`<rect class="cell" x="${label + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="${fill}" stroke="#ddd">` +
        `<title>${esc(`true ${classes[i]}, predicted ${classes[j]}: ${v} of ${total}`)}</title></rect>`);
      if (cell >= 22) parts.push(`<text x="${label + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${share > 0.6 ? '#fff' : '#222'}">${v}</text>`);
    });
  });
  return svg(W, H, title, parts);
}

/** Horizontal bars: accuracy per class (a class with no image gets no bar). */
export function perClassBars(title: string, perClass: Record<string, number | null>): string {
  const names = Object.keys(perClass);
  const bar = 18;
  const label = Math.min(140, 16 + 6.5 * Math.max(...names.map((c) => c.length)));
  const pw = 360;
  const W = label + pw + 60;
  const H = 30 + names.length * bar + 24;
  const parts: string[] = [`<text x="4" y="12" font-size="13" font-weight="600" fill="#111">${esc(title)}</text>`];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${label + t * pw}" x2="${label + t * pw}" y1="24" y2="${24 + names.length * bar}" stroke="#e5e5e5"/>`,
      `<text x="${label + t * pw}" y="${H - 6}" text-anchor="middle" font-size="10" fill="#555">${t * 100}%</text>`);
  }
  names.forEach((c, i) => {
    const v = perClass[c];
    const y = 24 + i * bar;
    parts.push(`<text x="${label - 6}" y="${y + bar / 2 + 4}" text-anchor="end" font-size="11" fill="#333">${esc(c)}</text>`);
    if (v === null) {
      parts.push(`<text x="${label + 4}" y="${y + bar / 2 + 4}" font-size="11" fill="#888">no images</text>`);
      return;
    }
    parts.push(`<rect class="bar" x="${label}" y="${y + 2}" width="${f2(Math.max(0.5, v * pw))}" height="${bar - 4}" fill="${PALETTE[0]}"><title>${esc(`${c}: ${(v * 100).toFixed(1)}%`)}</title></rect>`,
      `<text x="${f2(label + v * pw + 4)}" y="${y + bar / 2 + 4}" font-size="10" fill="#333">${(v * 100).toFixed(1)}%</text>`);
  });
  return svg(W, H, title, parts);
}
