// train --keep-best: OUT/best.safetensors holds the weights of the evaluation with the best validation accuracy so
// far. Checked against an independent known answer (a second run stopped at that step has exactly those weights),
// against the run's own metrics (the first step of the highest val/acc), through a resume, and for damaged or
// missing files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BEST_FILE, loadBest } from '../src/algorithm/best.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { cli, ok, writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-best-'));
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
// Warmup pinned beyond the last step, so that a run of --steps N takes the same first N steps as a longer one (the
// cosine schedule would otherwise depend on --steps).
const common = (out: string, steps: number, extra: string[] = []) => ['train', '--artifacts', art, '--labeled', labeled,
  '--labels-per-class', '4', '--val-per-class', '4', '--seed', '3', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'),
  '--eval-every', '3', '--log-every', '3', '--checkpoint-every', '6', '--warmup-steps', '100', '--lr', '3e-3', '--steps', String(steps), '--out', out, ...extra];

const ready = (async () => {
  await writeTree(labeled, 12, 5);
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
})();

/** (step, val/acc) of every evaluation in a run's metrics.csv. */
function evaluations(run: string): { step: number; acc: number }[] {
  const [head, ...rows] = fs.readFileSync(path.join(run, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const [iStep, iAcc] = [head.indexOf('step'), head.indexOf('val/acc')];
  return rows.filter((r) => r[iAcc] !== '').map((r) => ({ step: Number(r[iStep]), acc: Number(r[iAcc]) }));
}

const whole = path.join(tmp, 'whole');
const trained = (async () => {
  await ready;
  const out = ok(cli(...common(whole, 45, ['--keep-best'])), 'train --keep-best');
  return out;
})();

test('best.safetensors holds the weights of the first evaluation with the highest val/acc, as a run stopped there has them', async () => {
  const out = await trained;
  const evals = evaluations(whole);
  assert.equal(evals.length, 15, 'expected an evaluation every 3 steps');
  const top = Math.max(...evals.map((e) => e.acc));
  const first = evals.find((e) => e.acc === top)!;
  const { record, weights } = loadBest(path.join(whole, BEST_FILE));
  assert.equal(record.step, first.step);
  // The data make the best neither the first evaluation nor the last, and ties follow it (the earlier step is kept).
  assert.ok(record.step > 3 && record.step < 45, `best at step ${record.step}: the test needs one inside the run`);
  assert.ok(evals.some((e) => e.step > record.step && e.acc === top), 'no later evaluation ties the best');
  assert.equal(record.valAcc.toFixed(4), top.toFixed(4));
  assert.match(out, new RegExp(`best: step ${first.step}, validation accuracy ${(top * 100).toFixed(1)}%`));
  // Known answer: the same run stopped at that step ends with the same teacher weights, bit for bit.
  const short = path.join(tmp, 'short');
  ok(cli(...common(short, record.step)), `train ${record.step} steps`);
  const ema = loadCheckpoint(path.join(short, 'checkpoint.safetensors')).model.ema;
  assert.equal(weights.size, ema.size);
  for (const [name, w] of ema) assert.deepEqual(weights.get(name), w, `${name} differs from the teacher at step ${record.step}`);
  // And they are not the last step's: --best changes what eval reads.
  const last = loadCheckpoint(path.join(whole, 'checkpoint.safetensors')).model.ema;
  assert.ok([...last].some(([n, w]) => !Buffer.from(w.buffer).equals(Buffer.from(weights.get(n)!.buffer))));
  const evalBest = JSON.parse(ok(cli('eval', '--run', whole, '--best', '--data', labeled, '--json'), 'eval --best'));
  const evalShort = JSON.parse(ok(cli('eval', '--run', short, '--data', labeled, '--json'), 'eval short'));
  assert.equal(evalBest.step, record.step);
  assert.equal(evalBest.best, true);
  assert.equal(evalBest.accuracy, evalShort.accuracy);
  assert.deepEqual(evalBest.confusion, evalShort.confusion);
  assert.equal(JSON.parse(ok(cli('eval', '--run', whole, '--data', labeled, '--json'), 'eval')).step, 45);
});

test('a run stopped after its best evaluation and resumed keeps that best (the checkpoint carries it), as the uninterrupted run', async () => {
  await trained;
  const split = path.join(tmp, 'split');
  // Stopped at 33, after the best (step 30 with these data): the evaluations after the resume only tie it, so a
  // resumed run that forgot its best would write step 36's weights.
  ok(cli(...common(split, 33, ['--keep-best'])), 'train 33');
  const best = loadBest(path.join(whole, BEST_FILE)).record;
  assert.ok(best.step < 33, `the uninterrupted run's best is at step ${best.step}, not before the stop`);
  assert.deepEqual(loadCheckpoint(path.join(split, 'checkpoint.safetensors')).loop.best, best);
  ok(cli(...common(split, 45, ['--keep-best', '--resume'])), 'train --resume');
  assert.ok(fs.readFileSync(path.join(split, BEST_FILE)).equals(fs.readFileSync(path.join(whole, BEST_FILE))));
});

test('--best without best.safetensors, or with a damaged one, exits 2 naming the file and the fix', async () => {
  await trained;
  const plain = path.join(tmp, 'plain');
  ok(cli(...common(plain, 6)), 'train without --keep-best');
  const missing = cli('eval', '--run', plain, '--best', '--data', labeled);
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /best\.safetensors does not exist.*--keep-best/);
  const damaged = path.join(tmp, 'damaged');
  fs.cpSync(whole, damaged, { recursive: true });
  const file = path.join(damaged, BEST_FILE);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3] ^= 0x40;
  fs.writeFileSync(file, bytes);
  const bad = cli('pseudo-label', '--run', damaged, '--best', '--input', labeled, '--out', path.join(tmp, 'labels.csv'));
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /best\.safetensors is damaged/);
  const art2 = cli('embed', '--artifacts', art, '--best', '--data', labeled, '--out', path.join(tmp, 'emb.npy'));
  assert.equal(art2.status, 2, art2.stderr);
  assert.match(art2.stderr, /--best takes the best-validation weights of a run/);
});

