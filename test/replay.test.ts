// --pseudo-replay F: the pool of the teacher's latest selections (replay.ts), how a step on the labels draws from it
// (batches.ts), and end to end: the pool's logged size is the number of distinct unlabeled images the joint steps
// selected, replay changes the model, and a resumed run is byte-identical to one that ran straight through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ReplayPool } from '../src/algorithm/replay.js';
import { BatchSource } from '../src/algorithm/batches.js';
import { resolveConfig } from '../src/algorithm/config.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { readMetrics, type Row } from '../src/algorithm/metrics.js';
import type { SplitData } from '../src/algorithm/data.js';
import type { Manifest } from '../src/artifacts/manifest.js';
import { exportArtifacts } from '../src/artifacts/export.js';
import { augmentBatch } from '../src/data/augment.js';
import { Rng } from '../src/data/rng.js';
import { Sampler } from '../src/data/sampler.js';
import { MemoryStore } from '../src/data/store.js';
import type { ImageSet } from '../src/data/types.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

test('the pool: selected images join with their label, unselected ones leave, a re-selection relabels', () => {
  const p = new ReplayPool(10);
  p.update([1, 2, 3], [4n, 5n, 6n], [1, 0, 0.5]);
  assert.equal(p.size, 2);
  assert.deepEqual([1, 2, 3].map((i) => p.labelOf(i)), [4, -1, 6]);
  p.update([3, 1, 7], [9n, 4n, 2n], [1, 0, 1]); // 3 relabelled, 1 leaves, 7 joins
  assert.equal(p.size, 2);
  assert.deepEqual([1, 3, 7].map((i) => p.labelOf(i)), [-1, 9, 2]);
  p.update([8], [0n], [0]); // leaving a pool it is not in changes nothing
  assert.equal(p.size, 2);
  assert.throws(() => p.update([10], [0n], [1]), /image index 10 is outside the unlabeled set \(0\.\.9\)/);
  assert.throws(() => p.update([1, 2], [0n], [1, 1]), /2 indices, 1 labels, 2 weights/);
  // Precision over the members with a known hidden label: 3 → 9 wrong, 7 → 2 right.
  const hidden = new Int32Array(10).fill(-1);
  hidden[3] = 1;
  hidden[7] = 2;
  assert.equal(p.precision(hidden), 0.5);
  hidden[3] = -1;
  assert.equal(p.precision(hidden), 1);
  assert.equal(p.precision(null), null);
  assert.equal(new ReplayPool(3).precision(new Int32Array(3)), null, 'an empty pool has no precision');
});

