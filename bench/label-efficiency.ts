// Label-efficiency benchmark: trains every method × seed with `ssmae train` (child processes, --parallel at a
// time), tests each run with `ssmae eval --json`, and writes results.jsonl, summary.md and PNG charts into --out.
// Resumable: a run whose directory holds a successful result.json is not run again, and a run that was cut off
// continues from its checkpoint (train --resume), so an interrupted benchmark picks up where it stopped. A method
// or seed that fails is recorded as failed (and tried again next time); the others go on.
//   node dist/bench/label-efficiency.js --artifacts ART --labeled fashion-mnist:train --test fashion-mnist:test \
//     --labels-per-class 100 --out runs/bench-labels --parallel 2 --threads 1 -- --lr 2e-3 --flip
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TTAS, type Tta } from '../src/algorithm/classifier.js';
import { writeFileAtomic } from '../src/artifacts/files.js';
import { DEVICES } from '../src/runtime/session.js';
import { benchTitle, BenchSettings, RunResult, runFacts, summaryMarkdown } from './label-results.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

// Flags the runner sets for every run itself: given again after `--`, the last one would silently win.
const OWN_FLAGS = ['artifacts', 'labeled', 'labels-per-class', 'val-per-class', 'method', 'seed', 'steps', 'epochs',
  'out', 'resume', 'quiet', 'threads', 'device'];

class BenchUsageError extends Error {}

interface Job { method: string; seed: number; run: string; settings: string[] }

const children = new Set<ReturnType<typeof spawn>>();

/** Runs `node CLI args`; its output is appended to `log`, or stdout is captured when `capture` is set. */
function ssmae(args: string[], log: string, capture = false): Promise<{ code: number; stdout: string }> {
  fs.appendFileSync(log, `\n== ${new Date().toISOString()}: ssmae ${args.join(' ')}\n`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', capture ? 'pipe' : fd, fd] });
  children.add(child);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      fs.closeSync(fd);
      resolve({ code: code ?? (signal ? 128 : 1), stdout });
    });
  });
}

function logTail(file: string, lines = 3): string {
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => !l.startsWith('== ')).slice(-lines).join('\n');
}

/** The run's result.json when it records a success: that run is finished and is not run again. */
function finishedResult(dir: string): RunResult | null {
  const f = path.join(dir, 'result.json');
  if (!fs.existsSync(f)) return null;
  const r = JSON.parse(fs.readFileSync(f, 'utf8')) as RunResult;
  return r.status === 'ok' ? r : null;
}

/** One method × seed: trains (resuming the checkpoint an interrupted run left), tests, writes RUN/result.json. */
async function runJob(job: Job, out: string, test: string, exec: string[], tta: Tta, best: boolean): Promise<RunResult> {
  const dir = path.join(out, job.run);
  const resultFile = path.join(dir, 'result.json');
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'bench-settings.json'), JSON.stringify(job.settings) + '\n');
  const base: RunResult = {
    method: job.method, seed: job.seed, run: job.run, status: 'failed', error: null, steps: null, test_acc: null,
    test_n: null, val_acc: null, pseudo_labels: false, gate_open_step: null, gate_always_open: false, pseudo_precision: null,
    pseudo_mask_rate: null, train_s: null, eval_s: null, resumed: fs.existsSync(path.join(dir, 'checkpoint.safetensors')),
  };
  const finish = (r: RunResult) => {
    writeFileAtomic(resultFile, JSON.stringify(r, null, 2) + '\n');
    return r;
  };
  const trainLog = path.join(dir, 'train.log');
  let t0 = Date.now();
  const train = await ssmae(['train', ...job.settings, '--out', dir, '--resume', '--quiet', ...(best ? ['--keep-best'] : []), ...exec], trainLog);
  base.train_s = (Date.now() - t0) / 1000;
  if (train.code !== 0) return finish({ ...base, error: `train exited with code ${train.code}: ${logTail(trainLog)}` });
  t0 = Date.now();
  const ev = await evalJson(dir, test, exec, 'none', false);
  base.eval_s = (Date.now() - t0) / 1000;
  if (typeof ev === 'string') return finish({ ...base, error: ev });
  const r: RunResult = { ...base, ...runFacts(dir), status: 'ok', steps: ev.step, test_acc: ev.accuracy, test_n: ev.n };
  if (tta === 'flip') {
    // The same weights once more, each test image averaged with its mirror image (both figures are reported).
    const f = await evalJson(dir, test, exec, 'flip', false);
    if (typeof f === 'string') return finish({ ...r, status: 'failed', error: f });
    r.test_acc_flip = f.accuracy;
  }
  if (best) {
    // The best-validation weights (train --keep-best), on the same test images.
    for (const t of tta === 'flip' ? ['none', 'flip'] as const : ['none'] as const) {
      const b = await evalJson(dir, test, exec, t, true);
      if (typeof b === 'string') return finish({ ...r, status: 'failed', error: b });
      r.best_step = b.step;
      if (t === 'none') r.test_acc_best = b.accuracy; else r.test_acc_best_flip = b.accuracy;
    }
  }
  return finish(r);
}

