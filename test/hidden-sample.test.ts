// bench/hidden-accuracy scores a sample of the unlabeled images. The split keeps them in source order, which for a
// folder is class by class, so the sample must be drawn, not taken from the front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenSample, perClass } from '../bench/hidden-sample.js';

// 10 classes of 445 images each, in class order, as CIFAR-10's folder gives them (scaled down 10×)
const classes = 10;
const per = 445;
const labels = Int32Array.from({ length: classes * per }, (_, i) => Math.floor(i / per));

test('a sample of 1/9 of a class-ordered set covers every class in proportion', () => {
  const idx = hiddenSample(labels.length, 500, 0);
  assert.equal(idx.length, 500);
  for (let k = 1; k < idx.length; k++) assert.ok(idx[k] > idx[k - 1], 'ascending and distinct');
  assert.ok(idx[0] >= 0 && idx[idx.length - 1] < labels.length);
  const counts = perClass(Array.from(idx, (i) => labels[i]), classes);
  assert.equal(counts.reduce((a, b) => a + b, 0), 500);
  // hypergeometric: mean 50, sd ≈ 6.7; the first 500 in order would be 445 of class 0 and 55 of class 1
  for (const c of counts) assert.ok(c >= 25 && c <= 75, `per-class counts ${counts}`);
});

test('the same seed draws the same images (runs pair); another seed other images', () => {
  assert.deepEqual(hiddenSample(labels.length, 500, 3), hiddenSample(labels.length, 500, 3));
  const a = new Set(hiddenSample(labels.length, 500, 3));
  const b = hiddenSample(labels.length, 500, 4);
  const shared = Array.from(b).filter((i) => a.has(i)).length;
  // two independent samples of 500 of 4,450 share ~56 images
  assert.ok(shared < 150, `seeds 3 and 4 share ${shared} of 500`);
});

test('--max 0 or at least the set scores every image, in order', () => {
  for (const max of [0, labels.length, labels.length + 7]) {
    assert.deepEqual(Array.from(hiddenSample(labels.length, max, 1)), Array.from({ length: labels.length }, (_, i) => i));
  }
  assert.throws(() => hiddenSample(10, -1, 0), /--max must be an integer ≥ 0/);
  assert.throws(() => hiddenSample(10, 2.5, 0), /--max must be an integer ≥ 0/);
});
