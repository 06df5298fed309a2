import type { Argv } from 'yargs';
import fs from 'node:fs';
import path from 'node:path';
import { Comparison, Figures, compare, defaultTolerance, makeBaseline, parseTolerance, readBaseline, type RunWeights } from '../algorithm/baseline.js';
import { TTAS, type Tta } from '../algorithm/classifier.js';
import { posInt } from '../algorithm/config.js';
import { Evaluation, evaluateRun } from '../algorithm/evaluate.js';
import { readGateLog, readMetrics } from '../algorithm/metrics.js';
import { gateOpenedAt, pseudoLabelPrecision } from '../algorithm/run-figures.js';
import { Run, loadRun } from '../algorithm/run.js';
import { UsageError, writeFileAtomic } from '../artifacts/files.js';
import { loadSource } from '../data/source.js';
import { junitXml } from '../report/junit.js';
import { DEVICES, Device } from '../runtime/session.js';
import { EXIT_REGRESSED } from './errors.js';
import { BEST_OPTION } from './options.js';
import { decodeProgress } from './progress.js';

export function checkCommand(y: Argv) {
  return y.command('check', 'Compare a run with a baseline (accuracy, per-class accuracy, pseudo-label precision, gate opening) for CI: exit 0 within tolerance, 1 on a regression, 2 bad input, 70 an internal error',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('best', { ...BEST_OPTION, describe: `${BEST_OPTION.describe} (the baseline records which; a check of the other weights is refused)` })
      .option('data', { type: 'string', describe: 'labeled source to evaluate the run on (same forms as eval --data), e.g. mnist:test' })
      .option('evaluation', { type: 'string', describe: 'instead of --data: a saved evaluation, the JSON that ssmae eval --json printed (nothing is evaluated again)' })
      .option('baseline', { type: 'string', demandOption: true, describe: 'baseline JSON to compare with (or to write, with --write-baseline); commit it beside the CI job' })
      .option('write-baseline', { type: 'boolean', default: false, describe: 'write this run\'s figures to --baseline instead of comparing (do it once from a run you trust)' })
      .option('tolerance', { type: 'string', describe: 'how far a figure may fall before it fails, as fractions (0.01 = one point): one number for accuracy, per-class and precision, or accuracy=0.01,per-class=0.05,precision=0.02,gate-steps=N. Defaults: those four, with N = the run\'s --eval-every (the gate opening one evaluation later)' })
      .option('junit', { type: 'string', describe: 'also write the comparison as JUnit XML (a test case per figure) for GitHub Actions, GitLab or Jenkins to display' })
      .option('cache-dir', { type: 'string', describe: 'decode --data into this folder and read the images from there by offset (memory then holds a batch, not the set; a second command on the same data decodes nothing). Default: decoded into memory' })
      .option('tta', { choices: TTAS, default: 'none' as Tta, describe: 'with --data: test-time augmentation, as eval --tta (the baseline records it; a check with another one is refused)' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .example('$0 check --run runs/ci --data mnist:test --baseline ci/baseline.json --write-baseline', 'record a baseline once')
      .example('$0 check --run runs/ci --data mnist:test --baseline ci/baseline.json --junit check.xml', 'in CI: fail the job when a figure regressed')
      .example('$0 eval --run runs/ci --data mnist:test --json > eval.json && $0 check --run runs/ci --evaluation eval.json --baseline ci/baseline.json', 'compare a saved evaluation'),
    async (a) => {
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      if ((a.data === undefined) === (a.evaluation === undefined)) {
        throw new UsageError('check needs exactly one of --data SOURCE (evaluate the run now) or --evaluation FILE (the JSON of ssmae eval --json)');
      }
      const t0 = Date.now();
      const run = loadRun(a.run, { best: a.best });
      const weights: RunWeights = a.best ? 'best' : 'last';
      const tolerance = parseTolerance(a.tolerance, defaultTolerance(run.config.evalEvery));
      // The baseline and a saved evaluation are read first: bad input fails before any image is decoded.
      const base = a['write-baseline'] ? null : readBaseline(a.baseline);
      const saved = a.evaluation !== undefined ? readEvaluation(a.evaluation, run) : null;
      const tta = saved ? saved.evaluation.tta : a.tta;
      if (saved && saved.best !== a.best) {
        throw new UsageError(`--evaluation ${a.evaluation} was made ${saved.best ? 'with' : 'without'} eval --best, this check ${a.best ? 'with' : 'without'} --best; give both the same`);
      }
      if (saved && saved.step !== null && saved.step !== run.step) {
        throw new UsageError(`--evaluation ${a.evaluation} was made at step ${saved.step} of its run, ${a.run}${a.best ? '\'s best weights are' : ' is'} at step ${run.step} ` +
          `(trained on since, or another run's evaluation); evaluate again: ssmae eval --run ${a.run}${a.best ? ' --best' : ''} --data SOURCE --json > ${a.evaluation}`);
      }
      if (base && (base.weights ?? 'last') !== weights) {
        throw new UsageError(`baseline ${a.baseline} measured the run's ${base.weights ?? 'last'} weights, this check its ${weights} ones; ` +
          `check ${base.weights === 'best' ? 'with' : 'without'} --best, or write a new baseline with --write-baseline`);
      }
      if (base && (base.tta ?? 'none') !== tta) {
        throw new UsageError(`baseline ${a.baseline} was measured with --tta ${base.tta ?? 'none'}, this check with --tta ${tta}; ` +
          `check with --tta ${base.tta ?? 'none'}, or write a new baseline with --write-baseline`);
      }
      const { evaluation, data } = saved ?? { evaluation: await evaluateOn(run, a.data!, a.device, a.threads, a['cache-dir'], tta), data: a.data! };
      const figures = runFigures(run, evaluation);
      if (!base) {
        fs.mkdirSync(path.dirname(path.resolve(a.baseline)), { recursive: true });
        writeFileAtomic(a.baseline, JSON.stringify(makeBaseline(figures, data, evaluation.n, { dir: a.run, step: run.step }, evaluation.tta, weights), null, 2) + '\n');
        console.log(`wrote baseline ${a.baseline}: accuracy ${pct(figures.accuracy)} on ${evaluation.n} images of ${data}, ` +
          `pseudo-label precision ${figures.pseudo_precision === null ? 'not measured' : pct(figures.pseudo_precision)}, ` +
          `gate opened ${figures.gate_opened_at === null ? 'never' : `at step ${figures.gate_opened_at}`}`);
        return;
      }
      if (base.n !== evaluation.n) {
        throw new UsageError(`baseline ${a.baseline} was measured on ${base.n} images of ${base.data}, this check on ${evaluation.n} of ${data}; ` +
          'check on the same data, or write a new baseline with --write-baseline');
      }
      if (base.data !== data) console.error(`note: baseline ${a.baseline} names its data ${base.data}, this check ${data} (same image count; compared anyway)`);
      const rows = compare(base.figures, figures, tolerance);
      const regressed = rows.filter((r) => r.status === 'regressed');
      const table = formatTable(rows);
      console.log(table);
      const summary = regressed.length
        ? `FAIL: ${regressed.length} figure(s) regressed beyond tolerance against ${a.baseline}: ${regressed.map((r) => r.metric).join(', ')}`
        : `ok: no figure regressed beyond tolerance against ${a.baseline} (${rows.filter((r) => r.status === 'improved').length} improved; ` +
          'rewrite the baseline with --write-baseline to hold the gains)';
      console.log(summary);
      if (a.junit) {
        fs.mkdirSync(path.dirname(path.resolve(a.junit)), { recursive: true });
        writeFileAtomic(a.junit, junitXml({
          name: `ssmae check ${a.run} on ${data}`, classname: 'ssmae.check', time: (Date.now() - t0) / 1000,
          properties: { run: a.run, step: String(run.step), data, baseline: a.baseline, 'baseline.created': base.created },
          cases: rows.filter((r) => r.status !== 'not measured').map((r) => ({
            name: r.metric,
            failure: r.status === 'regressed' ? { message: `${r.metric}: ${r.detail}`, body: table } : undefined,
          })),
          out: `${table}\n${summary}\n`,
        }));
      }
      if (regressed.length) process.exitCode = EXIT_REGRESSED;
    });
}

async function evaluateOn(run: Run, data: string, device: Device, threads: number | undefined, cacheDir: string | undefined,
  tta: Tta): Promise<Evaluation> {
  const m = run.artifacts.manifest;
  const set = await loadSource(data, { size: m.imageSize, channels: m.channels as 1 | 3, labeled: true, classes: run.classes,
    cacheDir, onProgress: decodeProgress(data) });
  return evaluateRun(run, set, { device, threads, tta });
}

/** The JSON of `ssmae eval --json`, checked field by field. */
function readEvaluation(file: string, run: Run): { evaluation: Evaluation; data: string; best: boolean; step: number | null } {
  let e: Evaluation & { data?: string; best?: boolean };
  try {
    e = JSON.parse(fs.readFileSync(file, 'utf8')) as Evaluation & { data?: string; best?: boolean };
  } catch (err) {
    throw new UsageError(`--evaluation ${file} could not be read as JSON (${(err as Error).message}); write it with: ssmae eval --run RUN --data SOURCE --json > ${file}`);
  }
  const bad = (field: string, expected: string) => new UsageError(`--evaluation ${file}: field ${field} should be ${expected}; write it with ssmae eval --json`);
  if (typeof e?.accuracy !== 'number' || !(e.accuracy >= 0 && e.accuracy <= 1)) throw bad('accuracy', 'a fraction in [0, 1]');
  if (!Number.isInteger(e.n) || e.n <= 0) throw bad('n', 'a positive image count');
  if (typeof e.per_class !== 'object' || e.per_class === null) throw bad('per_class', 'an object of class → accuracy');
  const unknown = Object.keys(e.per_class).filter((c) => !run.classes.includes(c));
  if (unknown.length) throw new UsageError(`--evaluation ${file} has classes the run does not (${unknown.join(', ')}); was it made by another run?`);
  if (e.tta !== undefined && !TTAS.includes(e.tta)) throw bad('tta', TTAS.map((t) => `"${t}"`).join(' or '));
  if (e.step !== undefined && !(Number.isInteger(e.step) && e.step >= 0)) throw bad('step', 'the step of the run the weights came from');
  // an evaluation written without a step (by hand, or by an older eval) is compared as it is
  return { evaluation: { ...e, tta: e.tta ?? 'none' }, data: e.data ?? file, best: e.best === true, step: e.step ?? null };
}

function runFigures(run: Run, e: Evaluation): Figures {
  return {
    accuracy: e.accuracy,
    per_class: e.per_class,
    pseudo_precision: pseudoLabelPrecision(readMetrics(run.dir)).precision,
    gate_opened_at: gateOpenedAt(readGateLog(run.dir)),
  };
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

function formatTable(rows: Comparison[]): string {
  const cell = (r: Comparison, v: number | null) => (v === null ? (r.unit === 'steps' ? 'never' : '-') : r.unit === 'steps' ? String(v) : pct(v));
  const change = (r: Comparison) => {
    if (r.baseline === null || r.current === null) return '-';
    const d = r.current - r.baseline;
    return r.unit === 'steps' ? `${d >= 0 ? '+' : ''}${d}` : `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pt`;
  };
  const table = [['figure', 'baseline', 'now', 'change', 'tolerance', 'status'],
    ...rows.map((r) => [r.metric, cell(r, r.baseline), cell(r, r.current), change(r),
      r.unit === 'steps' ? `${r.tolerance} steps` : `${(r.tolerance * 100).toFixed(2)} pt`, r.status === 'regressed' ? 'REGRESSED' : r.status])];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
  return table.map((row) => row.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd()).join('\n');
}
