// Failures that must not lose work: a diverged loss stops train with exit 3 naming the step and a loadable last
// checkpoint; a crash while a checkpoint is being written leaves the previous checkpoint loadable, unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { CHECKPOINT_FILE, Checkpoint, loadCheckpoint, saveCheckpoint } from '../src/algorithm/checkpoint.js';
import { writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-fail-'));
const here = path.dirname(new URL(import.meta.url).pathname);
const CLI = path.resolve(here, '../src/cli/main.js');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

test('a non-finite loss (--lr 1e30) exits 3 naming the step and the last good checkpoint, which still loads', async () => {
  const labeled = path.join(tmp, 'labeled');
  for (const [k, c] of ['a', 'b'].entries()) {
    for (let i = 0; i < 4; i++) {
      fs.mkdirSync(path.join(labeled, c), { recursive: true });
      const px = Buffer.alloc(64, 60 + 120 * k + i);
      await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(path.join(labeled, c, `${i}.png`));
    }
  }
  const art = path.join(tmp, 'art');
  const e = cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '2',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art);
  assert.equal(e.status, 0, e.stderr);
  const run = path.join(tmp, 'run');
  const base = ['train', '--artifacts', art, '--labeled', labeled, '--labels-per-class', '2', '--val-per-class', '1',
    '--out', run, '--quiet', '--threads', '1', '--warmup-steps', '0'];
  // Three good steps (a checkpoint at step 3, the end of that leg), then resume with a learning rate that blows up.
  const good = cli(...base, '--steps', '3', '--checkpoint-every', '2');
  assert.equal(good.status, 0, good.stderr);
  const ckpt = path.join(run, CHECKPOINT_FILE);
  const before = fs.readFileSync(ckpt);
  const r = cli(...base, '--steps', '40', '--checkpoint-every', '10', '--resume', '--lr', '1e30', '--clip-norm', '1e30');
  assert.equal(r.status, 3, `expected exit 3, got ${r.status}:\n${r.stderr}`);
  const line = r.stderr.trim().split('\n').filter((l) => l.startsWith('ssmae: error:'));
  assert.equal(line.length, 1, r.stderr);
  const m = /loss is (NaN|-?Infinity) at step (\d+)\b.*Last good checkpoint: (\S+) \(step (\d+)\)/.exec(line[0]);
  assert.ok(m, line[0]);
  const step = Number(m[2]);
  assert.ok(step > 3 && step <= 40, line[0]);
  assert.equal(m[3], ckpt);
  const c = loadCheckpoint(m[3]);
  assert.equal(Number(m[4]), c.loop.step, `the message names step ${m[4]} but the checkpoint holds step ${c.loop.step}`);
  assert.ok(c.loop.step >= 3 && c.loop.step < step);
  for (const [name, t] of c.model.p) assert.ok(t.every(Number.isFinite), `${name} is not finite in the last good checkpoint`);
  if (c.loop.step === 3) assert.ok(fs.readFileSync(ckpt).equals(before));
  // A fresh run that diverges before its first checkpoint says so.
  const fresh = cli(...base, '--out', path.join(tmp, 'fresh'), '--steps', '40', '--checkpoint-every', '100', '--lr', '1e30', '--clip-norm', '1e30');
  assert.equal(fresh.status, 3, fresh.stderr);
  assert.match(fresh.stderr, /No checkpoint was written yet/);
});

function sampleCheckpoint(step: number): { c: Checkpoint; shapes: Map<string, number[]> } {
  const shapes = new Map([['w', [3, 5]], ['b', [5]]]);
  const fill = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => step * 100 + k * 10 + i / 7);
  const kinds = ['p', 'm', 'v', 'ema'] as const;
  const model = Object.fromEntries(kinds.map((kind, k) => [kind, new Map([['w', fill(15, k)], ['b', fill(5, k + 4)]])])) as unknown as Checkpoint['model'];
  // Big enough that a write is not one small block.
  model.p.set('big', new Float32Array(1 << 20).fill(step));
  shapes.set('big', [1 << 20]);
  for (const kind of kinds.slice(1)) model[kind].set('big', new Float32Array(1 << 20));
  return {
    c: { model, loop: { step, gate: { open: false, streak: 0, openedAt: null } as never, rngs: { mask: [1, 2, 3, step] }, samplers: {}, teacherMean: [0.5, 0.5], config: { step } } },
    shapes,
  };
}