test('draws are uniform over the members, with their labels; an empty pool draws nothing; the state restores the same draws', () => {
  const p = new ReplayPool(100);
  p.update([10, 20, 30, 40, 50], [0n, 1n, 2n, 3n, 4n], [1, 1, 1, 1, 1]);
  p.update([20], [1n], [0]); // a removal moves the last member into its place: the draw must still cover every member
  const rng = new Rng(5);
  const counts = new Map<number, number>();
  const N = 40000;
  const d = p.draw(rng, N);
  const want = new Map([[10, 0], [30, 2], [40, 3], [50, 4]]);
  for (let j = 0; j < N; j++) {
    assert.equal(d.label[j], want.get(d.index[j]), `draw ${j}: image ${d.index[j]} with label ${d.label[j]}`);
    counts.set(d.index[j], (counts.get(d.index[j]) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [10, 30, 40, 50]);
  // Each member 1/4 of the draws: 10,000 ± 87 (one binomial standard deviation); 5 deviations is a real bias.
  for (const c of counts.values()) assert.ok(Math.abs(c - N / 4) < 5 * Math.sqrt(N * 0.25 * 0.75), `a member was drawn ${c} times of ${N}`);
  assert.equal(new ReplayPool(4).draw(rng, 8).index.length, 0);
  // A pool rebuilt from its state draws the same sequence from the same generator state.
  const q = new ReplayPool(100, p.state());
  const s = rng.state();
  assert.deepEqual(Array.from(q.draw(new Rng(s), 50).index), Array.from(p.draw(new Rng(s), 50).index));
  assert.deepEqual(q.state(), p.state());
});

/** A set of n 4×4 gray images whose pixels all hold their index (so every image differs), labels 0..n-1 mod 3. */
function set(n: number, labeled: boolean): ImageSet {
  const px = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) px.fill(20 + 7 * i, i * 16, (i + 1) * 16);
  return {
    images: new MemoryStore(px, 1, 4), n, channels: 1, size: 4, classes: ['a', 'b', 'c'], paths: [], skipped: [],
    labels: Int32Array.from({ length: n }, (_, i) => (labeled ? i % 3 : -1)),
  };
}

test('a step with replay: the last round(F·Bl) places hold strong views of drawn pool images with their pseudo-labels', () => {
  const data: SplitData = { labeled: set(9, true), val: set(3, true), unlabeled: set(12, false) };
  const m = { labeledBatch: 8, unlabeledBatch: 4, channels: 1, imageSize: 4, dtype: 'float32' } as Manifest;
  const cfg = { seed: 3, flip: false, cropPad: 1, cutmix: 0, pseudoReplay: 0.3 };
  const pool = new ReplayPool(12);
  pool.update([2, 5, 11], [1n, 2n, 0n], [1, 1, 1]);
  const b = new BatchSource(data, m, cfg).next(pool);

  // The same draws made by hand: 0.3 · 8 → 2 replayed places; the labeled sampler fills the other 6.
  const replayed = pool.draw(Rng.derive(3, 'replay'), 2);
  const li = new Sampler(9, 3 * 2 + 1).next(6);
  const aug = Rng.derive(3, 'augment');
  const opts = { weak: { flip: false, pad: 1 }, strong: { n: 2, magnitude: 5, cutout: 0.3 } };
  const weak = augmentBatch(data.labeled, li, 'weak', aug, opts);
  const strong = augmentBatch(data.unlabeled, replayed.index, 'strong', aug, opts);
  assert.deepEqual(Array.from(b.feeds.labels.data as BigInt64Array, Number), [...Array.from(li, (i) => i % 3), ...replayed.label]);
  assert.deepEqual(Array.from(b.feeds.images_labeled.data as Uint8Array), [...weak, ...strong]);
  assert.ok(replayed.label.every((l, j) => l === pool.labelOf(replayed.index[j])));

  // An empty pool, or no pool, is the batch without replay, byte for byte.
  const plain = new BatchSource(data, m, { ...cfg, pseudoReplay: 0 }).next();
  const empty = new BatchSource(data, m, cfg).next(new ReplayPool(12));
  for (const k of Object.keys(plain.feeds)) {
    assert.deepEqual(Array.from(empty.feeds[k].data as ArrayLike<number | bigint>), Array.from(plain.feeds[k].data as ArrayLike<number | bigint>), k);
  }
  // The replay stream goes into checkpoints only when replay is on.
  assert.ok(new BatchSource(data, m, cfg).rngStates().replay);
  assert.equal(new BatchSource(data, m, { ...cfg, pseudoReplay: 0 }).rngStates().replay, undefined);
});

test('--pseudo-replay: a share in [0, 1), and only with steps on the labels to fill', () => {
  const base = { artifacts: 'a', labeled: 'l', out: 'o' };
  assert.equal(resolveConfig(base).pseudoReplay, 0, 'off by default');
  assert.throws(() => resolveConfig({ ...base, pseudoReplay: 1, labeledSteps: 2 }), /--pseudo-replay must be a share in \[0, 1\), got 1/);
  assert.throws(() => resolveConfig({ ...base, pseudoReplay: 0.5 }), /pass --labeled-steps N \(N ≥ 1\) with it/);
  // Methods without joint steps take it without effect, like --labeled-steps.
  assert.equal(resolveConfig({ ...base, method: 'labels-only', pseudoReplay: 0.5 }).pseudoReplay, 0.5);
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-replay-'));
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
/** no-gate with τ 0: every joint step selects all 4 unlabeled images of its batch, so the pool's size is known. */
const train = (out: string, replay: string, ...extra: string[]) => cli('train', '--artifacts', art, '--labeled', labeled,
  '--labels-per-class', '4', '--val-per-class', '2', '--method', 'no-gate', '--tau', '0', '--labeled-steps', '2',
  '--pseudo-replay', replay, '--warmup-steps', '50', '--log-every', '1', '--eval-every', '1', '--checkpoint-every', '100',
  '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'), '--out', out, ...extra);
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const checkpointOf = (run: string) => loadCheckpoint(path.join(run, 'checkpoint.safetensors'));
const noTime = (rows: Row[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('time/'))));

test('end to end: the pool holds every image the joint steps selected; replay trains another model; resume is byte-identical', async () => {
  await ready;
  const whole = path.join(tmp, 'whole');
  ok(train(whole, '0.5', '--steps', '9'), 'train 9 steps');
  // 12 unlabeled images (24 − 8 labeled − 4 validation). The unlabeled sampler draws 4 of them at each joint step
  // (steps 1, 4, 7; the steps on the labels draw none), and each selects all 4 of its draw: the pool is the distinct
  // images of those three draws, and the rows between joint steps repeat its size.
  const sampler = new Sampler(12, resolveConfig({ artifacts: 'a', labeled: 'l', out: 'o' }).seed * 2 + 2);
  const seen = new Set<number>();
  const want: number[] = [];
  for (let t = 1; t <= 9; t++) {
    if ((t - 1) % 3 === 0) sampler.next(4).forEach((i) => seen.add(i));
    want.push(seen.size);
  }
  assert.ok(want[8] > 4, 'the known answer does not grow');
  const rows = readMetrics(whole);
  assert.deepEqual(rows.map((r) => r['train/replay_pool']), want);
  for (const r of rows) {
    const p = r['train/replay_precision'] as number;
    assert.ok(p >= 0 && p <= 1, `step ${r.step}: precision ${p}`);
  }
  const c = checkpointOf(whole);
  assert.deepEqual([...c.loop.replay!.members].sort((a, b) => a - b), [...seen].sort((a, b) => a - b));
  assert.ok(c.loop.rngs.replay, 'the checkpoint has no replay stream');

  const off = path.join(tmp, 'off');
  ok(train(off, '0', '--steps', '9'), 'train 9 steps without replay');
  assert.ok(!readMetrics(off).some((r) => 'train/replay_pool' in r), 'replay off still logged a pool');
  const changed = [...c.model.p].some(([name, t]) => !bytes(t).equals(bytes(checkpointOf(off).model.p.get(name)!)));
  assert.ok(changed, 'replay 0.5 trained the same model as replay off');

  // Stopped after step 5 (inside the pattern, pool non-empty) and resumed: the same checkpoint and rows.
  const split = path.join(tmp, 'split');
  ok(train(split, '0.5', '--steps', '5'), 'train 5 steps');
  ok(train(split, '0.5', '--steps', '9', '--resume'), 'resume to step 9');
  const b = checkpointOf(split);
  for (const kind of ['p', 'm', 'v', 'ema'] as const) {
    for (const [name, t] of c.model[kind]) assert.ok(bytes(t).equals(bytes(b.model[kind].get(name)!)), `${kind}.${name} differs after resuming`);
  }
  assert.deepEqual(b.loop.replay, c.loop.replay);
  assert.deepEqual(noTime(readMetrics(split)), noTime(rows));
  // Another share would make the run one that no single run could have been: refused, naming the flag.
  const other = train(split, '0.25', '--steps', '12', '--resume');
  assert.equal(other.status, 2, other.stderr);
  assert.match(other.stderr, /pass --pseudo-replay 0.5 to continue it/);
});
