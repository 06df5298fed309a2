// train_chunk.onnx and supervised_chunk.onnx (K steps in one ONNX Loop) must take exactly the steps train_step.onnx
// and supervised_step.onnx take one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { STAT_OUTPUTS } from '../src/models/step.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor, stackTensors } from '../src/runtime/tensor.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-chunk-'));

/** Largest |want − got| over every state tensor, each relative to that tensor's largest |want|. */
function worstRelative(want: Record<string, HostTensor>, got: (name: string) => HostTensor): number {
  let worst = 0;
  for (const name of Object.keys(want)) {
    const w = want[name].data as Float32Array;
    const g = got(name).data as Float32Array;
    const scale = Math.max(1e-6, ...Array.from(w, Math.abs));
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - g[i]) / scale);
  }
  return worst;
}

/** K = 3 steps of train_chunk.onnx against 3 of train_step.onnx; `strongCapacity` exports both with that capacity. */
async function chunkAgainstSingles(strongCapacity?: number): Promise<void> {
  const K = 3;
  const dir = path.join(tmp, `art-cap${strongCapacity ?? 'all'}`);
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, labeledBatch: 2, unlabeledBatch: 3, strongCapacity, out: dir, stepsPerRun: K, graphs: ['train_step', 'train_chunk'] });
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
  const worst = worstRelative(state, (name) => out[`new.${name}`]);
  console.log(`train_chunk K=${K} vs ${K} single steps (strong capacity ${strongCapacity ?? 'all'}): worst relative state difference ${worst.toExponential(2)} (bound 1e-5)`);
  assert.ok(worst <= 1e-5, `state differs by ${worst}`);
}

test('a Loop chunk of K = 3 steps equals 3 single steps (state, losses, pseudo-labels)', () => chunkAgainstSingles());
test('with --strong-capacity 2 of 3 too', () => chunkAgainstSingles(2));

test('a supervised Loop chunk of K = 3 steps equals 3 single steps of supervised_step.onnx (state, statistics)', async () => {
  const K = 3;
  const dir = path.join(tmp, 'art-supervised');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, labeledBatch: 4, unlabeledBatch: 1, out: dir, stepsPerRun: K, graphs: ['supervised_step', 'supervised_chunk'] });
  const a = loadArtifacts(dir);
  const single = await Session.create(a.path('supervised_step.onnx'), { threads: 1 });
  const chunk = await Session.create(a.path('supervised_chunk.onnx'), { threads: 1 });
  const hyper = (step: number) => Object.fromEntries(Object.entries({ weight_decay: 0.05, clip_norm: 1, ema_decay: 0.9, label_smoothing: 0, step })
    .map(([n, v]) => [n, scalarTensor('float32', v)]));
  // The classifier's state only: neither graph reads the MAE decoder.
  const state0 = Object.fromEntries(Object.entries(stateFeeds(a, ['p', 'm', 'v', 'ema'])).filter(([n]) => single.inputNames.includes(n)));
  assert.ok(Object.keys(state0).length > 0 && Object.keys(state0).every((n) => chunk.inputNames.includes(n) && !n.includes('.dec.')));
  const batches = [0, 1, 2].map((k) => {
    const b = batchFeeds(a, 20 + k);
    return { images_labeled: b.images_labeled, labels: b.labels, labels_mix: b.labels_mix, mix_weight: b.mix_weight };
  });
  const lrs = [1e-3, 2e-3, 1.5e-3];
  // One at a time.
  const state: Record<string, HostTensor> = { ...state0 };
  const stats: Record<string, number[]> = Object.fromEntries(STAT_OUTPUTS.map((n) => [n, []]));
  for (let k = 0; k < K; k++) {
    const out = await single.run({ ...state, ...batches[k], ...hyper(5 + k + 1), lr: scalarTensor('float32', lrs[k]) });
    for (const name of Object.keys(state)) state[name] = out[`new.${name}`];
    for (const n of STAT_OUTPUTS) stats[n].push(Number(out[n].data[0]));
  }
  // As one chunk.
  const out = await chunk.run({
    ...state0, images_labeled: stackTensors(batches.map((b) => b.images_labeled)), labels: stackTensors(batches.map((b) => b.labels)),
    labels_mix: stackTensors(batches.map((b) => b.labels_mix)), mix_weight: stackTensors(batches.map((b) => b.mix_weight)),
    ...hyper(5), lr: hostTensor('float32', [K], Float32Array.from(lrs)),
  });
  await single.release();
  await chunk.release();
  assert.equal(Number(out['new.step'].data[0]), 5 + K);
  // Bound 1e-6 relative to each tensor's largest value, ~8 float32 ulps: the same kernels on the same inputs agree
  // exactly on the CPU (0 measured), and the bound leaves room only for a kernel that sums in another order inside a
  // Loop body; a step taken twice, skipped or at the wrong lr or step count moves the state by ~1e-3 or more.
  for (const n of STAT_OUTPUTS) {
    const got = Array.from(out[n].data as Float32Array);
    got.forEach((x, k) => assert.ok(Math.abs(x - stats[n][k]) <= 1e-6 * Math.max(1, Math.abs(stats[n][k])), `${n} of step ${k + 1}: ${x}, single step ${stats[n][k]}`));
  }
  const worst = worstRelative(state, (name) => out[`new.${name}`]);
  const moved = worstRelative(Object.fromEntries(Object.entries(state).filter(([n]) => n.startsWith('p.'))), (name) => state0[name]);
  console.log(`supervised_chunk K=${K} vs ${K} single steps: worst relative state difference ${worst.toExponential(2)} (bound 1e-6; the steps moved the parameters by ${moved.toExponential(2)})`);
  assert.ok(moved > 1e-3, 'the optimizer did not move the parameters');
  assert.ok(worst <= 1e-6, `state differs by ${worst}`);
});

test('training through train_chunk.onnx (K = 4) gives the same model as one step per run (EMA teacher; student teacher)', async () => {
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
  }
  assert.ok(fs.existsSync(path.join(tmp, 'art-k4', 'train_chunk.onnx')));
  // The student as its own teacher, with every unlabeled image pseudo-labeled from step 1 (τ 0, no gate): inside a
  // chunk each step's teacher must be the student as the previous step left it, as it is with one step per run.
  const teachers = { ema: [], student: ['--teacher', 'student', '--method', 'no-gate', '--tau', '0'] };
  for (const [teacher, flags] of Object.entries(teachers)) {
    const run = (k: number) => path.join(tmp, `run-${teacher}-k${k}`);
    const model = (k: number) => path.join(tmp, `model-${teacher}-k${k}.onnx`);
    for (const k of [1, 4]) {
      cli('train', '--artifacts', path.join(tmp, `art-k${k}`), '--out', run(k), ...common, ...flags);
      cli('export-model', '--run', run(k), '--out', model(k));
    }
    assert.ok(fs.readFileSync(model(1)).equals(fs.readFileSync(model(4))), `${teacher} teacher: model.onnx differs between 1 and 4 steps per run`);
    const rows = (k: number) => fs.readFileSync(path.join(run(k), 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => Object.fromEntries(Object.entries(JSON.parse(l)).filter(([key]) => !key.startsWith('time/'))));
    assert.deepEqual(rows(4), rows(1), `${teacher} teacher: metrics differ`);
    if (teacher === 'student') assert.ok(rows(1).some((r) => (r['train/pseudo_mask_rate'] as number) > 0), 'no pseudo-labels were used');
  }
});
