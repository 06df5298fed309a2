// The CPU benchmarks (make bench) feed train_step.onnx from bench/step-feeds.ts. Every input a step graph gains must
// reach those feeds, or make bench fails before its first timing (it once did, for label_smoothing); graphs of earlier
// versions, the "before" side of the comparison, must get what they take: τ as one scalar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Graph } from '../src/graph/builder.js';
import { serialize } from '../src/graph/serialize.js';
import { Session } from '../src/runtime/session.js';
import { feedsFor, stepFeeds } from '../bench/step-feeds.js';

const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-bench-feeds-')), 'art');
exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, dtype: 'float32', labeledBatch: 2, unlabeledBatch: 3, out: dir, graphs: ['train_step'] });

test('bench step feeds cover every input of train_step.onnx, and the step runs on them', async () => {
  const a = loadArtifacts(dir);
  const s = await Session.create(a.path('train_step.onnx'), { threads: 1 });
  const feeds = feedsFor(s, stepFeeds(a));
  const missing = s.inputNames.filter((n) => feeds[n] === undefined);
  assert.deepEqual(missing, [], 'inputs without a feed');
  assert.deepEqual(feeds.tau.dims, [3], 'τ per class');
  const out = await s.run(feeds);
  await s.release();
  const loss = Number(out.loss.data[0]);
  assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  // τ 0: every unlabeled image gets a pseudo-label, so the mask rate is exactly 1.
  assert.equal(Number(out.pseudo_mask_rate.data[0]), 1);
});

test('bench feeds give a graph with a scalar τ input a scalar, and only the inputs it declares', async () => {
  const g = new Graph('old_step');
  g.output(g.identity(g.input('tau', 'float32', [])), 'tau_out');
  const s = await Session.create(serialize(g), { threads: 1 });
  assert.deepEqual(s.inputShape('tau'), []);
  const feeds = feedsFor(s, stepFeeds(loadArtifacts(dir)));
  assert.deepEqual(Object.keys(feeds), ['tau']);
  assert.deepEqual(feeds.tau.dims, []);
  const out = await s.run(feeds);
  await s.release();
  assert.equal(Number(out.tau_out.data[0]), 0);
});