function assertHolds(file: string, step: number): void {
  const got = loadCheckpoint(file);
  const want = sampleCheckpoint(step).c;
  assert.equal(got.loop.step, step);
  assert.deepEqual(got.loop, JSON.parse(JSON.stringify(want.loop)));
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, t] of want.model[kind]) assert.deepEqual(got.model[kind].get(name), t, `${kind}.${name}`);
  }
}

test('a write that fails half way through leaves the previous checkpoint loadable and unchanged', () => {
  const run = path.join(tmp, 'half');
  fs.mkdirSync(run);
  const { c, shapes } = sampleCheckpoint(10);
  const file = saveCheckpoint(run, c, shapes, 'float32');
  assertHolds(file, 10);
  const next = sampleCheckpoint(20);
  const crash = (f: string, data: Uint8Array) => {
    fs.writeFileSync(path.join(path.dirname(f), `.${path.basename(f)}.crash.tmp`), data.subarray(0, data.length >> 1));
    throw new Error('simulated crash');
  };
  assert.throws(() => saveCheckpoint(run, next.c, next.shapes, 'float32', crash), /simulated crash/);
  assertHolds(file, 10);
});

test('a process killed while writing a checkpoint (mid-write, or before the rename) leaves the previous one loadable', () => {
  const run = path.join(tmp, 'killed');
  fs.mkdirSync(run);
  const { c, shapes } = sampleCheckpoint(10);
  const file = saveCheckpoint(run, c, shapes, 'float32');
  const files = path.resolve(here, '../src/artifacts/files.js');
  const ckptModule = path.resolve(here, '../src/algorithm/checkpoint.js');
  for (const when of ['mid-write', 'before-rename']) {
    // The child patches fs so the real writeFileAtomic dies with SIGKILL at the chosen moment.
    const script = `
      import fs from 'node:fs';
      const { saveCheckpoint } = await import(${JSON.stringify(ckptModule)});
      await import(${JSON.stringify(files)});
      const die = () => process.kill(process.pid, 'SIGKILL');
      if (${JSON.stringify(when)} === 'mid-write') {
        const write = fs.writeSync;
        fs.writeSync = (fd, buf, ...rest) => { write(fd, buf.subarray(0, buf.length >> 1)); fs.fsyncSync(fd); die(); };
      } else {
        fs.renameSync = () => die();
      }
      const shapes = new Map(${JSON.stringify([...shapes])});
      const model = {};
      for (const kind of ['p', 'm', 'v', 'ema']) model[kind] = new Map([...shapes].map(([n, s]) => [n, new Float32Array(s.reduce((a, b) => a * b, 1)).fill(20)]));
      saveCheckpoint(${JSON.stringify(run)}, { model, loop: { step: 20, gate: {}, rngs: {}, samplers: {}, config: {} } }, shapes, 'float32');
      console.log('not killed');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8'});
    assert.equal(r.signal, 'SIGKILL', `${when}: child was not killed (status ${r.status}):\n${r.stdout}${r.stderr}`);
    const leftovers = fs.readdirSync(run).filter((f) => f.endsWith('.tmp'));
    assert.equal(leftovers.length, 1, `${when}: expected the torn temporary file, found ${leftovers}`);
    assert.ok(fs.statSync(path.join(run, leftovers[0])).size > 0);
    fs.rmSync(path.join(run, leftovers[0]));
    assertHolds(file, 10);
  }
});

// Run directories and checkpoints: an existing run is never overwritten by accident, a damaged checkpoint is refused
// by name (and --resume falls back to the previous one, kept beside it), another model's checkpoint is refused.
const runArt = path.join(tmp, 'run-art');
const runLabeled = path.join(tmp, 'run-labeled');
const runsReady = (async () => {
  await writeTree(runLabeled, 6, 5);
  const e = cli('export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', runArt);
  assert.equal(e.status, 0, e.stderr);
})();
const trainRun = (out: string, ...extra: string[]) => cli('train', '--artifacts', runArt, '--labeled', runLabeled, '--labels-per-class', '2',
  '--val-per-class', '2', '--seed', '3', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'run-cache'), '--warmup-steps', '50',
  '--eval-every', '2', '--checkpoint-every', '2', '--out', out, ...extra);

function files(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

function oneErrorLine(r: ReturnType<typeof cli>, code: number): string {
  assert.equal(r.status, code, `expected exit ${code}, got ${r.status}:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('ssmae: error:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace was printed');
  return lines[0];
}

test('train into an existing run without --resume refuses (exit 2) naming --resume and --overwrite, and changes nothing; --overwrite starts afresh', async () => {
  await runsReady;
  const run = path.join(tmp, 'existing');
  assert.equal(trainRun(run, '--steps', '4').status, 0);
  const before = files(run);
  const line = oneErrorLine(trainRun(run, '--steps', '6'), 2);
  assert.match(line, /--out \S+existing already holds a run \(config\.json, .*checkpoint\.safetensors.*\); continue it with --resume, or pass --overwrite/);
  assert.deepEqual([...files(run).keys()].sort(), [...before.keys()].sort());
  for (const [f, b] of before) assert.ok(files(run).get(f)!.equals(b), `${f} changed`);
  assert.match(oneErrorLine(trainRun(run, '--steps', '6', '--resume', '--overwrite'), 2), /give one of them/);
  // --overwrite: a new run of 2 steps, nothing left of the old one.
  const r = trainRun(run, '--steps', '2', '--overwrite');
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /resuming/);
  assert.equal(loadCheckpoint(path.join(run, CHECKPOINT_FILE)).loop.step, 2);
  assert.ok(!fs.existsSync(path.join(run, 'checkpoint.prev.safetensors')), 'the old run\'s checkpoint was kept');
  assert.deepEqual(fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).step), [2]);
});

