// gate_closed_step.onnx and gate_closed_chunk.onnx (compute skipping while the gate is closed) must take the step
// train_step.onnx takes with gate_open = 0, where the teacher and the strong views only feed terms weighted 0 — bit for bit
// at these shapes with one thread (docs/BENCHMARKS.md says where larger shapes were measured).
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
import { STAT_OUTPUTS } from '../src/models/step.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, stackTensors } from '../src/runtime/tensor.js';
import { batchFeeds, pickFeeds as pick, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-closed-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const POLICY = { weight_decay: 0.05, clip_norm: 1, ema_decay: 0.9, gate_open: 0, tau: 0.2, agree: 0, lambda_rec: 1, lambda_l: 0.8, lambda_u: 1, label_smoothing: 0.1, step: 3, lr: 1e-3 };

/** Worst |a − b| over every output of `a` that `b` has, each relative to that output's largest |a|; and whether all are equal. */
function compare(a: Record<string, HostTensor>, b: Record<string, HostTensor>): { worst: number; identical: boolean; compared: number } {
  let worst = 0;
  let identical = true;
  let compared = 0;
  for (const [name, t] of Object.entries(a)) {
    if (!(name in b) || typeof t.data[0] !== 'number') continue;
    compared++;
    const x = t.data as Float64Array;
    const y = b[name].data as Float64Array;
    const scale = Math.max(1e-12, ...Array.from(x, Math.abs));
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) identical = false;
      worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
    }
  }
  return { worst, identical, compared };
}

for (const dtype of ['float64', 'float32'] as const) {
  test(`gate_closed_step.onnx equals train_step.onnx with gate_open = 0 (${dtype}; state, EMA and statistics)`, async () => {
    const dir = path.join(tmp, `art-${dtype}`);
    exportArtifacts({
      preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, dtype, labeledBatch: 2, unlabeledBatch: 3, out: dir,
      graphs: ['train_step', 'gate_closed_step'], build: { erfStandIn: dtype === 'float64' },
    });
    const a = loadArtifacts(dir);
    const full = await Session.create(a.path('train_step.onnx'), { threads: 1 });
    const closed = await Session.create(a.path('gate_closed_step.onnx'), { threads: 1 });
    assert.ok(!closed.inputNames.includes('images_strong') && !closed.inputNames.includes('tau'), 'no strong views, no selection policy');
    const feeds = { ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 4), ...policyFeeds(a, POLICY) };
    const want = await full.run(pick(full, feeds));
    const got = await closed.run(pick(closed, feeds));
    await full.release();
    await closed.release();
    assert.equal(Number(got.ce_pseudo.data[0]), 0);
    assert.equal(Number(got.pseudo_mask_rate.data[0]), 0);
    assert.ok(Number(want.loss.data[0]) > 0 && Number(got.rec_loss.data[0]) > 0);
    const r = compare(want, got);
    assert.equal(r.compared, 4 * a.manifest.parameters.length + STAT_OUTPUTS.length, 'every state tensor and statistic compared');
    console.log(`gate_closed_step vs train_step (gate_open 0), ${dtype}: worst relative difference ${r.worst.toExponential(2)}, ` +
      `bit-identical: ${r.identical} (${r.compared} outputs)`);
    assert.ok(r.identical, `not bit-identical: worst relative difference ${r.worst}`);
  });
}

test('a gate_closed_chunk.onnx chunk of K = 2 equals 2 steps of gate_closed_step.onnx', async () => {
  const K = 2;
  const dir = path.join(tmp, 'art-chunk');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, labeledBatch: 2, unlabeledBatch: 3, out: dir, stepsPerRun: K, graphs: ['gate_closed_step', 'gate_closed_chunk'] });
  const a = loadArtifacts(dir);
  const single = await Session.create(a.path('gate_closed_step.onnx'), { threads: 1 });
  const chunk = await Session.create(a.path('gate_closed_chunk.onnx'), { threads: 1 });
  const state0 = stateFeeds(a, ['p', 'm', 'v', 'ema']);
  const batches = [0, 1].map((k) => batchFeeds(a, 20 + k));
  const lrs = [1e-3, 2e-3];
  let state: Record<string, HostTensor> = { ...state0 };
  const losses: number[] = [];
  for (let k = 0; k < K; k++) {
    const out = await single.run(pick(single, { ...state, ...batches[k], ...policyFeeds(a, { ...POLICY, step: 5 + k + 1, lr: lrs[k] }) }));
    for (const name of Object.keys(state)) state[name] = out[`new.${name}`];
    losses.push(Number(out.loss.data[0]));
  }
  const stacked = Object.fromEntries(Object.keys(batches[0]).map((n) => [n, stackTensors(batches.map((b) => b[n]))]));
  const out = await chunk.run(pick(chunk, { ...state0, ...stacked, ...policyFeeds(a, { ...POLICY, step: 5 }), lr: hostTensor('float32', [K], Float32Array.from(lrs)) }));
  await single.release();
  await chunk.release();
  assert.deepEqual(Array.from(out.loss.data as Float32Array, (x) => +x.toPrecision(5)), losses.map((x) => +Math.fround(x).toPrecision(5)));
  const r = compare(state, Object.fromEntries(Object.keys(state).map((n) => [n, out[`new.${n}`]])));
  assert.ok(r.worst <= 1e-5, `state differs by ${r.worst}`);
});

test('train --skip-closed (default) and --no-skip-closed train bit-identical models while the gate stays closed', async () => {
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const art = path.join(tmp, 'art-cli');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4, out: art });
  const run = (name: string, ...extra: string[]) => {
    const out = path.join(tmp, name);
    const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', art, '--labeled', data, '--labels-per-class', '3',
      '--val-per-class', '2', '--steps', '12', '--eval-every', '4', '--log-every', '4', '--warmup-steps', '2', '--threads', '1',
      '--gate-min-step', '1000', '--quiet', '--out', out, ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return out;
  };
  const skip = run('skip');
  const full = run('full', '--no-skip-closed');
  const a = loadCheckpoint(path.join(skip, 'checkpoint.safetensors')).model;
  const b = loadCheckpoint(path.join(full, 'checkpoint.safetensors')).model;
  let worst = 0;
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, x] of a[kind]) {
      const y = b[kind].get(name)!;
      const scale = Math.max(1e-6, ...Array.from(x, Math.abs));
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
    }
  }
  assert.equal(worst, 0, `12 steps with the gate closed: --skip-closed and --no-skip-closed states differ by ${worst} (relative)`);
  const losses = (dir: string) => readMetrics(dir).map((r) => +(r['train/loss'] as number).toPrecision(4));
  assert.deepEqual(losses(skip), losses(full));
});
