// The image store (src/data/store.ts) and the decoded-image cache it reads by offset: reads from the cache file equal
// the in-memory images for random index sets, views (subsets, concatenations) equal the copies they replace, a cache
// file damaged on disk is detected, and training from the file-backed store is bit-identical to training from memory.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTrainingData } from '../src/algorithm/data.js';
import { resolveConfig } from '../src/algorithm/config.js';
import { SSMAETrainer } from '../src/algorithm/trainer.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { CacheWriter, readCache } from '../src/data/cache.js';
import { Rng } from '../src/data/rng.js';
import { loadSource } from '../src/data/source.js';
import { ConcatStore, FileStore, MemoryStore, SubsetStore, readAll, type ImageStore } from '../src/data/store.js';
import { cli, ok, writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-store-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const C = 3;
const S = 5;
const PER = C * S * S;

/** n seeded random images. */
function randomImages(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n * PER }, () => rng.int(256));
}

/** The reference gather: image indices[k] of `bytes` copied to slot k, by plain index arithmetic. */
function gather(bytes: Uint8Array, indices: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(indices.length * PER);
  for (let k = 0; k < indices.length; k++) for (let j = 0; j < PER; j++) out[k * PER + j] = bytes[indices[k] * PER + j];
  return out;
}

/** Index sets that exercise the reader: shuffled, with repeats, consecutive runs, the ends, one, none. */
function indexSets(n: number, rng: Rng): number[][] {
  const sets: number[][] = [[], [0], [n - 1], Array.from({ length: n }, (_, i) => i), [3, 4, 5, 6, 0, 1, n - 2, n - 1, 7, 7, 7].map((i) => i % n)];
  for (let t = 0; t < 20; t++) sets.push(Array.from({ length: 1 + rng.int(2 * n) }, () => rng.int(n)));
  return sets;
}

/** The stores holding a view's bytes. */
function backings(s: ImageStore): ImageStore[] {
  if (s instanceof SubsetStore) return backings(s.base);
  if (s instanceof ConcatStore) return s.parts.flatMap(backings);
  return [s];
}

function writeStore(file: string, bytes: Uint8Array, chunks: number[]): FileStore {
  const w = new CacheWriter(file, C, S);
  let at = 0;
  for (const k of chunks) { w.append(bytes.subarray(at * PER, (at + k) * PER)); at += k; }
  const n = bytes.length / PER;
  return w.finish({ n, channels: C, size: S, classes: ['a'], paths: Array.from({ length: n }, (_, i) => `#${i}`), skipped: [],
    labels: new Int32Array(n) });
}

