// labels-only on every label: without --labels-per-class and without --unlabeled there are no unlabeled images, which
// the labels-only baseline never draws. Such a run must train, resume bit for bit, and give the same model as the same
// run with an unlabeled set beside it (which it does not touch). The methods that need unlabeled images still refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { assertSameRuns, cli, exportModel, ok, writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-labels-only-all-'));
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const ready = (async () => {
  await writeTree(labeled, 6, 5);
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
})();
const train = (extra: string[]) => cli('train', '--artifacts', art, '--labeled', labeled, '--val-per-class', '2', '--seed', '3',
  '--threads', '1', '--quiet', '--eval-every', '5', '--log-every', '5', '--checkpoint-every', '10', '--warmup-steps', '50',
  '--cache-dir', path.join(tmp, 'cache'), ...extra);

test('labels-only trains on every label with no unlabeled images, resumes bit for bit, and ignores an unlabeled set', async () => {
  await ready;
  const whole = path.join(tmp, 'whole');
  const out = ok(train(['--method', 'labels-only', '--steps', '20', '--out', whole]), 'labels-only on every label');
  assert.match(out, /data: 12 labeled, 6 validation, 0 unlabeled images/);
  const ck = loadCheckpoint(path.join(whole, 'checkpoint.safetensors'));
  assert.equal(ck.loop.step, 20);
  assert.equal(ck.loop.samplers.unlabeled, undefined, 'a run without unlabeled images keeps no unlabeled sampler');

  const split = path.join(tmp, 'split');
  ok(train(['--method', 'labels-only', '--steps', '10', '--out', split]), 'first leg');
  ok(train(['--method', 'labels-only', '--steps', '20', '--out', split, '--resume']), 'resumed leg');
  assertSameRuns(whole, split);

  // The same split of the labels (every label but validation's) with the folder again as unlabeled images: labels-only
  // draws none of them, so the model is the same bytes.
  const beside = path.join(tmp, 'beside');
  const out2 = ok(train(['--method', 'labels-only', '--steps', '20', '--unlabeled', labeled, '--out', beside]), 'labels-only with unlabeled');
  assert.match(out2, /data: 12 labeled, 6 validation, 18 unlabeled images/);
  assert.ok(exportModel(whole).equals(exportModel(beside)), 'an unlabeled set labels-only never draws changed its model');
});

test('ssmae without unlabeled images says where to get them', async () => {
  await ready;
  const r = train(['--steps', '5', '--out', path.join(tmp, 'ssmae')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no unlabeled images: give --unlabeled DIR, or --labels-per-class N/);
  assert.match(r.stderr, /labels-only trains on the labels alone/);
});
