// pseudo_step.onnx (joint steps with the gate open when --lambda-rec is 0) must take the step train_step.onnx takes
// with lambda_rec = 0, where the MAE's forward and backward passes only feed a term weighted 0 — bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { readMetrics } from '../src/algorithm/metrics.js';
import { Session } from '../src/runtime/session.js';
import { batchFeeds, pickFeeds as pick, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-pseudo-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const POLICY = { weight_decay: 0.05, clip_norm: 1, ema_decay: 0.9, gate_open: 1, tau: 0.2, agree: 0, lambda_rec: 0, lambda_l: 0.8, lambda_u: 1.5, label_smoothing: 0.1, step: 3, lr: 1e-3 };

for (const dtype of ['float64', 'float32'] as const) {
  test(`pseudo_step.onnx equals train_step.onnx with lambda_rec = 0 (${dtype}; state, EMA, statistics, pseudo-labels)`, async () => {
    const dir = path.join(tmp, `art-${dtype}`);
    exportArtifacts({
      preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, dtype, labeledBatch: 2, unlabeledBatch: 3, out: dir,
      graphs: ['train_step', 'pseudo_step'], build: { erfStandIn: dtype === 'float64' },
    });
    const a = loadArtifacts(dir);
    const full = await Session.create(a.path('train_step.onnx'), { threads: 1 });
    const pseudo = await Session.create(a.path('pseudo_step.onnx'), { threads: 1 });
    for (const name of ['ids_keep', 'ids_restore', 'mask', 'lambda_rec']) assert.ok(!pseudo.inputNames.includes(name), `pseudo_step takes no ${name}`);
    // The decoder gets a zero gradient in both graphs; its AdamW update (weight decay) must still be the same.
    const feeds = { ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 7), ...policyFeeds(a, POLICY) };
    const want = await full.run(pick(full, feeds));
    const got = await pseudo.run(pick(pseudo, feeds));
    await full.release();
    await pseudo.release();
    assert.ok(Number(want.rec_loss.data[0]) > 0, 'train_step computed a reconstruction loss (weighted 0)');
    assert.equal(Number(got.rec_loss.data[0]), 0, 'pseudo_step reports no reconstruction');
    assert.ok(Number(got.pseudo_mask_rate.data[0]) > 0 && Number(got.ce_pseudo.data[0]) > 0, 'pseudo-labels were used: the test covers their term');
    let compared = 0;
    let differing: string[] = [];
    for (const [name, t] of Object.entries(want)) {
      if (name === 'rec_loss') continue;
      compared++;
      const x = t.data;
      const y = got[name].data;
      assert.equal(y.length, x.length, name);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { differing.push(name); break; }
    }
    assert.equal(compared, Object.keys(got).length - 1, 'every output compared');
    assert.ok(compared > 4 * a.manifest.parameters.length, 'the decoder\'s state is among the outputs');
    console.log(`pseudo_step vs train_step (lambda_rec 0), ${dtype}: ${compared} outputs, ${differing.length} not bit-identical`);
    assert.deepEqual(differing, [], `not bit-identical: ${differing.join(', ')}`);
  });
}

test('train --lambda-rec 0 runs open joint steps on pseudo_step.onnx and trains bit-identically to train_step.onnx', async () => {
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const shape = { preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4 };
  const withGraph = exportArtifacts({ ...shape, out: path.join(tmp, 'art-with') });
  assert.ok(withGraph.graphs.pseudo_step, 'export writes pseudo_step.onnx by default');
  exportArtifacts({ ...shape, out: path.join(tmp, 'art-without'), graphs: ['train_step', 'supervised_step', 'gate_closed_step', 'eval'] });
  const run = (kind: string) => {
    const out = path.join(tmp, `run-${kind}`);
    // no-gate: pseudo-labels from the first joint step on; --labeled-steps 1 mixes in steps on the labels.
    const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', path.join(tmp, `art-${kind}`), '--labeled', data,
      '--labels-per-class', '3', '--val-per-class', '2', '--method', 'no-gate', '--lambda-rec', '0', '--tau', '0.3',
      '--labeled-steps', '1', '--steps', '12', '--eval-every', '4', '--log-every', '1', '--warmup-steps', '2',
      '--threads', '1', '--quiet', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return out;
  };
  const withRun = run('with');
  const withoutRun = run('without');
  const a = loadCheckpoint(path.join(withRun, 'checkpoint.safetensors')).model;
  const b = loadCheckpoint(path.join(withoutRun, 'checkpoint.safetensors')).model;
  let differing = 0;
  let tensors = 0;
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, x] of a[kind]) {
      tensors++;
      const y = b[kind].get(name)!;
      if (x.some((v, i) => v !== y[i])) differing++;
    }
  }
  assert.ok(tensors > 0);
  assert.equal(differing, 0, `${differing} of ${tensors} state tensors differ after 12 steps`);
  const rows = (dir: string) => readMetrics(dir).filter((r) => Number(r.step) % 2 === 1); // the joint steps
  const withRows = rows(withRun);
  const withoutRows = rows(withoutRun);
  assert.equal(withRows.length, 6);
  assert.ok(withRows.every((r) => r['train/rec_loss'] === null), 'the joint steps ran pseudo_step (no reconstruction computed, none logged)');
  assert.ok(withoutRows.every((r) => Number(r['train/rec_loss']) > 0), 'without it, train_step computed the reconstruction');
  assert.ok(withRows.some((r) => Number(r['train/pseudo_mask_rate']) > 0), 'pseudo-labels were used');
  assert.deepEqual(withRows.map((r) => r['train/loss']), withoutRows.map((r) => r['train/loss']));
});
