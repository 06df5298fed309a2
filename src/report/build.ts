// Gathers what the run report shows — the run's logs, its configuration, and, with a labeled set, the evaluation
// and reconstructions made with the run's weights — and renders the page (html.ts).
import fs from 'node:fs';
import path from 'node:path';
import { evaluateRun } from '../algorithm/evaluate.js';
import { readGateLog, readMetrics } from '../algorithm/metrics.js';
import { reconstruct } from '../algorithm/reconstruct.js';
import { pseudoLabelPrecision } from '../algorithm/run-figures.js';
import type { Run } from '../algorithm/run.js';
import { TOOL_VERSION } from '../artifacts/version.js';
import type { ImageSet } from '../data/types.js';
import type { Device } from '../runtime/session.js';
import { ReportData, renderReport } from './html.js';
import { pngDataUri } from './images.js';

export interface ReportOptions {
  /** A labeled set to evaluate on and to show reconstructions of, with the name it goes by. */
  data?: { name: string; set: ImageSet };
  /** How many reconstructions to show (spread evenly over the set). */
  images?: number;
  device?: Device;
  threads?: number;
}

export async function buildReport(run: Run, o: ReportOptions = {}): Promise<string> {
  const m = run.artifacts.manifest;
  const cfg = run.config;
  const rows = fs.existsSync(path.join(run.dir, 'metrics.jsonl')) ? readMetrics(run.dir) : [];
  const d: ReportData = {
    runDir: run.dir, tool: `ssmae ${TOOL_VERSION}`, generated: new Date(), step: run.step, classes: run.classes,
    config: cfg as unknown as Record<string, unknown>,
    model: { preset: m.preset.name, imageSize: m.imageSize, channels: m.channels, params: m.paramCount, maskRatio: m.maskRatio },
    rows, gate: readGateLog(run.dir), gateThreshold: cfg.gate.threshold, gateAlwaysOpen: cfg.gate.alwaysOpen,
    // Runs of earlier versions had one rule, plain validation accuracy (their config says metric 'val/acc').
    gateMetric: cfg.gate.metric === 'confident-acc' ? 'confident-acc' : 'acc', gateConfidence: cfg.gate.confidence ?? null,
    pseudo: pseudoLabelPrecision(rows),
  };
  if (o.data && o.data.set.n > 0) {
    const { set, name } = o.data;
    const opts = { device: o.device, threads: o.threads };
    d.evaluation = { data: name, result: await evaluateRun(run, set, opts) };
    const k = Math.min(o.images ?? 8, set.n);
    const picks = Array.from({ length: k }, (_, i) => Math.floor((i * set.n) / k));
    const images = set.images.read(picks);
    const recs = await reconstruct(run, images, k, cfg.seed, opts);
    const uri = (x: Uint8Array) => pngDataUri(x, m.channels, m.imageSize);
    d.reconstructions = {
      data: name,
      images: await Promise.all(recs.map(async (r, i) => ({
        original: await uri(r.original), masked: await uri(r.masked), reconstructed: await uri(r.reconstructed),
        caption: `#${picks[i]}${set.labels[picks[i]] >= 0 ? ` · ${run.classes[set.labels[picks[i]]]}` : ''}`,
      }))),
    };
  }
  return renderReport(d);
}