/** ssmae eval --json of a run on the test source (log and confusion matrix named by the tta): its figures, or why not. */
async function evalJson(dir: string, test: string, exec: string[], tta: Tta, best: boolean): Promise<{ accuracy: number; n: number; step: number } | string> {
  const what = ['eval', ...(tta === 'none' ? [] : [`--tta ${tta}`]), ...(best ? ['--best'] : [])].join(' ');
  const suffix = (best ? '-best' : '') + (tta === 'none' ? '' : `-${tta}`);
  const log = path.join(dir, `eval${suffix}.log`);
  const extra = [...(tta === 'none' ? [] : ['--tta', tta]), ...(best ? ['--best'] : []), ...(suffix ? ['--confusion', path.join(dir, `confusion${suffix}.csv`)] : [])];
  const ev = await ssmae(['eval', '--run', dir, '--data', test, '--json', ...extra, ...exec], log, true);
  if (ev.code !== 0) return `${what} exited with code ${ev.code}: ${logTail(log)}`;
  try {
    return JSON.parse(ev.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return `${what} printed no JSON result: ${ev.stdout.trim().slice(-300)}`;
  }
}

/** A finished or interrupted run made with other settings is never mixed into this benchmark. */
function checkSettings(jobs: Job[], out: string): void {
  for (const j of jobs) {
    const f = path.join(out, j.run, 'bench-settings.json');
    if (fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim() !== JSON.stringify(j.settings)) {
      throw new BenchUsageError(`${path.join(out, j.run)} was started with other settings (${f}); ` +
        'choose another --out, or delete that run directory to run it again');
    }
  }
}

const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

async function main(): Promise<void> {
  const a = await yargs(hideBin(process.argv))
    .usage('$0 --artifacts ART --labeled SRC --test SRC --labels-per-class N --out DIR [options] [-- extra train flags]\n\n' +
      'Train each method × seed with ssmae train, test with ssmae eval, and write results.jsonl, summary.md and PNG charts to DIR.')
    .parserConfiguration({ 'populate--': true, 'duplicate-arguments-array': false })
    .option('artifacts', { type: 'string', demandOption: true, describe: 'directory written by ssmae export' })
    .option('labeled', { type: 'string', demandOption: true, describe: 'labeled source, as train --labeled (e.g. fashion-mnist:train)' })
    .option('test', { type: 'string', demandOption: true, describe: 'labeled test source, as eval --data (e.g. fashion-mnist:test)' })
    .option('labels-per-class', { type: 'number', demandOption: true, describe: 'labels kept per class; the rest of --labeled is unlabeled' })
    .option('val-per-class', { type: 'number', default: 10, describe: 'labeled images per class held out for the gate' })
    .option('methods', { type: 'string', default: 'labels-only,mae-finetune,no-gate,ssmae', describe: 'comma-separated train --method values, passed through as given' })
    .option('seeds', { type: 'string', default: '0,1,2', describe: 'comma-separated seeds (a seed fixes the labeled split)' })
    .option('steps', { type: 'number', default: 1600, describe: 'train --steps for every run' })
    .option('out', { type: 'string', demandOption: true, describe: 'benchmark directory: one run directory per method × seed, results.jsonl, summary.md, *.png' })
    .option('parallel', { type: 'number', default: 1, describe: 'trainings at once' })
    .option('threads', { type: 'number', describe: 'intra-op threads per train (and eval) process' })
    .option('device', { choices: DEVICES, default: 'cpu' as const, describe: 'execution provider for train and eval' })
    .option('tta', { choices: TTAS, default: 'none' as Tta, describe: 'flip: also evaluate each run with eval --tta flip (test_acc_flip beside test_acc)' })
    .option('best', { type: 'boolean', default: false, describe: 'train with --keep-best and also evaluate the best-validation weights (test_acc_best and best_step beside test_acc; test_acc_best_flip with --tta flip)' })
    .example('$0 --artifacts artifacts/fmnist --labeled fashion-mnist:train --test fashion-mnist:test --labels-per-class 100 --out runs/bench -- --lr 2e-3 --flip', '')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`label-efficiency: error: ${msg}\nRun with --help for the options.`);
      process.exit(2);
    })
    .parseAsync();
  // Taken from argv as typed: yargs would turn `2e-3` into `0.002` in what summary.md reports.
  const dd = process.argv.indexOf('--');
  const extra = dd >= 0 ? process.argv.slice(dd + 1) : [];
  const clash = extra.filter((x) => OWN_FLAGS.some((f) => x === `--${f}` || x.startsWith(`--${f}=`) || x === `--no-${f}`));
  if (clash.length) throw new BenchUsageError(`${clash.join(', ')} after -- would override the runner's own option; use its option instead`);
  const seeds = csv(a.seeds).map(Number);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new BenchUsageError(`--seeds must be integers ≥ 0, got ${a.seeds}`);
  if (!Number.isInteger(a.parallel) || a.parallel < 1) throw new BenchUsageError(`--parallel must be a positive integer, got ${a.parallel}`);
  const s: BenchSettings = {
    labeled: a.labeled, test: a.test, labelsPerClass: a['labels-per-class'], valPerClass: a['val-per-class'],
    steps: a.steps, seeds, methods: csv(a.methods), extra,
  };
  // Seed-major, so the first results to arrive compare every method on the same split.
  const jobs: Job[] = seeds.flatMap((seed) => s.methods.map((method) => ({
    method, seed, run: `${method}-seed${seed}`,
    settings: ['--artifacts', a.artifacts, '--labeled', s.labeled, '--labels-per-class', String(s.labelsPerClass),
      '--val-per-class', String(s.valPerClass), '--method', method, '--seed', String(seed), '--steps', String(s.steps), ...extra],
  })));
  fs.mkdirSync(a.out, { recursive: true });
  checkSettings(jobs, a.out);
  const threads = a.threads === undefined ? [] : ['--threads', String(a.threads)];
  const exec = [...threads, '--device', a.device]; // train and eval take the same two flags

  const results = new Map<Job, RunResult>();
  const save = () => {
    const done = jobs.filter((j) => results.has(j)).map((j) => results.get(j) as RunResult);
    writeFileAtomic(path.join(a.out, 'results.jsonl'), done.map((r) => JSON.stringify(r) + '\n').join(''));
    writeFileAtomic(path.join(a.out, 'summary.md'), summaryMarkdown(s, done));
    return done;
  };
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const j = jobs[next++];
      const tag = `${j.method}, seed ${j.seed}`;
      const earlier = finishedResult(path.join(a.out, j.run));
      const t0 = Date.now();
      if (!earlier) console.error(`started  ${tag} (log: ${path.join(a.out, j.run, 'train.log')})`);
      // A finished run's log-derived figures are read again, so results written by older code gain new fields.
      const r = earlier ? { ...earlier, ...runFacts(path.join(a.out, j.run)) } : await runJob(j, a.out, s.test, exec, a.tta, a.best);
      results.set(j, r);
      save();
      const what = r.status === 'ok' ? `test ${((r.test_acc as number) * 100).toFixed(2)}%` : `FAILED: ${r.error}`;
      const when = earlier ? 'finished earlier' : `${((Date.now() - t0) / 60000).toFixed(1)} min`;
      console.error(`[${++finished}/${jobs.length}] ${tag}: ${what} (${when})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(a.parallel, jobs.length) }, worker));
  const done = save();
  // The charts need the development dependencies (vega, vega-lite); a machine with the runtime ones alone still gets
  // results.jsonl and summary.md, and `node dist/bench/plot.js --out DIR` draws the charts later from them.
  let pngs: string[] = [];
  try {
    const { plotLabelEfficiency } = await import('./plot.js');
    pngs = await plotLabelEfficiency(a.out, done, benchTitle(s));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    console.error(`label-efficiency: charts skipped (${(e as Error).message.split('\n')[0]}); npm ci installs what they need`);
  }
  console.log(fs.readFileSync(path.join(a.out, 'summary.md'), 'utf8'));
  console.log(`results: ${path.join(a.out, 'results.jsonl')}, ${path.join(a.out, 'summary.md')}, ${pngs.join(', ')}`);
  const failed = done.filter((r) => r.status === 'failed').length;
  if (failed) {
    console.error(`label-efficiency: ${failed} of ${done.length} runs failed (see summary.md); run the same command again to retry them`);
    process.exitCode = 1;
  }
}

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    for (const c of children) c.kill(sig);
    console.error(`label-efficiency: stopped by ${sig}; the same command resumes`);
    process.exit(code);
  });
}

main().catch((e) => {
  if (e instanceof BenchUsageError) {
    console.error(`label-efficiency: error: ${e.message}`);
    process.exit(2);
  }
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
