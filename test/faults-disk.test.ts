// A full disk for real: a small tmpfs mounted by the test (CI runs as root), filled with a file until the kernel
// refuses more, then freed again. At every kind of write — checkpoint, metrics logs, config, training artifacts,
// the exported model, the pseudo-label CSV — a full disk leaves the previous file as it was and no temporary file,
// and the command ends with one line naming the file and the cause (exit 4); after space is freed, the command the
// message gives continues the run, which ends bit-identical to one that never stopped. A read-only filesystem and a
// folder the user may not write are named the same way.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, assertSameRuns, cli, continueCommand, ok, writeTree } from './helpers/runs.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-disk-'));
const disk = path.join(tmp, 'disk');
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const filler = path.join(disk, 'filler');
let mounted = false;

before(async () => {
  fs.mkdirSync(disk);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', disk], { encoding: 'utf8' });
  // Not a skip: without a filesystem that really fills up these checks cannot be made, and a pass would be a lie.
  assert.equal(m.status, 0, `this test needs a real full filesystem: "mount -t tmpfs" failed (${(m.stderr || m.error?.message || '').trim()}); ` +
    'run the tests as root (CI does), or in a container with CAP_SYS_ADMIN');
  mounted = true;
  await writeTree(labeled, 8, 3);
  ok(cli('export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
});

after(() => {
  if (mounted) spawnSync('umount', [disk]);
});

/** Fills the tmpfs until writes fail, then frees `leave` bytes (a multiple of the page size) of the filler. */
function fill(leave: number): void {
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(1 << 20, 7);
  try {
    for (const size of [1 << 20, 4096]) {
      try {
        for (;;) fs.writeSync(fd, block, 0, size);
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      }
    }
    fs.ftruncateSync(fd, Math.max(0, fs.fstatSync(fd).size - leave));
  } finally {
    fs.closeSync(fd);
  }
  const st = fs.statfsSync(disk);
  assert.equal(st.bavail * st.bsize, leave, 'the filesystem did not fill to the byte count asked for');
}

function unfill(): void { fs.rmSync(filler, { force: true }); }

/** Every file under `dir`, recursively, with its bytes (the filler excluded). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    if (e.isFile() && p !== filler) out.set(p, fs.readFileSync(p));
  }
  return out;
}

function assertNoTempFiles(): void {
  const left = [...snapshot(disk).keys()].filter((p) => p.endsWith('.tmp') || /\.tmp-/.test(p));
  assert.deepEqual(left, [], 'temporary files were left behind');
}

/** The one error line of a command that failed on a write. */
function writeFailure(r: ReturnType<typeof cli>, file: RegExp, cause: string): string {
  assert.equal(r.status, 4, `expected exit 4 (a write failed), got ${r.status}:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('ssmae: error:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace was printed');
  assert.match(lines[0], new RegExp(`cannot write (${file.source}): ${cause}`), lines[0]);
  return lines[0];
}

const train = (out: string, ...extra: string[]) => ['train', '--artifacts', art, '--labeled', labeled, '--labels-per-class', '3',
  '--val-per-class', '2', '--seed', '7', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'),
  '--log-every', '1', '--eval-every', '5', '--warmup-steps', '50', '--out', out, ...extra];
const whole = path.join(tmp, 'whole');

/** The uninterrupted run every resumed one is compared with: 10 steps, on a disk with room. */
function ensureWhole(): void {
  if (!fs.existsSync(path.join(whole, 'checkpoint.safetensors'))) ok(cli(...train(whole, '--steps', '10', '--checkpoint-every', '5')), 'train 10');
}

/** Frees the disk and runs the command the failure message gave, to --steps 10; the run must equal `whole`. */
function resumeAndCompare(message: string, run: string): void {
  unfill();
  ensureWhole();
  const r = cli(...continueCommand(message), '--steps', '10');
  ok(r, 'the continue command');
  assert.match(r.stderr, /resuming at step 5/);
  assertSameRuns(whole, run, 10);
  fs.rmSync(run, { recursive: true }); // room for the next test
  fs.rmSync(`${run}.onnx`);
}

test('disk full at a checkpoint: the previous checkpoint is kept byte for byte, the message names file, cause and last good checkpoint; --resume after freeing space ends bit-identical', async () => {
  const run = path.join(disk, 'ckpt');
  ok(cli(...train(run, '--steps', '5', '--checkpoint-every', '5')), 'train 5');
  const before = snapshot(run);
  const ckpt = path.join(run, 'checkpoint.safetensors');
  // Room for the logs, not for an 8 MB checkpoint.
  fill(256 * 1024);
  const r = cli(...train(run, '--steps', '10', '--checkpoint-every', '5', '--resume'));
  const line = writeFailure(r, /\S+checkpoint\.safetensors/, 'disk full \\(ENOSPC\\)');
  assert.ok(line.includes(`cannot write ${ckpt}:`), line);
  assert.ok(line.includes(`last good checkpoint: ${ckpt} (step 5)`), line);
  assert.ok(fs.readFileSync(ckpt).equals(before.get(ckpt)!), 'the step-5 checkpoint changed');
  assert.equal(loadCheckpoint(ckpt).loop.step, 5);
  assertNoTempFiles();
  resumeAndCompare(line, run);
});

test('disk full while appending a metrics row: no torn row, both logs hold the same rows; --resume after freeing space ends bit-identical', async () => {
  const run = path.join(disk, 'metrics');
  ok(cli(...train(run, '--steps', '5', '--checkpoint-every', '100')), 'train 5');
  const jsonlBefore = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8');
  // One free page: the files rewritten at start fit, the logs fill it as they grow, then a row finds no room.
  fill(4096);
  const r = cli(...train(run, '--steps', '60', '--checkpoint-every', '100', '--resume'));
  const line = writeFailure(r, /\S+(metrics\.jsonl|metrics\.csv|gate\.jsonl)/, 'disk full \\(ENOSPC\\)');
  assert.match(line, /last good checkpoint: \S+checkpoint\.safetensors \(step 5\)/);
  const jsonl = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8');
  const csv = fs.readFileSync(path.join(run, 'metrics.csv'), 'utf8');
  assert.ok(jsonl.startsWith(jsonlBefore), 'the rows written before the failure changed');
  assert.ok(jsonl.endsWith('\n') && csv.endsWith('\n'), 'a torn row was left');
  const rows = jsonl.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number });
  assert.ok(rows.length > 5, `the resumed leg wrote no rows before the disk filled (${rows.length})`);
  assert.deepEqual(rows.map((x) => x.step), rows.map((_, i) => i + 1), 'rows are missing or doubled');
  assert.equal(csv.split('\n').filter(Boolean).length, rows.length + 1, 'metrics.csv and metrics.jsonl hold different rows');
  assertNoTempFiles();
  resumeAndCompare(line, run);
});

test('disk full when the run\'s config.json is rewritten at start: config.json unchanged, named with the cause; --resume after freeing space ends bit-identical', async () => {
  const run = path.join(disk, 'config');
  ok(cli(...train(run, '--steps', '5', '--checkpoint-every', '5')), 'train 5');
  const config = path.join(run, 'config.json');
  const before = fs.readFileSync(config);
  fill(0);
  const r = cli(...train(run, '--steps', '10', '--checkpoint-every', '5', '--resume'));
  const line = writeFailure(r, /\S+config\.json/, 'disk full \\(ENOSPC\\)');
  assert.ok(line.includes(config), line);
  assert.match(line, /last good checkpoint: \S+ \(step 5\)/);
  assert.ok(fs.readFileSync(config).equals(before));
  assertNoTempFiles();
  resumeAndCompare(line, run);
});

test('disk full during export, export-model and pseudo-label: the artifacts, model and CSV already there are unchanged, no temporary file is left; a full cache folder is a warning', () => {
  unfill();
  ensureWhole();
  const arts = path.join(disk, 'artifacts');
  const exportArgs = ['export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', arts];
  ok(cli(...exportArgs), 'export');
  const model = path.join(disk, 'model.onnx');
  ok(cli('export-model', '--run', whole, '--out', model), 'export-model');
  const labels = path.join(disk, 'labels.csv');
  const pseudo = ['pseudo-label', '--run', whole, '--input', path.join(labeled, 'dark'), '--out', labels, '--threads', '1'];
  ok(cli(...pseudo), 'pseudo-label');
  const before = snapshot(disk);
  fill(0);
  // Another preset: every file of the export differs from the one in place.
  const e = cli(...exportArgs.map((a) => (a === 'vit-micro-d2-p4' ? 'vit-micro-p4' : a)));
  writeFailure(e, new RegExp(`${arts}/\\S+`), 'disk full \\(ENOSPC\\)');
  writeFailure(cli('export-model', '--run', whole, '--out', model), new RegExp(model), 'disk full \\(ENOSPC\\)');
  writeFailure(cli(...pseudo, '--threshold', '0.5'), new RegExp(labels), 'disk full \\(ENOSPC\\)');
  const now = snapshot(disk);
  assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort(), 'files were added or removed');
  for (const [p, bytes] of before) assert.ok(now.get(p)!.equals(bytes), `${p} changed`);
  // The decoded-image cache only saves time: a full disk under --cache-dir is a warning, and training goes on.
  const c = cli(...train(path.join(tmp, 'cache-full'), '--steps', '1').map((w) => (w === path.join(tmp, 'cache') ? path.join(disk, 'cache') : w)));
  ok(c, 'train with its cache on the full disk');
  assert.match(c.stderr, /warning: cannot write \S+disk\/cache\/\S+\.u8cache: disk full \(ENOSPC\).*; continuing without the decoded-image cache/);
  assertNoTempFiles();
  unfill();
  // The untouched artifacts still load and train.
  ok(cli(...train(path.join(tmp, 'after-export'), '--steps', '1').map((w) => (w === art ? arts : w))), 'train on the kept artifacts');
});

test('a read-only filesystem and a folder the user may not write are named with their cause', () => {
  unfill();
  ensureWhole();
  const model = path.join(disk, 'ro-model.onnx');
  ok(cli('export-model', '--run', whole, '--out', model), 'export-model');
  const before = fs.readFileSync(model);
  const runDir = path.join(disk, 'ro-run');
  fs.mkdirSync(runDir);
  const ro = spawnSync('mount', ['-o', 'remount,ro', disk], { encoding: 'utf8' });
  assert.equal(ro.status, 0, ro.stderr);
  try {
    writeFailure(cli('export-model', '--run', whole, '--out', model), new RegExp(model), 'read-only filesystem \\(EROFS\\)');
    const t = cli(...train(runDir, '--steps', '12'));
    assert.equal(t.status, 2, t.stderr);
    assert.match(t.stderr, /ssmae: error: cannot write to --out \S+ro-run: read-only filesystem \(EROFS\)/);
  } finally {
    assert.equal(spawnSync('mount', ['-o', 'remount,rw', disk]).status, 0);
  }
  assert.ok(fs.readFileSync(model).equals(before));
  // Permission: root may write anywhere, so the command runs as nobody against a folder only root may write.
  const locked = path.join(disk, 'locked');
  fs.mkdirSync(locked, { mode: 0o755 });
  fs.chmodSync(tmp, 0o755);
  const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI,
    'export-model', '--run', whole, '--out', path.join(locked, 'model.onnx')], { encoding: 'utf8' });
  assert.ok(!asNobody.error, `setpriv (util-linux) is needed to run a command as another user: ${asNobody.error?.message}`);
  writeFailure(asNobody, new RegExp(`${locked}/model\\.onnx`), 'permission denied \\(EACCES\\)');
  assert.deepEqual(fs.readdirSync(locked), []);
});
