// pseudo-label as a production job: kill -9 at random moments and SIGTERM, then the same command again, give the
// rows of an uninterrupted run byte for byte, and the meta says it resumed; shards 0..3 of 4 merge into exactly the
// one-shard file, while shards of another model, a missing shard and an overlapping one are refused (exit 2, one
// line); file and class names that a spreadsheet would run as formulas, or that need quoting, round-trip through a
// CSV reader (fast-csv) with no cell starting with a formula character; logs get one progress line per 10%.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { parseString } from 'fast-csv';
import sharp from 'sharp';
import { csvCell, topTwo, uncsvCell } from '../src/algorithm/label-rows.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-pl-stream-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

function cli(args: string[], opts: SpawnSyncOptions = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...opts }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
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

let seed = 777;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

/** An 8×8 RGB PNG whose dominant channel is `c` (0 red, 1 green, 2 blue), with noise. */
async function writeImage(file: string, c: number): Promise<void> {
  const px = Buffer.alloc(8 * 8 * 3);
  for (let i = 0; i < 64; i++) for (let k = 0; k < 3; k++) px[i * 3 + k] = Math.round((k === c ? 170 : 20) + rnd() * 60);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(file);
}

const art = path.join(tmp, 'art');
const runA = path.join(tmp, 'run-a');
const runB = path.join(tmp, 'run-b');
const dump = path.join(tmp, 'dump');
const DUMP_IMAGES = 600;
// Class names a spreadsheet would take for formulas (run B), so the label column is exercised too.
const ODD_CLASSES = ['+green', '-red', '=blue'];
let trainStderr = '';

const ready = (async () => {
  for (const [k, c] of ['red', 'green', 'blue'].entries()) for (let i = 0; i < 6; i++) await writeImage(path.join(tmp, 'labeled', c, `${i}.png`), k);
  for (const [k, c] of ODD_CLASSES.entries()) for (let i = 0; i < 6; i++) await writeImage(path.join(tmp, 'labeled-odd', c, `${i}.png`), k);
  for (let i = 0; i < DUMP_IMAGES; i++) await writeImage(path.join(dump, `d${Math.floor(i / 100)}`, `${String(i).padStart(4, '0')}.png`), i % 3);
  // Files that are not images become rows with the reason.
  fs.writeFileSync(path.join(dump, 'd1', 'notes.txt'), 'not an image\n');
  fs.writeFileSync(path.join(dump, 'd2', 'empty.png'), '');
  fs.writeFileSync(path.join(dump, 'd3', 'truncated.png'), fs.readFileSync(path.join(dump, 'd3', '0300.png')).subarray(0, 40));
  ok(cli(['export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '3', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art]), 'export');
  const train = (labeled: string, out: string, s: string, steps: string) => cli(['train', '--artifacts', art, '--labeled', labeled,
    '--labels-per-class', '3', '--val-per-class', '2', '--out', out, '--steps', steps, '--eval-every', '10', '--log-every', '10',
    '--warmup-steps', '2', '--lr', '2e-3', '--threads', '1', '--seed', s]);
  const a = train(path.join(tmp, 'labeled'), runA, '0', '20');
  ok(a, 'train A');
  trainStderr = a.stderr;
  ok(train(path.join(tmp, 'labeled-odd'), runB, '1', '10'), 'train B');
})();

const label = (run: string, out: string, ...extra: string[]) =>
  ['pseudo-label', '--run', run, '--input', dump, '--out', out, '--threshold', '0.5', '--batch', '4', '--threads', '1', ...extra];

interface Meta { resumed: boolean; resumes: unknown[]; counts: Record<string, number>; shard: { start: number; end: number };
  model: { sha256: string }; output: { sha256: string } }
const meta = (file: string) => JSON.parse(fs.readFileSync(`${file}.meta.json`, 'utf8')) as Meta;

/** The last finished item in a journal, or -1 when it has none yet. */
function journalEnd(file: string): number {
  if (!fs.existsSync(file)) return -1;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]) as { end?: number };
      if (typeof v.end === 'number') return v.end;
    } catch { /* torn line */ }
  }
  return -1;
}

/** Starts the job, waits until its journal reaches `atLeast` items (plus a random few ms), sends `sig`. */
async function interrupt(args: string[], journal: string, atLeast: number, sig: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
  const deadline = Date.now() + 60_000;
  while (journalEnd(journal) < atLeast && child.exitCode === null) {
    assert.ok(Date.now() < deadline, 'the job made no progress');
    await new Promise((r) => setTimeout(r, 1));
  }
  // A short random delay: on an idle machine a tiny batch takes about a millisecond, so a long one outruns the job.
  await new Promise((r) => setTimeout(r, Math.floor(rnd() * 3)));
  child.kill(sig);
  const e = await exited;
  return { ...e, stderr };
}

const ITEMS = DUMP_IMAGES + 3;

