// --labeled-steps N: after each joint step, N steps on the labels alone (supervised_step.onnx). The schedule is a pure
// function of the step, the supervised steps leave the MAE decoder bitwise alone, the log figures of the joint terms
// average over joint steps only, the gate still decides at every evaluation, and a run resumed in the middle of the
// pattern is byte-identical to one that ran straight through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { resolveConfig } from '../src/algorithm/config.js';
import { IntervalStats, Row, readGateLog, readMetrics } from '../src/algorithm/metrics.js';
import { phaseOf } from '../src/algorithm/schedule.js';
import { Sampler } from '../src/data/sampler.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-labeled-steps-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const ready = (async () => {
  await writeTopBottomFolder(labeled);
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4, out: art,
    graphs: ['train_step', 'supervised_step', 'eval'] });
})();

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stderr;
}

/** no-gate with τ 0: every joint step pseudo-labels all 4 unlabeled images, so its figures are known. */
const trainN = (n: number, out: string, ...extra: string[]) => cli('train', '--artifacts', art, '--labeled', labeled,
  '--labels-per-class', '4', '--val-per-class', '2', '--method', 'no-gate', '--tau', '0', '--labeled-steps', String(n),
  '--log-every', '1', '--eval-every', '1', '--checkpoint-every', '100', '--threads', '1', '--quiet',
  '--cache-dir', path.join(tmp, 'cache'), '--out', out, ...extra);
const train = (out: string, ...extra: string[]) => trainN(2, out, ...extra);

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const checkpointOf = (run: string) => loadCheckpoint(path.join(run, 'checkpoint.safetensors'));
const noTime = (rows: Row[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('time/'))));

test('the schedule: N supervised steps after each joint step for ssmae and no-gate; no effect on methods without joint steps', () => {
  const base = { artifacts: 'a', labeled: 'l', out: 'o' };
  const c = resolveConfig({ ...base, labeledSteps: 2 });
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((t) => phaseOf(c, t)),
    ['joint', 'supervised', 'supervised', 'joint', 'supervised', 'supervised', 'joint']);
  assert.ok([1, 2, 3].every((t) => phaseOf(resolveConfig(base), t) === 'joint'), 'the default is every step joint');
  // Without joint steps it changes nothing, so one recipe serves every method of a comparison.
  const lo = resolveConfig({ ...base, method: 'labels-only', labeledSteps: 3 });
  assert.ok([1, 2, 3, 4, 5].every((t) => phaseOf(lo, t) === 'supervised'));
  const mf = resolveConfig({ ...base, method: 'mae-finetune', steps: 4, labeledSteps: 3 });
  assert.deepEqual([1, 2, 3, 4].map((t) => phaseOf(mf, t)), ['reconstruct', 'reconstruct', 'supervised', 'supervised']);
  assert.throws(() => resolveConfig({ ...base, labeledSteps: 1.5 }), /--labeled-steps must be an integer ≥ 0, got 1.5/);
});

test('interval means: a figure averages over the steps that reported it; older checkpoints restore as every step reporting all', () => {
  const s = new IntervalStats();
  const none = new BigInt64Array(0);
  s.add({ loss: 3, rec_loss: 1, pseudo_mask_rate: 0.5 }, none, [], new Int32Array(0), 6);
  s.add({ loss: 2 }, none, [], new Int32Array(0), 2);
  s.add({ loss: 1 }, none, [], new Int32Array(0), 2);
  const r = s.row(3, 0, null, true);
  assert.equal(r['train/loss'], 2);
  assert.equal(r['train/rec_loss'], 1);
  assert.equal(r['train/pseudo_mask_rate'], 0.5);
  assert.equal(r['train/ce_pseudo'], null, 'a figure no step reported');
  const old = new IntervalStats();
  old.restore({ sums: { loss: 4, rec_loss: 2 }, steps: 2, precHit: 0, precN: 0, images: 12 });
  const o = old.row(2, 0, null, false);
  assert.equal(o['train/loss'], 2);
  assert.equal(o['train/rec_loss'], 1);
});

test('--labeled-steps 2: joint steps 1, 4, 7 reconstruct and pseudo-label; steps between train on the labels and leave the decoder alone', async () => {
  await ready;
  const run = path.join(tmp, 'split');
  ok(train(run, '--steps', '1'), 'train 1 step');
  const one = checkpointOf(run);
  ok(train(run, '--steps', '3', '--resume'), 'resume to step 3');
  const three = checkpointOf(run);
  // Steps 2 and 3 ran supervised_step.onnx: the decoder's weights and moments are those step 1 left.
  for (const name of ['dec.pred.weight', 'dec.pred.bias']) {
    for (const kind of ['p', 'm', 'v'] as const) {
      assert.ok(bytes(three.model[kind].get(name)!).equals(bytes(one.model[kind].get(name)!)), `${kind}.${name} changed in a supervised step`);
    }
  }
  const moved = (name: string) => three.model.p.get(name)!.some((x, i) => x !== one.model.p.get(name)![i]);
  assert.ok(moved('head.weight') && moved('embed.weight'), 'the supervised steps did not train the classifier');

  ok(train(run, '--steps', '7', '--resume'), 'resume to step 7');
  const rows = readMetrics(run);
  assert.deepEqual(rows.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7]);
  for (const r of rows) {
    const joint = (r.step - 1) % 3 === 0;
    const perStep = (r['time/images_per_s'] as number) * (r['time/step_ms'] as number) / 1000;
    assert.ok(Math.abs(perStep - (joint ? 6 : 2)) < 1e-6, `step ${r.step}: ${perStep} images per step`);
    if (joint) {
      assert.ok((r['train/rec_loss'] as number) > 0, `step ${r.step}: no reconstruction`);
      assert.equal(r['train/pseudo_mask_rate'], 1, `step ${r.step}: τ 0 pseudo-labels every unlabeled image`);
    } else {
      assert.equal(r['train/rec_loss'], null, `step ${r.step}: a supervised step reported a reconstruction loss`);
      assert.equal(r['train/pseudo_mask_rate'], null);
      assert.equal(r['train/loss'], r['train/ce_labeled'], `step ${r.step}: the loss is not the labels' cross-entropy`);
    }
  }
  // The gate decides at every evaluation, supervised steps included.
  assert.deepEqual(readGateLog(run).map((d) => d.step), [1, 2, 3, 4, 5, 6, 7]);

  // The same 7 steps in one go: the same checkpoint, byte for byte, and the same rows.
  const whole = path.join(tmp, 'whole');
  ok(train(whole, '--steps', '7'), 'train 7 steps');
  const a = checkpointOf(whole);
  const b = checkpointOf(run);
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, t] of a.model[kind]) assert.ok(bytes(t).equals(bytes(b.model[kind].get(name)!)), `${kind}.${name} differs after resuming`);
  }
  assert.deepEqual(noTime(readMetrics(whole)), noTime(rows));
  // Only the joint steps 1, 4, 7 drew unlabeled images (4 each of the 12); the steps on the labels drew none.
  const sampler = new Sampler(12, resolveConfig({ artifacts: 'a', labeled: 'l', out: 'o' }).seed * 2 + 2);
  for (let j = 0; j < 3; j++) sampler.next(4);
  assert.deepEqual(a.loop.samplers.unlabeled, sampler.state());

  // Another N would split the 7 steps taken otherwise: refused, naming the flag that continues the run.
  const other = trainN(1, run, '--steps', '9', '--resume');
  assert.equal(other.status, 2, other.stderr);
  assert.match(other.stderr, /Pass --labeled-steps 2 to continue it/);
});
