// PNG charts of a label-efficiency benchmark: pseudo-label precision, mask rate, validation accuracy and the
// confident-acc gate's two figures over the steps of every run that uses pseudo-labels (a vertical rule where the gate opened), and test accuracy per method.
// Specs are Vega-Lite, rendered headless to SVG by Vega and rasterised by sharp (librsvg). Text is drawn with
// fontconfig's sans-serif; on a machine with no fonts installed the charts come out without labels.
//   node dist/bench/plot.js --out DIR     (DIR written by dist/bench/label-efficiency.js)
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readMetrics } from '../src/algorithm/metrics.js';
import { readJsonl, RunResult } from './label-results.js';

const PANEL = { width: 560, height: 150 };

async function writePng(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG(2); // twice the nominal size: legible when the PNG is shown at full width
  view.finalize();
  await sharp(Buffer.from(svg)).png().toFile(file);
}

interface Point { step: number; value: number; method: string; seed: string }

/** One panel: a line per run, and a rule at each gate opening in the same color and dash. */
function panel(title: string, points: Point[], gates: Omit<Point, 'value'>[], lastStep: number) {
  const legend = { symbolType: 'stroke', symbolStrokeWidth: 2 };
  const color = { field: 'method', type: 'nominal', title: 'method', legend } as const;
  const dash = { field: 'seed', type: 'nominal', title: 'seed', legend } as const;
  return {
    ...PANEL,
    title: { text: title, anchor: 'start', fontSize: 12, offset: 8 },
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step', scale: { domain: [0, lastStep] } },
          y: { field: 'value', type: 'quantitative', title: null, scale: { domain: [0, 1] }, axis: { format: '.0%' } },
          color, strokeDash: dash,
        },
      },
      {
        data: { values: gates },
        mark: { type: 'rule', strokeWidth: 1 },
        encoding: { x: { field: 'step', type: 'quantitative' }, color, strokeDash: dash },
      },
    ],
  };
}

/** pseudo-labels.png (null when no run uses pseudo-labels) and test-accuracy.png; returns the files written. */
export async function plotLabelEfficiency(outDir: string, results: RunResult[], title: string): Promise<string[]> {
  const written: string[] = [];
  const pseudo = results.filter((r) => r.status === 'ok' && r.pseudo_labels);
  if (pseudo.length) {
    const series = { precision: [] as Point[], rate: [] as Point[], val: [] as Point[], confAcc: [] as Point[], confRate: [] as Point[] };
    for (const r of pseudo) {
      const id = { method: r.method, seed: String(r.seed) };
      for (const row of readMetrics(path.join(outDir, r.run))) {
        const p = row['train/pseudo_precision'];
        const m = row['train/pseudo_mask_rate'];
        const v = row['val/acc'];
        const ca = row['val/confident_acc'];
        const cr = row['val/confident_rate'];
        if (p != null) series.precision.push({ step: row.step, value: p, ...id });
        if (m != null) series.rate.push({ step: row.step, value: m, ...id });
        if (v != null) series.val.push({ step: row.step, value: v, ...id });
        if (ca != null) series.confAcc.push({ step: row.step, value: ca, ...id });
        if (cr != null) series.confRate.push({ step: row.step, value: cr, ...id });
      }
    }
    const gates = pseudo.filter((r) => r.gate_open_step !== null)
      .map((r) => ({ step: r.gate_open_step as number, method: r.method, seed: String(r.seed) }));
    const lastStep = Math.max(...pseudo.map((r) => r.steps ?? 0));
    const file = path.join(outDir, 'pseudo-labels.png');
    await writePng({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: title, subtitle: 'vertical rule: the step the gate opened (no-gate: open from step 1)', offset: 12 },
      vconcat: [
        panel('pseudo-label precision (pseudo-labels used that were right)', series.precision, gates, lastStep),
        panel('mask rate (unlabeled images given a pseudo-label)', series.rate, gates, lastStep),
        panel('validation accuracy (what the acc gate reads)', series.val, gates, lastStep),
        // The confident-acc gate's two figures: how right the confident predictions are, and how many there are.
        ...(series.confAcc.length ? [panel('accuracy of the confident validation predictions (what the confident-acc gate reads)', series.confAcc, gates, lastStep)] : []),
        ...(series.confRate.length ? [panel('share of validation predictions that are confident', series.confRate, gates, lastStep)] : []),
      ],
      config: { background: 'white', view: { stroke: null } },
    } as TopLevelSpec, file);
    written.push(file);
  }
  const acc = results.filter((r) => r.status === 'ok' && r.test_acc !== null)
    .map((r) => ({ method: r.method, seed: String(r.seed), acc: r.test_acc as number }));
  if (acc.length) {
    const file = path.join(outDir, 'test-accuracy.png');
    const methods = [...new Set(results.map((r) => r.method))];
    const y = { field: 'method', type: 'nominal', sort: methods, title: null } as const;
    await writePng({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: title, subtitle: 'test accuracy: one dot per seed, bar at the mean' },
      width: PANEL.width, height: { step: 28 },
      data: { values: acc },
      layer: [
        { mark: { type: 'tick', thickness: 2, color: 'black' }, encoding: { y, x: { aggregate: 'mean', field: 'acc', type: 'quantitative' } } },
        {
          mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
          encoding: { y, color: { field: 'seed', type: 'nominal' },
            x: { field: 'acc', type: 'quantitative', title: 'test accuracy', axis: { format: '.1%' }, scale: { zero: false } } },
        },
      ],
      config: { background: 'white' },
    } as TopLevelSpec, file);
    written.push(file);
  }
  return written;
}

async function main(): Promise<void> {
  const a = await yargs(hideBin(process.argv))
    .usage('$0 --out DIR\n\nRedraw the PNG charts of a label-efficiency benchmark from DIR/results.jsonl and its run directories.')
    .option('out', { type: 'string', demandOption: true, describe: 'the benchmark\'s --out directory' })
    .option('title', { type: 'string', describe: 'chart title (default: from the results)' })
    .strict()
    .parseAsync();
  const results = readJsonl<RunResult>(path.join(a.out, 'results.jsonl'));
  if (!results.length) throw new Error(`no results in ${path.join(a.out, 'results.jsonl')}`);
  for (const f of await plotLabelEfficiency(a.out, results, a.title ?? defaultTitle(a.out))) console.log(f);
}

/** The title summary.md's first line gives, else the directory's name. */
function defaultTitle(outDir: string): string {
  const md = path.join(outDir, 'summary.md');
  const first = fs.existsSync(md) ? fs.readFileSync(md, 'utf8').split('\n')[0].replace(/^# /, '') : '';
  return first || path.basename(path.resolve(outDir));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(`plot: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  });
}