test('a damaged checkpoint is refused by name (eval, export-model); --resume falls back to the previous checkpoint and says so; both damaged: refused', async () => {
  await runsReady;
  const run = path.join(tmp, 'damaged');
  assert.equal(trainRun(run, '--steps', '4').status, 0);
  const ckpt = path.join(run, CHECKPOINT_FILE);
  const prev = path.join(run, 'checkpoint.prev.safetensors');
  assert.equal(loadCheckpoint(prev).loop.step, 2);
  const good = fs.readFileSync(ckpt);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 5] ^= 0x10; // one bit of one moment: the file still parses
  fs.writeFileSync(ckpt, flipped);
  const model = path.join(tmp, 'damaged.onnx');
  const e = oneErrorLine(cli('export-model', '--run', run, '--out', model), 2);
  assert.ok(e.includes(`${ckpt} is damaged: its contents do not match the sha256`), e);
  assert.ok(e.includes(`previous checkpoint ${prev} is kept`), e);
  assert.ok(!fs.existsSync(model));
  // Cut short: named the same way.
  fs.writeFileSync(ckpt, good.subarray(0, good.length >> 1));
  assert.match(oneErrorLine(cli('eval', '--run', run, '--data', runLabeled), 2), /checkpoint\.safetensors is damaged and cannot be read \(tensor \S+ runs past the end/);
  // --resume continues from step 2 and ends where an uninterrupted run ends; a temporary file that a killed writer
  // left (its process is gone) is removed first.
  const stale = path.join(run, '.checkpoint.safetensors.4194300.tmp');
  fs.writeFileSync(stale, good.subarray(0, 1000));
  const r = trainRun(run, '--steps', '4', '--resume');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!fs.existsSync(stale), 'the stale temporary file was left');
  assert.match(r.stderr, /removed 1 temporary file\(s\) left in \S+ by a process that was killed: \.checkpoint\.safetensors\.4194300\.tmp/);
  assert.match(r.stderr, /warning: \S+checkpoint\.safetensors is damaged .*; resuming from the previous checkpoint \S+checkpoint\.prev\.safetensors \(step 2\) instead/);
  assert.match(r.stderr, /resuming at step 2/);
  assert.ok(fs.readFileSync(ckpt).equals(good), 'the run resumed from step 2 did not reach the same step-4 checkpoint');
  // Both damaged: nothing to train on.
  fs.writeFileSync(ckpt, flipped);
  fs.writeFileSync(prev, Buffer.from('not a checkpoint at all'));
  const both = oneErrorLine(trainRun(run, '--steps', '6', '--resume'), 2);
  assert.match(both, /checkpoint\.safetensors is damaged.*the previous checkpoint cannot be used either: .*checkpoint\.prev\.safetensors.*--overwrite/);
});

