// The run report as one self-contained HTML page: inline CSS, inline SVG charts, images as data: URIs, no script
// and a Content-Security-Policy that lets the page load nothing from anywhere, so it opens the same from a CI
// artifact, an e-mail attachment or a machine without network.
import type { Evaluation } from '../algorithm/evaluate.js';
import type { GateDecision } from '../algorithm/gate.js';
import type { Row } from '../algorithm/metrics.js';
import { xmlEscape as esc } from './xml.js';
import { Series, confusionHeatmap, gateTimeline, lineChart, perClassBars } from './svg.js';

export interface ReportImages { original: string; masked: string; reconstructed: string; caption: string }

export interface ReportData {
  runDir: string;
  tool: string;
  generated: Date;
  step: number;
  classes: string[];
  /** config.json of the run, as saved. */
  config: Record<string, unknown>;
  model: { preset: string; imageSize: number; channels: number; params: number; maskRatio: number };
  rows: Row[];
  gate: GateDecision[];
  gateThreshold: number;
  gateAlwaysOpen: boolean;
  /** The figure the gate read: plain validation accuracy, or the accuracy of the confident validation predictions. */
  gateMetric: 'acc' | 'confident-acc';
  gateConfidence: number | null;
  pseudo: { precision: number | null; maskRate: number | null };
  /** Figures on the labeled source the report was made with (absent: no --data). */
  evaluation?: { data: string; result: Evaluation };
  reconstructions?: { data: string; images: ReportImages[] };
}

const pct = (v: number | null | undefined, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(d)}%`);

function series(rows: Row[], key: keyof Row, name: string, extra: Partial<Series> = {}): Series {
  const points = rows.flatMap((r) => {
    const v = r[key];
    return typeof v === 'number' && Number.isFinite(v) ? [[r.step, v] as [number, number]] : [];
  });
  return { name, points, ...extra };
}

/** Spans of steps with the gate open, from its decisions. */
function openSpans(gate: GateDecision[], lastStep: number, alwaysOpen: boolean): { from: number; to: number; label: string }[] {
  if (alwaysOpen) return [{ from: 0, to: lastStep, label: 'gate open (disabled: pseudo-labels from step 1)' }];
  const spans: { from: number; to: number; label: string }[] = [];
  let from: number | null = null;
  for (const d of gate) {
    if (d.changed && d.open) from = d.step;
    if (d.changed && !d.open && from !== null) { spans.push({ from, to: d.step, label: `gate open, steps ${from}–${d.step}` }); from = null; }
  }
  if (from !== null) spans.push({ from, to: lastStep, label: `gate open from step ${from}` });
  return spans;
}

function section(id: string, title: string, explain: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2><p class="explain">${explain}</p>${body}</section>`;
}

function flatten(o: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? flatten(v as Record<string, unknown>, `${prefix}${k}.`)
    : [[`${prefix}${k}`, JSON.stringify(v)] as [string, string]]));
}