describe('image stores', () => {
  const n = 37;
  const bytes = randomImages(n, 1);
  const file = path.join(tmp, 'store.u8cache');
  const fileStore = writeStore(file, bytes, [10, 0, 20, 7]);
  const memory = new MemoryStore(bytes, C, S);

  test('a file-backed store and a memory store read exactly the reference gather for random index sets', () => {
    const rng = new Rng(2);
    for (const idx of indexSets(n, rng)) {
      const want = gather(bytes, idx);
      assert.deepEqual(fileStore.read(idx), want, `file store, indices ${idx.join(',')}`);
      assert.deepEqual(memory.read(idx), want, `memory store, indices ${idx.join(',')}`);
    }
    // Reopened from disk (the cache read path) it reads the same.
    const reopened = readCache(file);
    assert.ok(reopened && 'set' in reopened, 'the cache file opens');
    assert.ok(reopened.set.images instanceof FileStore);
    assert.deepEqual(readAll(reopened.set.images), bytes);
    (reopened.set.images as FileStore).close();
    assert.throws(() => memory.read([n]), /outside \[0, 37\)/);
    assert.throws(() => fileStore.read([-1]), /outside/);
    assert.throws(() => fileStore.read([1.5]), /outside/);
  });

  test('into a caller\'s buffer, with the bytes past the batch left alone', () => {
    const out = new Uint8Array(5 * PER).fill(9);
    fileStore.read([4, 2], out);
    assert.deepEqual(out.subarray(0, 2 * PER), gather(bytes, [4, 2]));
    assert.ok(out.subarray(2 * PER).every((v) => v === 9));
    assert.throws(() => fileStore.read([1, 2, 3, 4, 5, 6], out), /holds/);
  });

  test('views: a subset, a subset of a subset, and a concatenation read what copies of the images would hold', () => {
    const rng = new Rng(3);
    const pick = Array.from({ length: 25 }, () => rng.int(n));
    const sub = new SubsetStore(fileStore, pick);
    const subBytes = gather(bytes, pick);
    const pick2 = [24, 0, 3, 3, 10];
    const subsub = new SubsetStore(sub, pick2);
    const other = randomImages(11, 4);
    const cat = new ConcatStore([sub, new MemoryStore(other, C, S), subsub]);
    const catBytes = new Uint8Array([...subBytes, ...other, ...gather(subBytes, pick2)]);
    assert.equal(cat.n, 25 + 11 + 5);
    for (const [store, ref] of [[sub, subBytes], [subsub, gather(subBytes, pick2)], [cat, catBytes]] as [ImageStore, Uint8Array][]) {
      for (const idx of indexSets(store.n, rng)) assert.deepEqual(store.read(idx), gather(ref, idx), `indices ${idx.join(',')}`);
    }
    assert.throws(() => new SubsetStore(fileStore, [n]), /outside/);
    assert.throws(() => new ConcatStore([memory, new MemoryStore(new Uint8Array(2 * 25), 1, 5)]), /cannot join/);
  });

  test('a cache file cut short or damaged on disk is refused when opened, and one cut short while open fails its read', () => {
    const whole = fs.readFileSync(file);
    const copy = path.join(tmp, 'damaged.u8cache');
    const damages: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['one image byte flipped', (b) => { b[64 + 5 * PER + 3] ^= 1; return b; }, /sha256/],
      ['a label byte flipped', (b) => { b[64 + n * PER] ^= 1; return b; }, /sha256/],
      ['the digest flipped', (b) => { b[b.length - 1] ^= 1; return b; }, /sha256/],
      ['a prefix byte flipped', (b) => { b[40] ^= 1; return b; }, /sha256/],
      ['cut by one image', (b) => b.subarray(0, b.length - PER), /bytes, its prefix says/],
      ['cut to 10 bytes', (b) => b.subarray(0, 10), /shorter than any cache file/],
      ['not a cache', (b) => { b.write('NOTACACH', 0, 'latin1'); return b; }, /does not start like a cache file/],
    ];
    for (const [what, damage, why] of damages) {
      fs.writeFileSync(copy, damage(Buffer.from(whole)));
      const r = readCache(copy);
      assert.ok(r && 'damaged' in r, `${what}: not detected`);
      assert.match(r.damaged, why, what);
    }
    fs.writeFileSync(copy, whole);
    const r = readCache(copy);
    assert.ok(r && 'set' in r);
    fs.truncateSync(copy, 64 + 10 * PER);
    assert.throws(() => r.set.images.read([20]), /ended before image 20; it was cut short while in use/);
    assert.deepEqual(r.set.images.read([3]), gather(bytes, [3]));
  });
});

test('training from the file-backed store and from memory gives byte-identical checkpoints', async () => {
  const labeled = path.join(tmp, 'labeled');
  await writeTree(labeled, 10, 5);
  const art = path.join(tmp, 'art');
  ok(cli('export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
  const artifacts = loadArtifacts(art);
  const out = path.join(tmp, 'run');
  const train = async (cacheDir: string | undefined): Promise<{ checkpoint: Buffer; metrics: string[]; file: boolean }> => {
    fs.rmSync(out, { recursive: true, force: true });
    const data = await loadTrainingData({ labeled, unlabeled: null, labelsPerClass: 4, valPerClass: 2, seed: 3, size: 8, channels: 1, classes: 3,
      cacheDir, log: () => {} });
    const cfg = resolveConfig({ artifacts: art, labeled, out, labelsPerClass: 4, valPerClass: 2, steps: 6, evalEvery: 3, logEvery: 3,
      checkpointEvery: 6, seed: 3, threads: 1, method: 'no-gate', tau: 0.4 });
    const trainer = new SSMAETrainer(cfg, artifacts, data, {});
    await trainer.init(false);
    await trainer.train();
    await trainer.close();
    const file = [data.labeled, data.val, data.unlabeled].every((s) => backings(s.images).every((b) => b instanceof FileStore));
    const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !k.startsWith('time/')))));
    return { checkpoint: fs.readFileSync(path.join(out, 'checkpoint.safetensors')), metrics, file };
  };
  const memory = await train(undefined);
  const onDisk = await train(path.join(tmp, 'train-cache'));
  const again = await train(path.join(tmp, 'train-cache')); // the cache opened from disk, as a second run sees it
  assert.equal(memory.file, false, 'without a cache folder the images are in memory');
  assert.equal(onDisk.file, true, 'with a cache folder every set reads the cache file');
  assert.equal(again.file, true);
  assert.ok(onDisk.checkpoint.equals(memory.checkpoint), 'the checkpoint trained from the cache file differs from the in-memory one');
  assert.ok(again.checkpoint.equals(memory.checkpoint), 'the checkpoint trained from the reopened cache differs');
  assert.deepEqual(onDisk.metrics, memory.metrics);
  assert.equal(memory.metrics.length, 2);
});
