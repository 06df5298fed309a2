// Bad input through the train and eval commands: broken unlabeled files are skipped with a warning each and
// counted, never stopping the run; broken labeled sources stop with exit 2 and one line naming file and row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-data-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function oneLineError(r: ReturnType<typeof cli>, ...res: RegExp[]): string {
  assert.equal(r.status, 2, `expected exit 2, got ${r.status}:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
  assert.equal(lines.length, 1, `expected one error line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^ssmae: error: /);
  for (const re of res) assert.match(lines[0], re);
  return lines[0];
}

async function gray(file: string, v: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const px = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) px[i] = Math.max(0, Math.min(255, v + ((i * 37) % 23) - 11));
  await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(file);
}

const CLASSES = ['a', 'b', 'c'];
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const ready = (async () => {
  for (const [k, c] of CLASSES.entries()) for (let i = 0; i < 4; i++) await gray(path.join(labeled, c, `${i}.png`), 40 + 80 * k + i);
  const r = cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art);
  assert.equal(r.status, 0, r.stderr);
})();

// Runs without --out share one scratch run directory, replaced each time (--overwrite).
const train = (...extra: string[]) => cli('train', '--artifacts', art, '--steps', '2', '--quiet', '--threads', '1',
  ...(extra.includes('--val-per-class') ? [] : ['--val-per-class', '1']), ...(extra.includes('--out') ? [] : ['--out', path.join(tmp, 'run'), '--overwrite']), ...extra);

test('train skips a truncated JPEG, a text file named .png, an empty file and an empty folder, warns about each, counts them', async () => {
  await ready;
  const dump = path.join(tmp, 'dump');
  await gray(path.join(dump, 'good1.png'), 100);
  await gray(path.join(dump, 'deep', 'good2.png'), 150);
  const px = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 256;
  const jpeg = await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  const bad = {
    truncated: path.join(dump, 'truncated.jpg'),
    text: path.join(dump, 'notes.png'),
    empty: path.join(dump, 'deep', 'empty.png'),
    folder: path.join(dump, 'nothing-here'),
  };
  fs.writeFileSync(bad.truncated, jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  fs.writeFileSync(bad.text, 'this is not an image\n');
  fs.writeFileSync(bad.empty, '');
  fs.mkdirSync(bad.folder);
  const r = train('--labeled', labeled, '--unlabeled', dump);
  assert.equal(r.status, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  for (const [what, file] of Object.entries(bad)) {
    assert.ok(warnings.some((w) => w.includes(file)), `no warning names the ${what} entry ${file}:\n${r.stderr}`);
  }
  assert.ok(!warnings.some((w) => w.includes('good1.png') || w.includes('good2.png')), r.stderr);
  const summary = r.stdout.split('\n').find((l) => l.startsWith('data:'));
  assert.ok(summary, r.stdout);
  assert.match(summary, /\b9 labeled\b/);
  assert.match(summary, /\b3 validation\b/);
  assert.match(summary, /\b2 unlabeled\b/);
  assert.match(summary, /\b4 files skipped\b/);
  assert.match(r.stdout, /done: step 2/);
});

test('labeled CSV: a label outside the class list, or a missing image, exits 2 naming the file and row', async () => {
  await ready;
  const rel = (c: string, i: number) => path.relative(tmp, path.join(labeled, c, `${i}.png`));
  const rows = CLASSES.flatMap((c) => [0, 1, 2, 3].map((i) => `${rel(c, i)},${c}`));
  // eval checks labels against the run's classes: a run to evaluate against.
  const run = path.join(tmp, 'run-csv');
  const t = train('--labeled', labeled, '--labels-per-class', '2', '--out', run);
  assert.equal(t.status, 0, t.stderr);
  const badLabel = path.join(tmp, 'bad-label.csv');
  fs.writeFileSync(badLabel, ['path,label', ...rows.slice(0, 5), `${rel('a', 0)},purple`, ...rows.slice(5)].join('\n') + '\n');
  oneLineError(cli('eval', '--run', run, '--data', badLabel), new RegExp(`${badLabel}, row 7\\b`), /purple/);
  // In train the CSV defines the classes: a typo is a fourth class, which does not match the artifacts.
  oneLineError(train('--labeled', badLabel), /purple/, /--classes/);
  const missing = path.join(tmp, 'missing.csv');
  fs.writeFileSync(missing, ['path,label', ...rows.slice(0, 2), 'labeled/a/nope.png,a', ...rows.slice(2)].join('\n') + '\n');
  oneLineError(train('--labeled', missing), new RegExp(`${missing}, row 4\\b`), /nope\.png/);
  oneLineError(cli('eval', '--run', run, '--data', missing), new RegExp(`${missing}, row 4\\b`), /nope\.png/);
});

test('an empty labeled folder, or one whose images all go to validation, exits 2 with one line naming it', async () => {
  await ready;
  const empty = path.join(tmp, 'empty-labeled');
  fs.mkdirSync(empty);
  oneLineError(train('--labeled', empty), new RegExp(empty));
  fs.mkdirSync(path.join(empty, 'a'));
  fs.mkdirSync(path.join(empty, 'b'));
  oneLineError(train('--labeled', empty), new RegExp(empty));
  // 4 images per class, 4 for validation: none left to train on.
  oneLineError(train('--labeled', labeled, '--val-per-class', '4', '--unlabeled', labeled), new RegExp(labeled), /--val-per-class/);
});