test('kill -9 three times at random moments, then the same command: rows identical to an uninterrupted run, meta says resumed', async () => {
  await ready;
  const ref = path.join(tmp, 'ref.csv');
  ok(cli(label(runA, ref)), 'reference run');
  assert.equal(meta(ref).resumed, false);
  const out = path.join(tmp, 'killed.csv');
  const journal = `${out}.journal`;
  const reached: number[] = [];
  // Kill points: somewhere in each of three stretches of the job, chosen at random.
  for (const [lo, hi] of [[0.05, 0.25], [0.3, 0.5], [0.55, 0.75]]) {
    const target = Math.floor(ITEMS * (lo + (hi - lo) * rnd()));
    const r = await interrupt(label(runA, out), journal, target, 'SIGKILL');
    assert.equal(r.signal, 'SIGKILL', `the job ended by itself before the kill (exit ${r.code}):\n${r.stderr}`);
    assert.ok(!fs.existsSync(out), 'the output was finished before the kill');
    reached.push(journalEnd(journal));
  }
  assert.ok(reached[0] < reached[1] && reached[1] < reached[2], `journal positions ${reached}`);
  const last = cli(label(runA, out));
  ok(last, 'resumed run');
  assert.match(last.stderr, new RegExp(`resuming .*killed\\.csv: ${reached[2]} of ${ITEMS} images already labeled`));
  assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(ref, 'utf8'));
  const m = meta(out);
  assert.equal(m.resumed, true);
  assert.equal(m.resumes.length, 3);
  assert.deepEqual(m.counts, meta(ref).counts);
  assert.equal(m.counts.unreadable, 3);
  assert.equal(m.counts.rows, ITEMS);
  assert.equal(m.counts.accepted + m.counts.rejected + m.counts.unreadable, ITEMS);
  for (const f of [journal, `${out}.partial`]) assert.ok(!fs.existsSync(f), `${f} was left behind`);
  // The unreadable files are rows with a reason; every line ends with a newline.
  const text = fs.readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'));
  assert.match(text, /d1\/notes\.txt,,,,,0,not an image file type \(\.txt\)\n/);
  assert.match(text, /d2\/empty\.png,,,,,0,empty file \(0 bytes\)\n/);
  assert.match(text, /d3\/truncated\.png,,,,,0,cannot decode: /);
});

test('SIGTERM finishes the batch and the journal, exits 5 with a message; JSONL resumed equals JSONL uninterrupted', async () => {
  await ready;
  const ref = path.join(tmp, 'ref.jsonl');
  ok(cli(label(runA, ref, '--format', 'jsonl')), 'reference jsonl');
  const out = path.join(tmp, 'term.jsonl');
  const r = await interrupt(label(runA, out, '--format', 'jsonl'), `${out}.journal`, Math.floor(ITEMS * 0.3), 'SIGTERM');
  assert.equal(r.code, 5, r.stderr);
  const stopped = /stopped by SIGTERM after (\d+) of (\d+) images/.exec(r.stderr);
  assert.ok(stopped, r.stderr);
  // Stopped at a batch boundary that the journal holds.
  assert.equal(Number(stopped[1]), journalEnd(`${out}.journal`));
  assert.equal(Number(stopped[1]) % 4, 0);
  ok(cli(label(runA, out, '--format', 'jsonl')), 'resumed jsonl');
  const text = fs.readFileSync(out, 'utf8');
  assert.equal(text, fs.readFileSync(ref, 'utf8'));
  const rows = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rows.length, ITEMS);
  for (const row of rows) {
    if (row.error !== null) continue;
    assert.equal(row.accepted, (row.confidence as number) >= 0.5);
    assert.ok((row.margin as number) >= 0 && (row.margin as number) <= (row.confidence as number));
  }
  assert.equal(meta(out).resumed, true);
  // A journal of another job (another threshold) is refused, not continued.
  const other = path.join(tmp, 'other.csv');
  await interrupt(label(runA, other), `${other}.journal`, 8, 'SIGKILL');
  oneLineError(cli([...label(runA, other), '--threshold', '0.9']), /belongs to another pseudo-label job \(threshold differs\)/);
});

test('merge-labels: shards 0..3 of 4 give the one-shard file byte for byte; another model, a missing and an overlapping shard exit 2', async () => {
  await ready;
  const ref = path.join(tmp, 'ref.csv');
  if (!fs.existsSync(ref)) ok(cli(label(runA, ref)), 'reference run');
  const shards = [0, 1, 2, 3].map((i) => path.join(tmp, `shard-${i}.csv`));
  shards.forEach((f, i) => ok(cli(label(runA, f, '--shard', `${i}/4`)), `shard ${i}/4`));
  const merged = path.join(tmp, 'merged.csv');
  ok(cli(['merge-labels', shards[2], shards[0], shards[3], shards[1], '--out', merged]), 'merge');
  assert.equal(fs.readFileSync(merged, 'utf8'), fs.readFileSync(ref, 'utf8'));
  const m = meta(merged);
  assert.deepEqual(m.counts, meta(ref).counts);
  assert.deepEqual(m.shard, { index: null, count: null, start: 0, end: ITEMS });

  const bShard = path.join(tmp, 'shard-b-1.csv');
  ok(cli(label(runB, bShard, '--shard', '1/4')), 'shard of model B');
  assert.notEqual(meta(bShard).model.sha256, meta(shards[1]).model.sha256);
  const bad = path.join(tmp, 'bad-merge.csv');
  oneLineError(cli(['merge-labels', shards[0], bShard, shards[2], shards[3], '--out', bad]), /come from different models/);
  oneLineError(cli(['merge-labels', shards[0], shards[1], shards[3], '--out', bad]),
    new RegExp(`items ${meta(shards[2]).shard.start}\\.\\.${meta(shards[2]).shard.end - 1} of ${ITEMS} are in none of the given files`));
  const half = path.join(tmp, 'half-1.csv');
  ok(cli(label(runA, half, '--shard', '1/2')), 'shard 1/2');
  oneLineError(cli(['merge-labels', ...shards, half, '--out', bad]), /overlap/);
  // A shard edited after it was written no longer matches its meta.
  const edited = path.join(tmp, 'edited.csv');
  fs.copyFileSync(shards[0], edited);
  fs.copyFileSync(`${shards[0]}.meta.json`, `${edited}.meta.json`);
  fs.appendFileSync(edited, 'x.png,red,0,0.9,0.8,1,\n');
  oneLineError(cli(['merge-labels', edited, ...shards.slice(1), '--out', bad]), /does not match the sha256/);
  assert.ok(!fs.existsSync(bad), 'a refused merge wrote its output');
});

