// The label-efficiency benchmark's records: one result per method × seed (RUN/result.json, gathered into
// results.jsonl), what is read back from a finished run's logs, and the markdown summary. No process spawning here.
import fs from 'node:fs';
import path from 'node:path';
import { readGateLog, readMetrics } from '../src/algorithm/metrics.js';

export interface RunResult {
  method: string;
  seed: number;
  run: string;                       // run directory, relative to the benchmark's --out
  status: 'ok' | 'failed';
  error: string | null;              // failed: the stage, its exit code and the end of its log
  steps: number | null;              // the step the evaluated weights were saved at
  test_acc: number | null;
  test_n: number | null;
  test_acc_flip?: number | null;     // with --tta flip: the same weights, each test image averaged with its mirror image
  test_acc_best?: number | null;     // with --best: the best-validation weights (train --keep-best)
  test_acc_best_flip?: number | null; // with --best --tta flip
  best_step?: number | null;         // with --best: the step of those weights
  val_acc: number | null;            // last validation accuracy (the gate's split)
  pseudo_labels: boolean;            // the method trains on pseudo-labels at all (λu > 0 in its resolved config)
  gate_open_step: number | null;     // first gate decision that opened it; null: never opened, or no gate at all
  gate_always_open: boolean;         // no-gate: pseudo-labels from step 1, so there is no opening to mark
  pseudo_precision: number | null;   // last metrics row: share of the pseudo-labels used that were right
  pseudo_mask_rate: number | null;   // last metrics row: share of unlabeled images that got a pseudo-label
  train_s: number | null;            // wall time of the last train invocation (a resumed run counts its remainder)
  eval_s: number | null;
  resumed: boolean;                  // training continued from a checkpoint an interrupted benchmark left
}

export interface BenchSettings {
  labeled: string;
  test: string;
  labelsPerClass: number;
  valPerClass: number;
  steps: number;
  seeds: number[];
  methods: string[];
  extra: string[];                   // train flags passed through after `--`
}

export function readJsonl<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

/** What a finished run's logs say: the gate's opening, the last pseudo-label figures and validation accuracy. */
export function runFacts(runDir: string): Pick<RunResult, 'pseudo_labels' | 'gate_open_step' | 'gate_always_open' | 'pseudo_precision' | 'pseudo_mask_rate' | 'val_acc'> {
  const opened = readGateLog(runDir).find((d) => d.changed && d.open);
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { lambdaU: number; gate: { alwaysOpen: boolean } };
  const rows = readMetrics(runDir);
  const last = rows.at(-1);
  const lastVal = rows.filter((r) => r['val/acc'] != null).at(-1);
  return {
    pseudo_labels: config.lambdaU > 0,
    gate_open_step: opened ? opened.step : null,
    gate_always_open: config.gate.alwaysOpen,
    pseudo_precision: last?.['train/pseudo_precision'] ?? null,
    pseudo_mask_rate: last?.['train/pseudo_mask_rate'] ?? null,
    val_acc: lastVal?.['val/acc'] ?? null,
  };
}

/** Mean and sample standard deviation (n − 1); std is null below two values. */
export function meanStd(xs: number[]): { mean: number; std: number | null } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : null;
  return { mean, std };
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;
const plusMinus = (m: { mean: number; std: number | null }, f: (x: number) => string) =>
  m.std === null ? f(m.mean) : `${f(m.mean)} ± ${(m.std * 100).toFixed(1)}`;

/**
 * A source as titles show it: absolute paths in it cut to their last two parts ("/data/x/cifar10/train" →
 * "cifar10/train"), so charts and summaries do not carry the machine's folders; built-in and relative sources as given.
 */
export function shortSource(spec: string): string {
  return spec.replace(/(^|[:,])(\/[^,:]*)/g, (_, pre: string, p: string) => pre + p.split('/').filter(Boolean).slice(-2).join('/'));
}

export function benchTitle(s: BenchSettings): string {
  return `Label efficiency: ${shortSource(s.labeled)}, ${s.labelsPerClass} labels per class, tested on ${shortSource(s.test)}`;
}

/** summary.md: test accuracy per method and seed, mean ± sample std, and the gated method against its baselines. */
export function summaryMarkdown(s: BenchSettings, results: RunResult[]): string {
  const get = (method: string, seed: number) => results.find((r) => r.method === method && r.seed === seed);
  const okAcc = (method: string, seed: number) => {
    const r = get(method, seed);
    return r && r.status === 'ok' ? r.test_acc : null;
  };
  const lines = [
    `# ${benchTitle(s)}`,
    '',
    `${s.steps} steps per run, ${s.valPerClass} validation images per class, seeds ${s.seeds.join(', ')}; ` +
      `extra train flags: ${s.extra.length ? '`' + s.extra.join(' ') + '`' : 'none'}. ` +
      'A seed fixes the labeled split, so the same seed gives every method the same labels.',
    '',
    `| method | ${s.seeds.map((x) => `seed ${x}`).join(' | ')} | mean ± std | gate opened at step | pseudo-label precision / mask rate (last interval) |`,
    `|---|${s.seeds.map(() => '---|').join('')}---|---|---|`,
  ];
  for (const m of s.methods) {
    const accs = s.seeds.map((seed) => okAcc(m, seed));
    const have = accs.filter((a): a is number => a !== null);
    const runs = s.seeds.map((seed) => get(m, seed)).filter((r): r is RunResult => r?.status === 'ok');
    const pseudoRuns = runs.filter((r) => r.pseudo_labels);
    const gate = pseudoRuns.length === 0 ? '–'
      : pseudoRuns.every((r) => r.gate_always_open) ? 'always open'
        : pseudoRuns.map((r) => r.gate_open_step ?? 'never').join(', ');
    const pseudo = pseudoRuns.length === 0 ? '–'
      : pseudoRuns.map((r) => `${pct(r.pseudo_precision)} / ${pct(r.pseudo_mask_rate)}`).join('; ');
    const cells = s.seeds.map((seed, i) => (get(m, seed)?.status === 'failed' ? 'failed' : pct(accs[i])));
    const stat = have.length ? plusMinus(meanStd(have), (x) => (x * 100).toFixed(1)) + '%' : '–';
    lines.push(`| ${m} | ${cells.join(' | ')} | ${stat} | ${gate} | ${pseudo} |`);
  }
  const pairs: [string, string][] = [['ssmae', 'labels-only'], ['ssmae', 'no-gate']];
  const diffs = pairs.filter(([a, b]) => s.methods.includes(a) && s.methods.includes(b));
  if (diffs.length) {
    lines.push('', 'Differences in test accuracy (percentage points), paired by seed:', '',
      `| comparison | ${s.seeds.map((x) => `seed ${x}`).join(' | ')} | mean ± std |`,
      `|---|${s.seeds.map(() => '---|').join('')}---|`);
    for (const [a, b] of diffs) {
      const d = s.seeds.map((seed) => {
        const x = okAcc(a, seed);
        const y = okAcc(b, seed);
        return x !== null && y !== null ? x - y : null;
      });
      const have = d.filter((x): x is number => x !== null);
      lines.push(`| ${a} − ${b} | ${d.map((x) => (x === null ? '–' : points(x))).join(' | ')} | ` +
        `${have.length ? plusMinus(meanStd(have), points) : '–'} |`);
    }
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) {
    lines.push('', '## Failed runs', '');
    for (const r of failed) lines.push(`- ${r.method}, seed ${r.seed}: ${r.error?.replace(/\n/g, ' ⏎ ')}`);
  }
  return lines.join('\n') + '\n';
}
