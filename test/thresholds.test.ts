// Per-class pseudo-label thresholds (src/algorithm/thresholds.ts) against answers worked by hand from the
// FlexMatch and FreeMatch update rules, and the graph's per-class selection against the thresholds it is fed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Thresholds } from '../src/algorithm/thresholds.js';
import { resolveConfig } from '../src/algorithm/config.js';
import { UsageError } from '../src/artifacts/files.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { readMetrics } from '../src/algorithm/metrics.js';
import { Session } from '../src/runtime/session.js';
import { hostTensor } from '../src/runtime/tensor.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-thresholds-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

const close = (got: number[], want: number[]) =>
  assert.ok(got.every((v, i) => Math.abs(v - want[i]) < 1e-12), `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
const labels = (...v: number[]) => BigInt64Array.from(v.map(BigInt));

test('fixed: τ for every class, whatever the teacher says', () => {
  const t = new Thresholds('fixed', 0.8, 3, 10, 0.99);
  t.update({ conf: [0.99, 0.1], label: labels(0, 1), index: [0, 1], meanProbs: [0.5, 0.3, 0.2] });
  assert.deepEqual(t.current(), [0.8, 0.8, 0.8]);
  assert.deepEqual(t.state(), {});
});

test('flexmatch: σ, warmup denominator and the convex mapping x / (2 − x), worked by hand', () => {
  // 10 unlabeled images, 3 classes, τ 0.9.
  const t = new Thresholds('flexmatch', 0.9, 3, 10, 0.99);
  // Nothing confident yet: σ = 0, β = 0 → thresholds 0 (FlexMatch's warmup starts from 0).
  assert.deepEqual(t.current(), [0, 0, 0]);
  // Step 1: images 0–3; confident (≥ 0.9): image 0 as class 0, image 1 as class 0, image 3 as class 1; image 2 not.
  t.update({ conf: [0.95, 0.9, 0.5, 0.99], label: labels(0, 0, 2, 1), index: [0, 1, 2, 3], meanProbs: [0, 0, 0] });
  // σ = [2, 1, 0], unused = 7 → denominator max(7, 2) = 7; β = [2/7, 1/7, 0]; T = 0.9·β/(2 − β).
  close(t.current(), [0.9 * (2 / 7) / (2 - 2 / 7), 0.9 * (1 / 7) / (2 - 1 / 7), 0]);
  // Step 2: image 3 again, now confidently class 2 (its last confident prediction replaces the first); images 4–9
  // confident as class 0, except 9 below τ.
  t.update({ conf: [0.97, 0.91, 0.92, 0.93, 0.94, 0.95, 0.2], label: labels(2, 0, 0, 0, 0, 0, 0), index: [3, 4, 5, 6, 7, 8, 9], meanProbs: [0, 0, 0] });
  // σ = [7, 0, 1] (images 0,1,4–8 → 0; 3 → 2), unused = 2 (images 2, 9) → denominator 7; β = [1, 0, 1/7].
  close(t.current(), [0.9, 0, 0.9 * (1 / 7) / (2 - 1 / 7)]);
  // The state restores the same thresholds.
  const again = new Thresholds('flexmatch', 0.9, 3, 10, 0.99, t.state());
  assert.deepEqual(again.current(), t.current());
  assert.throws(() => new Thresholds('flexmatch', 0.9, 3, 11, 0.99, t.state()), /holds 10 unlabeled images, this run has 11/);
});

test('freematch: EMA of the mean confidence times the max-normalized EMA of class probabilities, worked by hand', () => {
  const t = new Thresholds('freematch', 0.95, 2, 4, 0.9);
  // Start: τ = 1/K = 0.5, p̃ = [0.5, 0.5] → [0.5, 0.5].
  close(t.current(), [0.5, 0.5]);
  t.update({ conf: [0.9, 0.7], label: labels(0, 1), index: [0, 1], meanProbs: [0.8, 0.2] });
  // τ = 0.9·0.5 + 0.1·0.8 = 0.53; p̃ = [0.9·0.5 + 0.1·0.8, 0.9·0.5 + 0.1·0.2] = [0.53, 0.47].
  close(t.current(), [0.53, (0.47 / 0.53) * 0.53]);
  t.update({ conf: [1, 1], label: labels(0, 0), index: [2, 3], meanProbs: [1, 0] });
  // τ = 0.9·0.53 + 0.1 = 0.577; p̃ = [0.9·0.53 + 0.1, 0.9·0.47] = [0.577, 0.423].
  close(t.current(), [0.577, (0.423 / 0.577) * 0.577]);
  const again = new Thresholds('freematch', 0.95, 2, 4, 0.9, t.state());
  assert.deepEqual(again.current(), t.current());
});

test('--threshold and --threshold-momentum are validated', () => {
  const base = { artifacts: 'a', labeled: 'b', out: 'c' };
  assert.equal(resolveConfig(base).threshold, 'fixed');
  assert.throws(() => resolveConfig({ ...base, threshold: 'adaptive' }), (e: Error) => e instanceof UsageError && /--threshold must be one of fixed, flexmatch, freematch/.test(e.message));
  assert.throws(() => resolveConfig({ ...base, thresholdMomentum: 1 }), (e: Error) => e instanceof UsageError && /--threshold-momentum must be in \[0, 1\)/.test(e.message));
});

test('train_step.onnx selects a pseudo-label of class c where its confidence ≥ tau[c]', async () => {
  const dir = path.join(tmp, 'art');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, labeledBatch: 2, unlabeledBatch: 8, out: dir, graphs: ['train_step'] });
  const a = loadArtifacts(dir);
  const s = await Session.create(a.path('train_step.onnx'), { threads: 1 });
  const feeds = { ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 6), ...policyFeeds(a, { weight_decay: 0, clip_norm: 1, ema_decay: 0.9, gate_open: 1, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1, step: 1, lr: 1e-3 }) };
  const run = async (tau: number[]) => {
    const out = await s.run({ ...feeds, tau: hostTensor('float32', [3], Float32Array.from(tau)) });
    return { label: Array.from(out.pseudo_label.data as BigInt64Array, Number), conf: Array.from(out.pseudo_conf.data as Float32Array), weight: Array.from(out.pseudo_weight.data as Float32Array) };
  };
  const base = await run([0, 0, 0]);
  assert.ok(base.weight.every((w) => w === 1));
  // Class by class: only class c's threshold is reachable; then a threshold between the confidences of one class.
  for (let c = 0; c < 3; c++) {
    const r = await run([0, 1, 2].map((k) => (k === c ? 0 : 1.5)));
    assert.deepEqual(r.weight, base.label.map((l) => (l === c ? 1 : 0)));
  }
  const sorted = [...base.conf].sort((x, y) => x - y);
  const cut = (sorted[3] + sorted[4]) / 2;
  const r = await run([cut, cut, cut]);
  assert.deepEqual(r.weight, base.conf.map((v) => (v >= cut ? 1 : 0)));
  await s.release();
});

test('train --threshold flexmatch: thresholds in the metrics, their state in the checkpoint', async () => {
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const art = path.join(tmp, 'art-cli');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4, out: art });
  const out = path.join(tmp, 'run');
  const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', art, '--labeled', data, '--labels-per-class', '3',
    '--val-per-class', '2', '--steps', '6', '--eval-every', '3', '--log-every', '3', '--threads', '1', '--method', 'no-gate',
    '--threshold', 'flexmatch', '--tau', '0.5', '--quiet', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const loop = loadCheckpoint(path.join(out, 'checkpoint.safetensors')).loop;
  const selected = loop.thresholds!.selected!;
  assert.equal(selected.length, 14, '24 images − 6 labeled − 4 validation = 14 unlabeled');
  const rows = readMetrics(out);
  const last = rows.at(-1)!['train/tau_mean'] as number;
  const t = new Thresholds('flexmatch', 0.5, 2, 14, 0.99, loop.thresholds);
  assert.equal(last, t.current().reduce((x, y) => x + y, 0) / 2, 'the logged mean threshold is the checkpoint\'s');
});