test('check --best: the baseline records the best weights, its accuracy is theirs, and a check of the other weights is refused (exit 2)', async () => {
  await trained;
  const base = path.join(tmp, 'baseline-best.json');
  ok(cli('check', '--run', whole, '--best', '--data', labeled, '--baseline', base, '--write-baseline', '--threads', '1'), 'check --best --write-baseline');
  const b = JSON.parse(fs.readFileSync(base, 'utf8'));
  assert.equal(b.weights, 'best');
  const best = loadBest(path.join(whole, BEST_FILE)).record;
  assert.equal(b.run.step, best.step);
  const e = JSON.parse(ok(cli('eval', '--run', whole, '--best', '--data', labeled, '--json', '--confusion', path.join(tmp, 'cf.csv')), 'eval --best'));
  assert.equal(b.figures.accuracy, e.accuracy);
  assert.equal(cli('check', '--run', whole, '--best', '--data', labeled, '--baseline', base, '--threads', '1').status, 0);
  const last = cli('check', '--run', whole, '--data', labeled, '--baseline', base, '--threads', '1');
  assert.equal(last.status, 2, last.stderr);
  assert.match(last.stderr, /measured the run's best weights, this check its last ones; check with --best/);
  const saved = path.join(tmp, 'eval-best.json');
  fs.writeFileSync(saved, JSON.stringify(e));
  assert.equal(cli('check', '--run', whole, '--best', '--evaluation', saved, '--baseline', base).status, 0);
  const mixed = cli('check', '--run', whole, '--evaluation', saved, '--baseline', base);
  assert.equal(mixed.status, 2, mixed.stderr);
  assert.match(mixed.stderr, /was made with eval --best, this check without --best/);
});