test('CSV safety: formula-like, quoted, multi-line and non-ASCII names round-trip through fast-csv; no cell starts with a formula character', async () => {
  await ready;
  const names = ['=SUM(A1).png', '+1.png', '-2.png', '@cmd.png', '\tTab.png', '\rCR.png', "'quote-first.png",
    'comma,name.png', 'dq"uote.png', 'new\nline.png', 'naïve-日本語-😀.png', 'plain.png'];
  const dir = path.join(tmp, 'odd-names');
  for (const [i, n] of names.entries()) await writeImage(path.join(dir, n), i % 3);
  // Run inside the folder with --input . so the path cells are the bare names (a formula character first).
  const out = path.join(tmp, 'odd.csv');
  ok(cli(['pseudo-label', '--run', runB, '--input', '.', '--out', out, '--threads', '1'], { cwd: dir }), 'pseudo-label odd names');
  const text = fs.readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'));
  const rows = await new Promise<Record<string, string>[]>((done, fail) => {
    const got: Record<string, string>[] = [];
    parseString<Record<string, string>, Record<string, string>>(text, { headers: true })
      .on('data', (r: Record<string, string>) => got.push(r)).on('error', fail).on('end', () => done(got));
  });
  assert.equal(rows.length, names.length);
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) assert.doesNotMatch(v, /^[=+\-@\t\r]/, `cell ${k} = ${JSON.stringify(v)} starts with a formula character`);
  }
  assert.deepEqual(rows.map((r) => uncsvCell(r.path)).sort(), names.slice().sort());
  for (const r of rows) {
    assert.ok(ODD_CLASSES.includes(uncsvCell(r.label)), `label ${r.label}`);
    assert.equal(uncsvCell(r.label), ODD_CLASSES[Number(r.class_index)]);
  }
  // Known answers of the cell rule.
  assert.equal(csvCell('=1+2'), "'=1+2");
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('-x"y'), '"\'-x""y"');
  assert.equal(csvCell("'already"), "''already");
  assert.equal(csvCell('fine'), 'fine');
});

test('topTwo: argmax, softmax confidence and the margin to the runner-up, against a direct computation', () => {
  const logits = new Float32Array([1, 3, 2, 0, 0, 0, -1, 5, 5]);
  const { label, conf, margin } = topTwo(logits, 3);
  const soft = (r: number[]) => { const e = r.map(Math.exp); const z = e.reduce((a, b) => a + b); return e.map((v) => v / z); };
  const p0 = soft([1, 3, 2]);
  assert.equal(label[0], 1);
  assert.ok(Math.abs(conf[0] - p0[1]) < 1e-6 && Math.abs(margin[0] - (p0[1] - p0[2])) < 1e-6);
  assert.equal(label[1], 0);
  assert.ok(Math.abs(conf[1] - 1 / 3) < 1e-6 && Math.abs(margin[1]) < 1e-7);
  assert.equal(label[2], 1); // a tie goes to the first
  assert.ok(Math.abs(margin[2]) < 1e-7);
});

test('progress in logs: with stderr not a terminal, pseudo-label and train print one line per 10%, each on its own line', async () => {
  await ready;
  const r = cli(label(runA, path.join(tmp, 'progress.csv')));
  ok(r, 'pseudo-label');
  assert.ok(!r.stderr.includes('\r'), 'carriage returns in a log');
  const deciles = [...r.stderr.matchAll(/^pseudo-label .*progress\.csv: (\d+)% \((\d+)\/(\d+) images/gm)].map((m) => Number(m[1]));
  assert.deepEqual(deciles, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.ok(!trainStderr.includes('\r'));
  const steps = [...trainStderr.matchAll(/^train: (\d+)% \((\d+)\/20 steps/gm)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(steps.map(([d]) => d), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  for (const [d, s] of steps.slice(1)) assert.equal(s, d / 5, `the ${d}% line came at step ${s}`);
});