export function renderReport(d: ReportData): string {
  const rows = d.rows;
  const lastStep = Math.max(d.step, ...rows.map((r) => r.step), 1);
  const xDomain: [number, number] = [0, lastStep];
  const changes = d.gate.filter((g) => g.changed);
  const opened = changes.find((g) => g.open);
  const vRules = changes.map((g) => ({ x: g.step, label: `gate ${g.open ? 'opened' : 'closed'} @ ${g.step}` }));
  const spans = openSpans(d.gate, lastStep, d.gateAlwaysOpen);
  const lastVal = [...rows].reverse().find((r) => typeof r['val/acc'] === 'number')?.['val/acc'] ?? null;

  const losses = [series(rows, 'train/loss', 'total'), series(rows, 'train/rec_loss', 'reconstruction'),
    series(rows, 'train/ce_labeled', 'cross-entropy (labels)'), series(rows, 'train/ce_pseudo', 'cross-entropy (pseudo-labels)')]
    .filter((s) => s.points.length);
  const confident = `confidence ≥ ${d.gateConfidence ?? 0.95}`;
  const validation = [series(rows, 'val/acc', 'validation accuracy', { dots: true }),
    series(rows, 'val/confident_acc', `accuracy of the validation predictions with ${confident}`, { dots: true, color: '#f58518' }),
    series(rows, 'val/confident_rate', `share of validation predictions with ${confident}`, { dash: true, color: '#f58518' }),
    series(rows, 'train/acc_labeled', 'training accuracy (labeled batches)', { dash: true, color: '#9e9e9e' })].filter((s) => s.points.length);
  const pseudo = [series(rows, 'train/pseudo_mask_rate', 'mask rate (share of unlabeled images pseudo-labeled)'),
    series(rows, 'train/pseudo_precision', 'precision (hidden labels)', { dots: true, color: '#e45756' })].filter((s) => s.points.length);
  const none = (what: string) => `<p class="none">${what}</p>`;

  const cards = [
    ['steps', String(d.step)],
    ['validation accuracy (last)', pct(lastVal)],
    ['gate opened at', d.gateAlwaysOpen ? 'always open' : opened ? `step ${opened.step}` : 'never'],
    ['pseudo-label precision', d.pseudo.precision === null ? 'not measured' : pct(d.pseudo.precision)],
    ...(d.evaluation ? [[`accuracy on ${d.evaluation.data}`, pct(d.evaluation.result.accuracy)]] : []),
  ].map(([k, v]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`).join('');

  const parts: string[] = [];
  parts.push(section('losses', 'Loss terms', 'Means over each logged interval: loss = λ<sub>rec</sub>·reconstruction + λ<sub>l</sub>·cross-entropy on the labels + λ<sub>u</sub>·cross-entropy on the pseudo-labels (zero while the gate is closed).',
    losses.length ? lineChart({ title: 'loss terms over steps', series: losses, xDomain, vRules }) : none('No metrics rows were logged.')));
  parts.push(section('validation', 'Validation and the gate', `Accuracy on the validation split carved from the labeled training data (never a test set); the gate opens when ${d.gateMetric === 'confident-acc' ? `the accuracy of its predictions with ${confident} (orange)` : 'validation accuracy'} reaches the threshold (${d.gateThreshold})${d.gateAlwaysOpen ? ' — here the gate was disabled' : ''}. Green: steps with the gate open.`,
    validation.length ? lineChart({ title: 'validation accuracy and the gate threshold', series: validation, xDomain, yDomain: [0, 1], percent: true,
      hRules: d.gateAlwaysOpen ? [] : [{ y: d.gateThreshold, label: `gate threshold ${d.gateThreshold}` }], vRules, spans }) : none('No validation was logged.')));
  const decisionsTable = d.gate.length
    ? `<details><summary>All ${d.gate.length} gate decisions</summary><table><thead><tr><th>step</th><th>figure</th><th>gate</th><th>reason</th></tr></thead><tbody>${
      d.gate.map((g) => `<tr${g.changed ? ' class="changed"' : ''}><td>${g.step}</td><td>${g.value === null ? '–' : g.value.toFixed(4)}</td><td>${g.open ? 'open' : 'closed'}</td><td>${esc(g.reason)}</td></tr>`).join('')}</tbody></table></details>`
    : '';
  parts.push(section('gate', 'Gate decisions', 'Every decision of the validation gate, at each evaluation (hover a tick for the figure that made it).',
    (d.gate.length || d.gateAlwaysOpen ? gateTimeline('gate timeline', d.gate, lastStep, d.gateAlwaysOpen) : none('The gate made no decision (no joint-training step was evaluated).')) + decisionsTable));
  parts.push(section('pseudo', 'Pseudo-labels', `Share of the unlabeled images whose pseudo-label was used, and how many of those were right, measured on the labels the source hid from training (when it had them). Over the run, with the gate open: precision ${pct(d.pseudo.precision)}, mean mask rate ${pct(d.pseudo.maskRate)}.`,
    pseudo.length ? lineChart({ title: 'pseudo-label mask rate and precision', series: pseudo, xDomain, yDomain: [0, 1], percent: true, vRules, spans }) : none('No pseudo-label statistics were logged.')));
  if (d.reconstructions) {
    const figs = d.reconstructions.images.map((im) =>
      `<figure class="recon"><img src="${im.original}" alt="original"><img src="${im.masked}" alt="masked"><img src="${im.reconstructed}" alt="reconstructed"><figcaption>${esc(im.caption)}</figcaption></figure>`).join('');
    parts.push(section('reconstructions', 'Reconstructions', `Images of ${esc(d.reconstructions.data)} through the run's masked autoencoder (the classifying weights, mask ratio ${d.model.maskRatio}): original, what the encoder sees (hidden patches gray) and the reconstruction (predicted hidden patches beside the visible ones). The model predicts each hidden patch normalized by its own pixels' mean and spread (MAE's normalized-pixel target); those two numbers of the original patch turn the prediction back into pixels, so the picture shows the structure predicted within each patch.`,
      `<div class="recon-head"><span>original</span><span>masked</span><span>reconstructed</span></div><div class="recons">${figs}</div>`));
  } else {
    parts.push(section('reconstructions', 'Reconstructions', '', none('Make the report with --data SOURCE to see reconstructions of its images.')));
  }
  if (d.evaluation) {
    const e = d.evaluation.result;
    parts.push(section('evaluation', `Accuracy on ${d.evaluation.data}`, `${pct(e.accuracy, 2)} of ${e.n} images${e.skipped ? ` (${e.skipped} files could not be read)` : ''}, with the weights of step ${e.step}. Rows of the confusion matrix: the true class; columns: the predicted class.`,
      `<div class="row">${confusionHeatmap('confusion matrix', d.classes, e.confusion)}${perClassBars('accuracy per class', e.per_class)}</div>`));
  } else {
    parts.push(section('evaluation', 'Accuracy', '', none('Make the report with --data SOURCE (a labeled source, e.g. a test folder) for the confusion matrix and per-class accuracy.')));
  }
  const model = `<table class="kv"><tbody>${[['preset', d.model.preset], ['image size', `${d.model.imageSize}×${d.model.imageSize}×${d.model.channels}`],
    ['parameters', d.model.params.toLocaleString('en-US')], ['classes', d.classes.join(', ')]].map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
  const config = `<table class="kv"><tbody>${flatten(d.config).map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join('')}</tbody></table>`;
  parts.push(section('config', 'Configuration', 'The model and the resolved training configuration (config.json of the run).', `<div class="row">${model}${config}</div>`));

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ssmae report: ${esc(d.runDir)}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; color: #1a1a1a; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; font-size: 13px; } .explain { color: #444; font-size: 13px; max-width: 900px; margin: 4px 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; } .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 140px; }
.card .k { font-size: 12px; color: #555; } .card .v { font-size: 20px; font-weight: 600; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
svg.chart { max-width: 100%; height: auto; }
.recons { display: flex; flex-wrap: wrap; gap: 14px; } figure.recon { margin: 0; } figure.recon img { width: 72px; height: 72px; image-rendering: pixelated; border: 1px solid #ccc; margin-right: 2px; }
figcaption { font-size: 11px; color: #444; } .recon-head { font-size: 11px; color: #666; margin-bottom: 4px; } .recon-head span { display: inline-block; width: 76px; }
table { border-collapse: collapse; font-size: 12px; } td, th { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: left; vertical-align: top; }
tr.changed td { font-weight: 600; background: #f1f8e9; } table.kv th { color: #444; font-weight: 500; } .none { color: #777; font-style: italic; }
details { margin-top: 8px; font-size: 13px; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>ssmae run report</h1>
<div class="meta">run <code>${esc(d.runDir)}</code> · ${esc(String(d.config.method ?? ''))} · ${esc(d.model.preset)} · ${esc(d.tool)} · made ${esc(d.generated.toISOString().slice(0, 16).replace('T', ' '))} UTC</div>
<div class="cards">${cards}</div>
${parts.join('\n')}
</body>
</html>
`;
}