test('a checkpoint from another model (another preset in --artifacts) is refused by name before training', async () => {
  await runsReady;
  const run = path.join(tmp, 'other-model');
  assert.equal(trainRun(run, '--steps', '2').status, 0);
  const other = path.join(tmp, 'other-art');
  assert.equal(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', other).status, 0);
  const before = files(run);
  const r = cli('train', '--artifacts', other, '--labeled', runLabeled, '--labels-per-class', '2', '--val-per-class', '2', '--quiet',
    '--threads', '1', '--cache-dir', path.join(tmp, 'run-cache'), '--out', run, '--steps', '4', '--resume');
  const line = oneErrorLine(r, 2);
  assert.match(line, /checkpoint\.safetensors was written for another model: .* the artifacts in \S+other-art \(vit-micro-p4\)/);
  for (const [f, b] of before) assert.ok(files(run).get(f)!.equals(b), `${f} changed`);
});

test('--device cuda without the CUDA provider: one line naming the flag and how to install it, exit 2, before any data is read', async () => {
  await runsReady;
  const line = oneErrorLine(trainRun(path.join(tmp, 'cuda'), '--steps', '2', '--device', 'cuda'), 2);
  assert.match(line, /--device cuda: onnxruntime-node's CUDA provider is not installed .*--onnxruntime-node-install=cuda12.*--device cpu/);
  assert.ok(!fs.existsSync(path.join(tmp, 'cuda')));
});

test('artifacts never exported, with a file missing, a file tampered with, or another manifest format are refused by name (exit 2); so are a --run that is no run and a --config with an unknown key', async () => {
  await runsReady;
  const copy = (name: string) => {
    const dir = path.join(tmp, name);
    fs.cpSync(runArt, dir, { recursive: true });
    return dir;
  };
  const trainWith = (artDir: string, ...extra: string[]) => cli('train', '--artifacts', artDir, '--labeled', runLabeled, '--labels-per-class', '2',
    '--val-per-class', '2', '--quiet', '--threads', '1', '--cache-dir', path.join(tmp, 'run-cache'), '--out', path.join(tmp, `run-${path.basename(artDir)}`), '--steps', '1', ...extra);
  const missing = copy('art-missing');
  fs.rmSync(path.join(missing, 'eval.onnx'));
  assert.match(oneErrorLine(trainWith(missing), 2), /art-missing\/eval\.onnx is missing; re-run ssmae export/);
  const tampered = copy('art-tampered');
  const w = path.join(tampered, 'weights.safetensors');
  const bytes = fs.readFileSync(w);
  bytes[bytes.length - 1] ^= 0x01;
  fs.writeFileSync(w, bytes);
  assert.match(oneErrorLine(trainWith(tampered), 2), /art-tampered\/weights\.safetensors does not match the sha256 in \S+manifest\.json \(modified or corrupt\)/);
  const older = copy('art-format');
  const mf = path.join(older, 'manifest.json');
  fs.writeFileSync(mf, fs.readFileSync(mf, 'utf8').replace(/"format": *(\d+|"[^"]*")/, '"format": 0'));
  assert.match(oneErrorLine(trainWith(older), 2), /art-format\/manifest\.json: manifest format 0, this ssmae reads \S+; re-run ssmae export/);
  assert.match(oneErrorLine(trainWith(path.join(tmp, 'never-exported')), 2), /never-exported\/manifest\.json not found; create artifacts first with: ssmae export/);
  assert.match(oneErrorLine(cli('eval', '--run', runArt, '--data', runLabeled), 2), /run-art is not a finished run \(needs config\.json and checkpoint\.safetensors\)/);
  const config = path.join(tmp, 'bad-config.json');
  fs.writeFileSync(config, JSON.stringify({ stepz: 3 }));
  assert.match(oneErrorLine(trainWith(runArt, '--config', config), 2), /unknown key 'stepz'; known keys: /);
});

test('a build copied without its models/ folder says so and exits 2, instead of an internal error', () => {
  // dist/ copied alone (with package.json, and node_modules linked): MODELS_DIR, beside dist/, is missing.
  const root = path.join(tmp, 'no-models');
  fs.cpSync(path.resolve(here, '..'), path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.resolve(here, '../../package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.resolve(here, '../../node_modules'), path.join(root, 'node_modules'));
  const r = spawnSync(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'export', '--preset', 'vit-micro-p4',
    '--image-size', '8', '--classes', '2', '--out', path.join(root, 'art')], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /the model presets are missing: .*models does not exist/);
  assert.match(r.stderr, /copy models\/ there with dist\//);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});
