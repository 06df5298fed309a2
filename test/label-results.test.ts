// label-efficiency's titles (charts and summary.md) name the data without the machine's folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchTitle, shortSource } from '../bench/label-results.js';

test('titles cut absolute paths to their last two parts; built-in and relative sources stay as given', () => {
  assert.equal(shortSource('/data/x/cifar10/train'), 'cifar10/train');
  assert.equal(shortSource('/data/x/cifar10/train/'), 'cifar10/train');
  assert.equal(shortSource('cifar10-bin:/srv/sets/cifar-10-batches-bin'), 'cifar10-bin:sets/cifar-10-batches-bin');
  assert.equal(shortSource('idx:/a/b/imgs.idx,/a/b/labels.idx'), 'idx:b/imgs.idx,b/labels.idx');
  assert.equal(shortSource('fashion-mnist:train'), 'fashion-mnist:train');
  assert.equal(shortSource('data/pets/train'), 'data/pets/train');
  assert.equal(shortSource('/train'), 'train');
  const t = benchTitle({ labeled: '/scratch/u1/cifar10/train', test: '/scratch/u1/cifar10/test', labelsPerClass: 500, valPerClass: 50,
    steps: 1, seeds: [0], methods: ['ssmae'], extra: [] });
  assert.equal(t, 'Label efficiency: cifar10/train, 500 labels per class, tested on cifar10/test');
});
