// export --layer-norm: the graphs compute layer normalization as ten standard nodes (the default) or as the one ONNX
// LayerNormalization op; the same mathematics. In float64 the two forms' full training steps (three forward passes,
// their gradients, AdamW and the EMA) must agree to float64 rounding (bound 1e-8 relative to each output's largest value; float32 would be ~1e-6), and the node inventory must say which form each has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { allNodes, decodeModel } from '../src/graph/serialize.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor } from '../src/runtime/tensor.js';
import { batchFeeds, pickFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-ln-form-'));

test('decomposed and ONNX-op layer normalization give the same float64 training step', async () => {
  const outs: Record<string, Record<string, HostTensor>> = {};
  for (const form of ['decomposed', 'onnx'] as const) {
    const dir = path.join(tmp, form);
    exportArtifacts({ preset: 'vit-micro-d2-p4', imageSize: 8, channels: 3, classes: 3, dtype: 'float64', labeledBatch: 2,
      unlabeledBatch: 3, out: dir, graphs: ['train_step'], build: { erfStandIn: true, layerNorm: form } });
    const ops = allNodes(decodeModel(fs.readFileSync(path.join(dir, 'train_step.onnx'))).graph!).map((n) => n.opType!);
    const lnOps = ops.filter((op) => op === 'LayerNormalization').length;
    // 2 encoder blocks × 2 norms + the encoder's final norm, in 3 passes (classify, teacher, MAE encoder), and the
    // decoder's block and final norm: the ONNX form has them all as ops, the decomposed form none.
    if (form === 'onnx') assert.ok(lnOps >= 15, `only ${lnOps} LayerNormalization nodes`);
    else assert.equal(lnOps, 0);
    const a = loadArtifacts(dir);
    const s = await Session.create(a.path('train_step.onnx'), { threads: 1 });
    const feeds = { ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 4),
      ...policyFeeds(a, { weight_decay: 0.05, clip_norm: 1, ema_decay: 0.9, step: 3, lr: 1e-3, gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 0.7 }) };
    outs[form] = await s.run(pickFeeds(s, feeds));
    await s.release();
  }
  let worst = 0;
  let moved = 0;
  for (const [name, t] of Object.entries(outs.onnx)) {
    if (!(t.data instanceof Float64Array)) {
      assert.deepEqual(outs.decomposed[name].data, t.data, `${name} differs`); // pseudo-labels, counts
      continue;
    }
    const x = t.data;
    const y = outs.decomposed[name].data as Float64Array;
    const scale = Math.max(1e-30, ...Array.from(x, Math.abs));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
    if (name.startsWith('new.m.')) moved = Math.max(moved, scale);
  }
  console.log(`train_step, float64, decomposed vs ONNX LayerNormalization: worst relative difference ${worst.toExponential(2)} over ${Object.keys(outs.onnx).length} outputs`);
  assert.ok(moved > 0, 'the step moved the first moments');
  assert.ok(worst <= 1e-8, `the two forms differ by ${worst}`);
});
