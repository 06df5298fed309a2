// With --lambda-rec 0, a joint step whose gate is closed is the labeled cross-entropy alone (reconstruction weighted
// 0, pseudo-labels off), so the trainer runs it on supervised_step.onnx and draws no unlabeled images. Known answer:
// until its gate opens, such a gated run trains exactly as labels-only does, bit for bit, and opens onto
// pseudo_step.onnx afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { readMetrics } from '../src/algorithm/metrics.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-closed-labels-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

function train(art: string, data: string, name: string, extra: string[]): string {
  const out = path.join(tmp, name);
  const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', art, '--labeled', data, '--labels-per-class', '3',
    '--val-per-class', '2', '--steps', '12', '--eval-every', '4', '--log-every', '1', '--warmup-steps', '2', '--threads', '1',
    '--label-smoothing', '0.1', '--quiet', '--out', out, ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

function differing(a: string, b: string): { tensors: number; differ: string[] } {
  const x = loadCheckpoint(path.join(a, 'checkpoint.safetensors')).model;
  const y = loadCheckpoint(path.join(b, 'checkpoint.safetensors')).model;
  let tensors = 0;
  const differ: string[] = [];
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, t] of x[kind]) {
      tensors++;
      const u = y[kind].get(name)!;
      if (t.length !== u.length || t.some((v, i) => v !== u[i])) differ.push(`${kind}.${name}`);
    }
  }
  return { tensors, differ };
}

test('train --lambda-rec 0: closed joint steps run on the labels alone, exactly as labels-only trains', async () => {
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const art = path.join(tmp, 'art');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4, out: art });
  const labelsOnly = train(art, data, 'labels-only', ['--method', 'labels-only']);
  // the gate cannot open before step 1,000: every one of the 12 joint steps is closed
  const closed = train(art, data, 'closed', ['--lambda-rec', '0', '--gate-min-step', '1000']);
  const same = differing(closed, labelsOnly);
  assert.ok(same.tensors > 100, 'the whole state is compared (parameters, moments, EMA, decoder included)');
  assert.deepEqual(same.differ, [], `closed SSMAE steps with λrec 0 differ from labels-only in ${same.differ.length} of ${same.tensors} tensors`);
  const rows = readMetrics(closed);
  assert.equal(rows.length, 12);
  assert.ok(rows.every((r) => r['train/rec_loss'] === null), 'no reconstruction computed, none logged');
  assert.deepEqual(rows.map((r) => r['train/loss']), readMetrics(labelsOnly).map((r) => r['train/loss']));
  // With the reconstruction on, the closed steps are gate_closed_step.onnx's: another training.
  const withRec = train(art, data, 'closed-rec', ['--lambda-rec', '1', '--gate-min-step', '1000']);
  assert.ok(differing(withRec, labelsOnly).differ.length > 0, 'λrec 1 trains the reconstruction too');
  assert.ok(readMetrics(withRec).every((r) => Number(r['train/rec_loss']) > 0));
});

test('train --lambda-rec 0: once the gate opens, joint steps train on pseudo-labels again', async () => {
  const data = path.join(tmp, 'labeled');
  const art = path.join(tmp, 'art');
  const out = train(art, data, 'opens', ['--lambda-rec', '0', '--gate-metric', 'acc', '--gate-threshold', '0', '--tau', '0.3']);
  const gate = fs.readFileSync(path.join(out, 'gate.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(gate[0].step, 4);
  assert.equal(gate[0].open, true, 'the gate opened at the first evaluation');
  const rows = readMetrics(out);
  const before = rows.filter((r) => Number(r.step) <= 4);
  const after = rows.filter((r) => Number(r.step) > 4);
  assert.ok(before.every((r) => Number(r['train/pseudo_mask_rate']) === 0));
  assert.ok(after.some((r) => Number(r['train/pseudo_mask_rate']) > 0), 'pseudo-labels used after the opening');
  const labelsOnly = differing(out, path.join(tmp, 'labels-only'));
  assert.ok(labelsOnly.differ.length > 0, 'after the opening the run is no longer labels-only');
});
