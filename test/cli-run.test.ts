// One small trained run, then the commands that use it: eval --json (accuracy, per-class, confusion CSV),
// pseudo-label (header, sharding, agreement with an unsharded run) and export-model (a model.onnx that a fresh
// onnxruntime-node session runs on uint8 images and that agrees with eval and pseudo-label).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/graph/serialize.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-run-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const CLASSES = ['blue', 'green', 'red'];

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

function oneLineError(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.equal(r.status, 2, `expected exit 2, got ${r.status}:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^ssmae: error: /);
  assert.match(lines[0], re);
}

let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

/** An 8×8 RGB PNG whose dominant channel is the class (red, green or blue), with noise. */
async function writeImage(file: string, cls: string): Promise<void> {
  const c = cls === 'red' ? 0 : cls === 'green' ? 1 : 2;
  const px = Buffer.alloc(8 * 8 * 3);
  for (let i = 0; i < 64; i++) {
    for (let k = 0; k < 3; k++) px[i * 3 + k] = Math.round((k === c ? 170 : 20) + rnd() * 60);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(file);
}

const art = path.join(tmp, 'art');
const run = path.join(tmp, 'run');
const testDir = path.join(tmp, 'test');
const dump = path.join(tmp, 'dump');
// Uneven test counts so per-class counts tell classes apart.
const TEST_COUNTS: Record<string, number> = { blue: 5, green: 4, red: 3 };

const ready = (async () => {
  for (const c of CLASSES) for (let i = 0; i < 8; i++) await writeImage(path.join(tmp, 'labeled', c, `${i}.png`), c);
  for (const c of CLASSES) for (let i = 0; i < TEST_COUNTS[c]; i++) await writeImage(path.join(testDir, c, `t${i}.png`), c);
  // The dump: 11 images in nested folders (11 is not a multiple of 3, so shards differ in size).
  for (let i = 0; i < 11; i++) await writeImage(path.join(dump, i % 2 ? 'a' : 'b/c', `u${i}.png`), CLASSES[i % 3]);
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '3', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
  ok(cli('train', '--artifacts', art, '--labeled', path.join(tmp, 'labeled'), '--labels-per-class', '4', '--val-per-class', '2',
    '--out', run, '--steps', '30', '--eval-every', '10', '--log-every', '10', '--warmup-steps', '5', '--lr', '2e-3',
    '--threads', '1', '--quiet'), 'train');
})();

function readCsv(file: string): { header: string; rows: string[][] } {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return { header: lines[0], rows: lines.slice(1).map((l) => l.split(',')) };
}

test('eval --json: one JSON object with accuracy, n, per-class keys and a confusion CSV whose rows sum to the class counts', async () => {
  await ready;
  const confusion = path.join(tmp, 'confusion.csv');
  const out = ok(cli('eval', '--run', run, '--data', testDir, '--json', '--confusion', confusion, '--threads', '1'), 'eval');
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, `stdout should be one JSON line:\n${out}`);
  const r = JSON.parse(lines[0]) as { accuracy: number; n: number; per_class: Record<string, number | null>; confusion: number[][] };
  assert.equal(r.n, 12);
  assert.ok(r.accuracy >= 0 && r.accuracy <= 1, `accuracy ${r.accuracy}`);
  assert.deepEqual(Object.keys(r.per_class).sort(), CLASSES);
  const csv = readCsv(confusion);
  assert.equal(csv.header, ['true\\predicted', ...CLASSES].join(','));
  assert.equal(csv.rows.length, CLASSES.length);
  let diag = 0;
  csv.rows.forEach((row, i) => {
    assert.equal(row[0], CLASSES[i]);
    const counts = row.slice(1).map(Number);
    assert.equal(counts.reduce((a, b) => a + b, 0), TEST_COUNTS[CLASSES[i]], `row ${CLASSES[i]}`);
    assert.deepEqual(counts, r.confusion[i]);
    assert.equal(r.per_class[CLASSES[i]], counts[i] / TEST_COUNTS[CLASSES[i]]);
    diag += counts[i];
  });
  assert.equal(r.accuracy, diag / 12);
  // A missing --data is a user error, one line.
  oneLineError(cli('eval', '--run', run, '--data', path.join(tmp, 'nope')), /nope/);
});

const HEADER = 'path,label,class_index,confidence,margin,accepted,error';

test('pseudo-label: exact header; shards 0/3, 1/3, 2/3 cover the input once with the unsharded labels; bad shard exits 2', async () => {
  await ready;
  const full = path.join(tmp, 'pl-full.csv');
  ok(cli('pseudo-label', '--run', run, '--input', dump, '--out', full, '--threshold', '0.5'), 'pseudo-label');
  const f = readCsv(full);
  assert.equal(f.header, HEADER);
  assert.equal(f.rows.length, 11);
  const byPath = new Map(f.rows.map((r) => [r[0], r]));
  assert.equal(byPath.size, 11);
  for (const [p, label, idx, conf, margin, acc, error] of f.rows) {
    assert.ok(fs.existsSync(p), `${p} is not a file`);
    assert.equal(label, CLASSES[Number(idx)]);
    assert.ok(Number(conf) >= 1 / 3 - 1e-6 && Number(conf) <= 1, `confidence ${conf}`);
    // Three classes: the runner-up has at most (1 - conf) / 1 and at least (1 - conf) / 2 of the probability.
    assert.ok(Number(margin) <= Number(conf) - (1 - Number(conf)) / 2 + 2e-6 && Number(margin) >= 2 * Number(conf) - 1 - 2e-6, `margin ${margin} at confidence ${conf}`);
    assert.equal(acc, Number(conf) >= 0.5 ? '1' : '0');
    assert.equal(error, '');
  }
  const seen = new Map<string, number>();
  const sizes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(tmp, `pl-${i}.csv`);
    ok(cli('pseudo-label', '--run', run, '--input', dump, '--out', file, '--threshold', '0.5', '--shard', `${i}/3`), `shard ${i}/3`);
    const s = readCsv(file);
    assert.equal(s.header, HEADER);
    sizes.push(s.rows.length);
    for (const row of s.rows) {
      seen.set(row[0], (seen.get(row[0]) ?? 0) + 1);
      assert.deepEqual(row, byPath.get(row[0]), `shard ${i}/3 row for ${row[0]}`);
    }
  }
  assert.deepEqual([...seen.keys()].sort(), [...byPath.keys()].sort());
  assert.ok([...seen.values()].every((v) => v === 1), 'a path appears in more than one shard');
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `shard sizes ${sizes}`);
  for (const bad of ['3/3', '-1/3', '1/0', 'x']) {
    oneLineError(cli('pseudo-label', '--run', run, '--input', dump, '--out', path.join(tmp, 'bad.csv'), `--shard=${bad}`), /shard/);
  }
  assert.ok(!fs.existsSync(path.join(tmp, 'bad.csv')));
});

/** Decodes PNGs the way a user of model.onnx would: RGB, HWC → CHW, uint8. */
async function loadChw(files: string[]): Promise<Uint8Array> {
  const out = new Uint8Array(files.length * 3 * 64);
  for (let n = 0; n < files.length; n++) {
    const { data, info } = await sharp(files[n]).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width * info.height * info.channels, 192);
    for (let i = 0; i < 64; i++) for (let c = 0; c < 3; c++) out[n * 192 + c * 64 + i] = data[i * 3 + c];
  }
  return out;
}

test('export-model: model.onnx runs in a fresh onnxruntime session on uint8 images and agrees with pseudo-label and eval', async () => {
  await ready;
  const model = path.join(tmp, 'model.onnx');
  ok(cli('export-model', '--run', run, '--out', model), 'export-model');
  const session = await ort.InferenceSession.create(model);
  assert.deepEqual(session.inputNames, ['images']);
  for (const o of ['logits', 'probs', 'label']) assert.ok(session.outputNames.includes(o), `output ${o}`);

  // The test folder: pseudo-label it (paths + labels), and compare with the ONNX model's argmax.
  const pl = path.join(tmp, 'pl-test.csv');
  ok(cli('pseudo-label', '--run', run, '--input', testDir, '--out', pl), 'pseudo-label test');
  const rows = readCsv(pl).rows;
  assert.equal(rows.length, 12);
  const images = await loadChw(rows.map((r) => r[0]));
  const out = await session.run({ images: new ort.Tensor('uint8', images, [rows.length, 3, 8, 8]) });
  const logits = out.logits.data as Float32Array;
  const probs = out.probs.data as Float32Array;
  const label = out.label.data as BigInt64Array;
  assert.deepEqual(out.logits.dims, [12, 3]);
  const confusion = CLASSES.map(() => CLASSES.map(() => 0));
  rows.forEach(([p, name, idx, conf], n) => {
    const l = Array.from(logits.subarray(n * 3, n * 3 + 3));
    const argmax = l.indexOf(Math.max(...l));
    assert.equal(argmax, Number(idx), `${p}: model.onnx says ${argmax}, pseudo-label says ${idx}`);
    assert.equal(Number(label[n]), argmax);
    assert.equal(name, CLASSES[argmax]);
    assert.ok(Math.abs(probs[n * 3 + argmax] - Number(conf)) < 1e-5, `${p}: prob ${probs[n * 3 + argmax]} vs confidence ${conf}`);
    confusion[CLASSES.indexOf(path.basename(path.dirname(p)))][argmax]++;
  });
  // eval's confusion matrix on the same folder is the one the ONNX predictions give.
  const r = JSON.parse(ok(cli('eval', '--run', run, '--data', testDir, '--json', '--confusion', path.join(tmp, 'c2.csv')), 'eval'));
  assert.deepEqual(r.confusion, confusion);

  // Class names in the model's metadata_props.
  const props = decodeModel(fs.readFileSync(model)).metadataProps ?? [];
  const classes = props.find((p) => p.key === 'classes');
  assert.ok(classes, `no 'classes' in metadata: ${props.map((p) => p.key).join(', ')}`);
  assert.deepEqual(JSON.parse(classes.value as string), CLASSES);
  await session.release();
});
