// ssmae train --resume end to end: a run stopped and resumed gives the same model (byte-identical model.onnx) and
// the same metrics rows as one that never stopped, both when the first leg ends cleanly and when it is killed, and
// for labels-only taking its steps in chunks (supervised_chunk.onnx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-resume-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** 8×8 gray PNGs: "bright", "dark" and vertical "stripes", with seeded noise so every image differs. */
async function writeTree(root: string, perClass: number, seed: number): Promise<void> {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const c of ['bright', 'dark', 'stripes']) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(64);
      for (let j = 0; j < 64; j++) {
        const base = c === 'bright' ? 210 : c === 'dark' ? 40 : (j % 2 ? 230 : 20);
        px[j] = Math.max(0, Math.min(255, base + Math.round((rnd() - 0.5) * 40)));
      }
      await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(path.join(root, c, `${i}.png`));
    }
  }
}

const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const common = (extra: string[], artifacts = art) => ['train', '--artifacts', artifacts, '--labeled', labeled, '--labels-per-class', '3', '--val-per-class', '2',
  '--seed', '7', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'), ...extra];

const ready = (async () => {
  await writeTree(labeled, 8, 3);
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
})();

function rowsWithoutTime(run: string): Record<string, unknown>[] {
  return fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const row = JSON.parse(l) as Record<string, unknown>;
    for (const k of Object.keys(row)) if (k.startsWith('time/')) delete row[k];
    return row;
  });
}

function exportModel(run: string): Buffer {
  const out = path.join(tmp, `${path.basename(run)}.onnx`);
  ok(cli('export-model', '--run', run, '--out', out), `export-model ${run}`);
  return fs.readFileSync(out);
}

function assertSameRuns(a: string, b: string): void {
  const ma = exportModel(a);
  const mb = exportModel(b);
  assert.ok(ma.length > 1000);
  assert.ok(ma.equals(mb), 'model.onnx of the resumed run differs from the uninterrupted run');
  const ra = rowsWithoutTime(a);
  const rb = rowsWithoutTime(b);
  assert.ok(ra.length >= 4, `expected several metrics rows, got ${ra.length}`);
  assert.deepEqual(rb.map((r) => r.step), ra.map((r) => r.step), 'metrics rows are at different steps');
  assert.deepEqual(rb, ra);
  // Metrics must hold real numbers, not nulls everywhere.
  assert.ok(ra.every((r) => typeof r['train/loss'] === 'number' && Number.isFinite(r['train/loss'] as number)));
  const csvA = fs.readFileSync(path.join(a, 'metrics.csv'), 'utf8').split('\n').filter(Boolean);
  const csvB = fs.readFileSync(path.join(b, 'metrics.csv'), 'utf8').split('\n').filter(Boolean);
  assert.equal(csvB.length, csvA.length, 'metrics.csv has a different number of rows');
  assert.deepEqual(fs.readFileSync(path.join(b, 'gate.jsonl'), 'utf8'), fs.readFileSync(path.join(a, 'gate.jsonl'), 'utf8'));
  assert.equal(loadCheckpoint(path.join(b, 'checkpoint.safetensors')).loop.step, 20);
}

test('train 10 steps then --resume --steps 20 equals 20 steps in one go (model.onnx bytes, metrics, gate log)', async () => {
  await ready;
  // Warmup pinned beyond step 20: a first leg of --steps 10 otherwise decays its cosine schedule to step 10.
  const flags = ['--checkpoint-every', '10', '--eval-every', '5', '--log-every', '5', '--warmup-steps', '50'];
  const whole = path.join(tmp, 'whole');
  ok(cli(...common([...flags, '--out', whole, '--steps', '20'])), 'train 20');
  const split = path.join(tmp, 'split');
  ok(cli(...common([...flags, '--out', split, '--steps', '10'])), 'train 10');
  assert.equal(loadCheckpoint(path.join(split, 'checkpoint.safetensors')).loop.step, 10);
  const r = cli(...common([...flags, '--out', split, '--steps', '20', '--resume']));
  ok(r, 'train --resume');
  assert.match(r.stderr, /resuming at step 10/);
  assertSameRuns(whole, split);
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
