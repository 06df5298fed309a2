// Test-time augmentation (Classifier's tta 'flip'): the mirror image against index arithmetic written out here, the
// averaged distribution against the two softmaxes computed directly, and the classifier's output against two plain
// runs of the same weights on the image and on its mirror image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Classifier, meanSoftmaxLog, mirrored } from '../src/algorithm/classifier.js';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { Rng } from '../src/data/rng.js';
import { MemoryStore } from '../src/data/store.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-tta-'));

const softmax = (l: ArrayLike<number>, at: number, k: number) => {
  const row = Array.from({ length: k }, (_, j) => l[at + j]);
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};

test('mirrored flips every row of every channel left to right', () => {
  // 2 images × 2 channels × 3×3: value = 100·n + 10·c + 3·y + x.
  const S = 3;
  const px = Uint8Array.from({ length: 2 * 2 * S * S }, (_, i) => {
    const x = i % S, y = Math.floor(i / S) % S, c = Math.floor(i / (S * S)) % 2, n = Math.floor(i / (2 * S * S));
    return 100 * n + 10 * c + 3 * y + x;
  });
  const m = mirrored(px, S);
  for (let i = 0; i < px.length; i++) {
    const x = i % S;
    assert.equal(m[i], px[i - x + (S - 1 - x)]);
  }
  assert.deepEqual([...m.slice(0, 3)], [2, 1, 0]);
  assert.deepEqual([...mirrored(m, S)], [...px], 'mirroring twice gives the image back');
});

test('meanSoftmaxLog: its softmax is the mean of the two softmaxes', () => {
  const rng = new Rng(2);
  const k = 5;
  const a = Float32Array.from({ length: 3 * k }, () => 6 * rng.normal());
  const b = Float32Array.from({ length: 3 * k }, () => 6 * rng.normal());
  const out = meanSoftmaxLog(a, b, k);
  for (let r = 0; r < 3; r++) {
    const want = softmax(a, r * k, k).map((v, j) => (v + softmax(b, r * k, k)[j]) / 2);
    const got = softmax(out, r * k, k);
    for (let j = 0; j < k; j++) assert.ok(Math.abs(got[j] - want[j]) < 1e-6, `row ${r}, class ${j}: ${got[j]} against ${want[j]}`);
    assert.ok(Math.abs(Array.from(out.slice(r * k, r * k + k)).reduce((s, v) => s + Math.exp(v), 0) - 1) < 1e-6, 'the rows are log-probabilities');
  }
});

test('Classifier with tta flip averages the softmax of each image and of its mirror image', async () => {
  const dir = path.join(tmp, 'art');
  exportArtifacts({ preset: 'vit-micro-d2-p4', imageSize: 8, channels: 3, classes: 4, labeledBatch: 2, unlabeledBatch: 2, out: dir, graphs: ['eval'] });
  const a = loadArtifacts(dir);
  const w = new Map([...loadInitialWeights(a)].map(([name, t]) => [name, t.data as Float32Array]));
  const rng = new Rng(9);
  const n = 5;
  const S = 8;
  const px = Uint8Array.from({ length: n * 3 * S * S }, () => rng.int(256));
  // The mirror image by index arithmetic over (image, channel, row, column), not by the function under test.
  const flipped = new Uint8Array(px.length);
  for (let i = 0; i < px.length; i++) {
    const x = i % S;
    flipped[i - x + (S - 1 - x)] = px[i];
  }
  const plain = await Classifier.create(a, w, { threads: 1 });
  const both = await Classifier.create(a, w, { threads: 1, tta: 'flip' });
  const l0 = await plain.logits(new MemoryStore(px, 3, S), n, 2);
  const l1 = await plain.logits(new MemoryStore(flipped, 3, S), n, 2);
  const lt = await both.logits(new MemoryStore(px, 3, S), n, 2);
  await plain.release();
  await both.release();
  let worst = 0;
  let differs = false;
  for (let i = 0; i < n; i++) {
    const p0 = softmax(l0, i * 4, 4);
    const p1 = softmax(l1, i * 4, 4);
    const pt = softmax(lt, i * 4, 4);
    for (let j = 0; j < 4; j++) {
      worst = Math.max(worst, Math.abs(pt[j] - (p0[j] + p1[j]) / 2));
      if (Math.abs(p0[j] - p1[j]) > 1e-4) differs = true;
    }
  }
  assert.ok(worst < 1e-6, `worst |difference| ${worst}`);
  assert.ok(differs, 'the image and its mirror image classify alike: the test would prove nothing');
});
