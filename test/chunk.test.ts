// train_chunk.onnx (K steps in one ONNX Loop) must take exactly the steps train_step.onnx takes one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, stackTensors } from '../src/runtime/tensor.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-chunk-'));

test('a Loop chunk of K = 3 steps equals 3 single steps (state, losses, pseudo-labels)', async () => {
  const K = 3;
  const dir = path.join(tmp, 'art');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, labeledBatch: 2, unlabeledBatch: 3, out: dir, stepsPerRun: K, graphs: ['train_step', 'train_chunk'] });
  const a = loadArtifacts(dir);
  const single = await Session.create(a.path('train_step.onnx'), { threads: 1 });
  const chunk = await Session.create(a.path('train_chunk.onnx'), { threads: 1 });
  const policy = { weight_decay: 0.05, clip_norm: 1, ema_decay: 0.9, gate_open: 1, tau: 0.2, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1 };
  const state0 = stateFeeds(a, ['p', 'm', 'v', 'ema']);
  const batches = [0, 1, 2].map((k) => batchFeeds(a, 10 + k));
  const lrs = [1e-3, 2e-3, 1.5e-3];
  // One at a time.
  let state: Record<string, HostTensor> = { ...state0 };
  const losses: number[] = [];
  const pseudo: bigint[] = [];
  for (let k = 0; k < K; k++) {
    const out = await single.run({ ...state, ...batches[k], ...policyFeeds(a, { ...policy, step: 5 + k + 1, lr: lrs[k] }) });
    for (const name of Object.keys(state)) state[name] = out[`new.${name}`];
    losses.push(Number(out.loss.data[0]));
    pseudo.push(...(out.pseudo_label.data as BigInt64Array));
  }
  // As one chunk: per-step inputs stacked on a leading K axis.
  const stack = (name: string): HostTensor => stackTensors(batches.map((b) => b[name]));
  const out = await chunk.run({
    ...state0, ...Object.fromEntries(Object.keys(batches[0]).map((n) => [n, stack(n)])),
    ...policyFeeds(a, { ...policy, step: 5 }), lr: hostTensor('float32', [K], Float32Array.from(lrs)),
  });
  await single.release();
  await chunk.release();
  assert.equal(Number(out['new.step'].data[0]), 5 + K);
  assert.deepEqual(Array.from(out.loss.data as Float32Array, (x) => +x.toPrecision(5)), losses.map((x) => +Math.fround(x).toPrecision(5)));
  assert.deepEqual(Array.from(out.pseudo_label.data as BigInt64Array), pseudo);
  let worst = 0;
  for (const name of Object.keys(state)) {
    const want = state[name].data as Float32Array;
    const got = out[`new.${name}`].data as Float32Array;
    const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]) / scale);
  }
  console.log(`train_chunk K=${K} vs ${K} single steps: worst relative state difference ${worst.toExponential(2)} (bound 1e-5)`);
  assert.ok(worst <= 1e-5, `state differs by ${worst}`);
});

test('training through train_chunk.onnx (K = 4) gives the same model as one step per run', async () => {
  const { spawnSync } = await import('node:child_process');
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  const common = ['--labeled', data, '--labels-per-class', '3', '--val-per-class', '2', '--steps', '12', '--eval-every', '8',
    '--checkpoint-every', '8', '--log-every', '4', '--warmup-steps', '3', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache')];
  for (const k of [1, 4]) {
    cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '2', '--batch-labeled', '2',
      '--batch-unlabeled', '4', '--steps-per-run', String(k), '--out', path.join(tmp, `art-k${k}`));
    cli('train', '--artifacts', path.join(tmp, `art-k${k}`), '--out', path.join(tmp, `run-k${k}`), ...common);
    cli('export-model', '--run', path.join(tmp, `run-k${k}`), '--out', path.join(tmp, `model-k${k}.onnx`));
  }
  assert.ok(fs.existsSync(path.join(tmp, 'art-k4', 'train_chunk.onnx')));
  assert.ok(fs.readFileSync(path.join(tmp, 'model-k1.onnx')).equals(fs.readFileSync(path.join(tmp, 'model-k4.onnx'))),
    'model.onnx differs between 1 and 4 steps per run');
  const rows = (k: number) => fs.readFileSync(path.join(tmp, `run-k${k}`, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l)).filter(([key]) => !key.startsWith('time/'))));
  assert.deepEqual(rows(4), rows(1));
});
