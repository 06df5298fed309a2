// --method mae-finetune end to end: pre-training (reconstruction alone) trains the encoder and decoder but never the
// classifier head; fine-tuning (supervised_step.onnx) then trains the head and leaves the decoder alone. The phase
// and its learning rate follow from the step, so a run resumed across the phase boundary, or taken in chunks, is
// byte-identical to one that ran straight through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { Row, readMetrics } from '../src/algorithm/metrics.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-mae-finetune-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

const art = path.join(tmp, 'art');
const artChunk = path.join(tmp, 'art-k2');
const artChunkOld = path.join(tmp, 'art-k2-old');
const labeled = path.join(tmp, 'labeled');
const ready = (async () => {
  await writeTopBottomFolder(labeled);
  const shape = { preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4 };
  exportArtifacts({ ...shape, out: art, graphs: ['train_step', 'supervised_step', 'eval'] });
  exportArtifacts({ ...shape, out: artChunk, stepsPerRun: 2, graphs: ['train_step', 'train_chunk', 'supervised_step', 'supervised_chunk', 'eval'] });
  // As artifacts were exported before supervised_chunk.onnx existed: fine-tuning falls back to one step per run.
  exportArtifacts({ ...shape, out: artChunkOld, stepsPerRun: 2, graphs: ['train_step', 'train_chunk', 'supervised_step', 'eval'] });
})();

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stderr;
}

/** `ssmae train --method mae-finetune` on the tiny folder; peak lr 1e-3, min lr 1e-5, 2 warmup steps. */
const train = (artifacts: string, out: string, ...extra: string[]) => cli('train', '--artifacts', artifacts, '--labeled', labeled,
  '--labels-per-class', '4', '--val-per-class', '2', '--method', 'mae-finetune', '--warmup-steps', '2', '--lr', '1e-3',
  '--min-lr', '1e-5', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'), '--out', out, ...extra);

const bytes = (a: ArrayLike<number> & ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number | bigint>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - Number(b[i])));
  return d;
};

function rowsWithoutTime(run: string): Row[] {
  return readMetrics(run).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('time/'))) as Row);
}

/** Runs `f` the first time it is asked for; tests share runs this way (each CLI run costs seconds in session setup). */
const once = <T>(f: () => Promise<T>) => {
  let p: Promise<T> | null = null;
  return () => (p ??= f());
};

function exportModel(run: string): Buffer {
  const out = path.join(tmp, `${path.basename(run)}.onnx`);
  ok(cli('export-model', '--run', run, '--out', out), `export-model ${run}`);
  return fs.readFileSync(out);
}

// Pre-training N = 5 of 8 steps; a row per step, validation at step 5 and the last step.
const FLAGS = ['--pretrain-steps', '5', '--log-every', '1', '--eval-every', '5', '--checkpoint-every', '100'];
const checkpointOf = (run: string) => loadCheckpoint(path.join(run, 'checkpoint.safetensors'));

/** The 8 steps taken in two legs: the 5 pre-training steps, then --resume for the 3 fine-tuning steps. */
const splitRun = once(async () => {
  await ready;
  const run = path.join(tmp, 'split');
  ok(train(art, run, ...FLAGS, '--steps', '5'), 'pre-train 5 steps');
  const pre = checkpointOf(run);
  const preRows = readMetrics(run);
  assert.match(ok(train(art, run, ...FLAGS, '--steps', '8', '--resume'), 'fine-tune to step 8'), /resuming at step 5/);
  return { run, pre, preRows, fine: checkpointOf(run) };
});

/** The same 8 steps in one go. */
const wholeRun = once(async () => {
  await ready;
  const run = path.join(tmp, 'whole');
  ok(train(art, run, ...FLAGS, '--steps', '8'), 'train 8 steps');
  return run;
});

