// ssmae train --resume end to end: a run stopped and resumed gives the same model (byte-identical model.onnx) and
// the same metrics rows as one that never stopped, both when the first leg ends cleanly and when it is killed, and
// for labels-only taking its steps in chunks (supervised_chunk.onnx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { CLI, assertSameRuns, cli, exportModel, ok, writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-resume-'));

const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const common = (extra: string[], artifacts = art) => ['train', '--artifacts', artifacts, '--labeled', labeled, '--labels-per-class', '3', '--val-per-class', '2',
  '--seed', '7', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'), ...extra];

const ready = (async () => {
  await writeTree(labeled, 8, 3);
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
})();

test('train 10 steps then --resume --steps 20 equals 20 steps in one go (model.onnx bytes, metrics, gate log), CutMix on', async () => {
  await ready;
  // Warmup pinned beyond step 20: a first leg of --steps 10 otherwise decays its cosine schedule to step 10. CutMix
  // draws from its own stream, which the checkpoint must carry.
  const flags = ['--checkpoint-every', '10', '--eval-every', '5', '--log-every', '5', '--warmup-steps', '50', '--cutmix', '0.5'];
  const whole = path.join(tmp, 'whole');
  ok(cli(...common([...flags, '--out', whole, '--steps', '20'])), 'train 20');
  const split = path.join(tmp, 'split');
  ok(cli(...common([...flags, '--out', split, '--steps', '10'])), 'train 10');
  assert.equal(loadCheckpoint(path.join(split, 'checkpoint.safetensors')).loop.step, 10);
  const r = cli(...common([...flags, '--out', split, '--steps', '20', '--resume']));
  ok(r, 'train --resume');
  assert.match(r.stderr, /resuming at step 10/);
  assertSameRuns(whole, split);
  assert.ok(loadCheckpoint(path.join(split, 'checkpoint.safetensors')).loop.rngs.cutmix, 'the checkpoint has no CutMix stream');
  // And CutMix did something: without it the same 20 steps train another model.
  const plain = path.join(tmp, 'whole-no-cutmix');
  ok(cli(...common([...flags.slice(0, -2), '--out', plain, '--steps', '20'])), 'train 20 without CutMix');
  assert.ok(!exportModel(plain).equals(exportModel(whole)), 'CutMix 0.5 trained the same model as no CutMix');
});

test('a run killed at step 12 (checkpoint at 10) and resumed equals the uninterrupted run (cosine schedule, uneven intervals)', async () => {
  await ready;
  // Log and eval intervals that do not line up with the checkpoint: the resumed run must still write the same rows.
  const flags = ['--checkpoint-every', '10', '--eval-every', '4', '--log-every', '3', '--warmup-steps', '3', '--steps', '20'];
  const whole = path.join(tmp, 'whole2');
  ok(cli(...common([...flags, '--out', whole])), 'train 20');
  const killed = path.join(tmp, 'killed');
  const ckpt = path.join(killed, 'checkpoint.safetensors');
  const child = spawn(process.execPath, [CLI, ...common([...flags, '--out', killed])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => { done = true; });
  // Killed once step 12 is logged: the checkpoint is at step 10 and the logs already hold rows past it.
  const gateLog = path.join(killed, 'gate.jsonl');
  const past = () => fs.existsSync(gateLog) && fs.readFileSync(gateLog, 'utf8').includes('"step":12');
  while (!done && !past()) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  const code = await exited;
  assert.equal(code, null, `the first leg finished on its own before it could be killed:\n${stderr}`);
  assert.equal(loadCheckpoint(ckpt).loop.step, 10);
  const r = cli(...common([...flags, '--out', killed, '--resume']));
  ok(r, 'train --resume');
  assert.match(r.stderr, /resuming at step 10/);
  assertSameRuns(whole, killed);
});

test('labels-only with --steps-per-run 4 artifacts: 10 steps then --resume to 20 equals 20 single steps in one go', async () => {
  await ready;
  const artK4 = path.join(tmp, 'art-k4');
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--steps-per-run', '4', '--out', artK4), 'export K = 4');
  assert.ok(fs.existsSync(path.join(artK4, 'supervised_chunk.onnx')));
  // Validation every 5 steps splits the chunks unevenly: steps 1–4 in a chunk, 5 alone, 6–9, 10 alone, 11–14, …
  const flags = ['--method', 'labels-only', '--checkpoint-every', '10', '--eval-every', '5', '--log-every', '5', '--warmup-steps', '50'];
  const whole = path.join(tmp, 'labels-only-whole');
  ok(cli(...common([...flags, '--out', whole, '--steps', '20'])), 'train 20, one step per run');
  const split = path.join(tmp, 'labels-only-split');
  ok(cli(...common([...flags, '--out', split, '--steps', '10'], artK4)), 'train 10 in chunks');
  assert.equal(loadCheckpoint(path.join(split, 'checkpoint.safetensors')).loop.step, 10);
  const r = cli(...common([...flags, '--out', split, '--steps', '20', '--resume'], artK4));
  ok(r, 'train --resume in chunks');
  assert.match(r.stderr, /resuming at step 10/);
  assertSameRuns(whole, split);
});