test('pre-training leaves the classifier head bitwise untouched while the encoder learns; fine-tuning trains the head', async () => {
  const { run, pre, preRows, fine } = await splitRun();
  const init = loadInitialWeights(loadArtifacts(art));
  assert.equal(pre.loop.step, 5);
  assert.equal((pre.loop.config as { pretrainSteps: number }).pretrainSteps, 5);
  // head.bias has no weight decay: with no gradient AdamW leaves it exactly where it started.
  assert.ok(bytes(pre.model.p.get('head.bias')!).equals(bytes(init.get('head.bias')!.data as Float32Array)), 'head.bias moved during pre-training');
  for (const name of ['head.weight', 'head.bias']) {
    assert.ok(pre.model.m.get(name)!.every((x) => x === 0), `${name} got a gradient during pre-training`);
  }
  for (const name of ['embed.weight', 'enc.0.mlp.fc1.weight', 'dec.pred.weight']) {
    const d = maxAbsDiff(pre.model.p.get(name)!, init.get(name)!.data);
    assert.ok(d > 1e-5, `${name} did not move during pre-training (max change ${d})`);
  }
  assert.deepEqual(preRows.map((r) => r.step), [1, 2, 3, 4, 5]);

  assert.equal(fine.loop.step, 8);
  const headMove = maxAbsDiff(fine.model.p.get('head.bias')!, pre.model.p.get('head.bias')!);
  assert.ok(headMove > 1e-5, `head.bias did not move during fine-tuning (max change ${headMove})`);
  assert.ok(maxAbsDiff(fine.model.p.get('embed.weight')!, pre.model.p.get('embed.weight')!) > 1e-5, 'fine-tuning did not train the encoder');
  // supervised_step.onnx neither reads nor writes the decoder.
  assert.ok(bytes(fine.model.p.get('dec.pred.weight')!).equals(bytes(pre.model.p.get('dec.pred.weight')!)), 'fine-tuning changed the decoder');

  const rows = readMetrics(run);
  assert.deepEqual(rows.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const r of rows.slice(0, 5)) {
    // Pre-training: loss = 1·rec + 0·ceL + 0·ceU.
    assert.ok((r['train/rec_loss'] as number) > 0, `step ${r.step}: no reconstruction loss`);
    assert.equal(r['train/loss'], r['train/rec_loss'], `step ${r.step}: the loss is not the reconstruction alone`);
  }
  for (const r of rows.slice(5)) {
    assert.equal(r['train/rec_loss'], 0, `step ${r.step}: reconstruction during fine-tuning`);
    assert.ok((r['train/ce_labeled'] as number) > 0);
    assert.equal(r['train/loss'], r['train/ce_labeled'], `step ${r.step}: the loss is not the labels' cross-entropy`);
  }
  assert.ok(rows.every((r) => r['gate/open'] === 0 && r['train/pseudo_mask_rate'] === 0));
  // Throughput counts the images a step trains on: 2 labeled + 4 unlabeled in pre-training, the 2 labeled after.
  rows.forEach((r, i) => {
    const perStep = (r['time/images_per_s'] as number) * (r['time/step_ms'] as number) / 1000;
    assert.ok(Math.abs(perStep - (i < 5 ? 6 : 2)) < 1e-9, `step ${r.step}: ${perStep} images per step`);
  });
  assert.deepEqual(rows.map((r) => r['val/acc'] !== null), [false, false, false, false, true, false, false, true]);
  // One warmup + cosine per phase (peak 1e-3, min 1e-5, 2 warmup steps). Pre-training over 5 steps: 5e-4, 1e-3, then
  // cosine at 1/3 and 2/3 of the remaining 3 (1e-5 + 0.99e-3·0.75, ·0.25), then 1e-5. Fine-tuning over 3 steps starts
  // its own warmup: 5e-4, 1e-3, 1e-5.
  const want = [5e-4, 1e-3, 7.525e-4, 2.575e-4, 1e-5, 5e-4, 1e-3, 1e-5];
  rows.forEach((r, i) => assert.ok(Math.abs((r['train/lr'] as number) - want[i]) < 1e-12, `step ${r.step}: lr ${r['train/lr']}, want ${want[i]}`));
  assert.equal(fs.readFileSync(path.join(run, 'gate.jsonl'), 'utf8'), '', 'no gate decisions in either phase');
});

test('pre-train 5 then --resume to 8 equals 8 steps in one go (model.onnx bytes, metrics); a moved boundary is refused', async () => {
  const { run } = await splitRun();
  const whole = await wholeRun();
  const m = exportModel(whole);
  assert.ok(m.length > 1000);
  assert.ok(m.equals(exportModel(run)), 'model.onnx of the resumed run differs from the uninterrupted run');
  const rows = rowsWithoutTime(whole);
  assert.equal(rows.length, 8);
  assert.deepEqual(rowsWithoutTime(run), rows);

  // Continuing with a boundary at 3 would make steps 4 and 5, already pre-trained, fine-tuning steps.
  const moved = train(art, run, ...FLAGS, '--pretrain-steps', '3', '--steps', '10', '--resume');
  assert.equal(moved.status, 2, moved.stderr);
  assert.match(moved.stderr, /pre-trained for 5 of its 8 steps \(--pretrain-steps 5\); --pretrain-steps 3 would have pre-trained for 3/);
  assert.equal(checkpointOf(run).loop.step, 8);
});

test('mae-finetune through train_chunk.onnx and supervised_chunk.onnx (K = 2; the phase boundary inside a chunk) equals one step per run', async () => {
  const whole = await wholeRun();
  const wholeModel = exportModel(whole);
  const noVal = (rows: Row[]) => rows.map(({ 'val/acc': _a, 'val/confident_acc': _c, 'val/confident_rate': _r, ...r }) => r);
  // Steps 1–2 and 3–4 in chunks, step 5 alone (a chunk of 5–6 would cross into fine-tuning), then fine-tuning: 6–7 in
  // a chunk of supervised_chunk.onnx and 8 alone, or 6, 7, 8 one per run with artifacts that lack it.
  // Validation only at the end, so that no evaluation splits a chunk: it does not feed back into this method's training.
  for (const [artifacts, name] of [[artChunk, 'chunked'], [artChunkOld, 'chunked-old']]) {
    const run = path.join(tmp, name);
    ok(train(artifacts, run, ...FLAGS, '--eval-every', '100', '--steps', '8'), `train K = 2 (${name})`);
    assert.ok(exportModel(run).equals(wholeModel), `model.onnx differs between 1 and 2 steps per run (${name})`);
    assert.deepEqual(noVal(rowsWithoutTime(run)), noVal(rowsWithoutTime(whole)));
  }
  assert.ok(fs.existsSync(path.join(artChunk, 'supervised_chunk.onnx')));
  assert.ok(!fs.existsSync(path.join(artChunkOld, 'supervised_chunk.onnx')));
});
