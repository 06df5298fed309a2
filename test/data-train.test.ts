// Splits, augmentations and the sampler: exact properties on small synthetic sets.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyOp, augmentBatch, STRONG_OPS, strong, weak } from '../src/data/augment.js';
import { Rng } from '../src/data/rng.js';
import { Sampler } from '../src/data/sampler.js';
import { splitLabeled } from '../src/data/splits.js';
import { MemoryStore } from '../src/data/store.js';
import { DataError, imageAt, type ImageSet } from '../src/data/types.js';

/** n images of C×S×S; image i is filled from its index so copies can be traced back. */
function synthetic(n: number, classes: number, C = 1, S = 8, label = (i: number) => i % classes): ImageSet {
  const images = new Uint8Array(n * C * S * S);
  for (let i = 0; i < images.length; i++) images[i] = (i * 31 + (i >> 6)) % 256;
  return {
    images: new MemoryStore(images, C, S),
    labels: Int32Array.from({ length: n }, (_, i) => label(i)),
    n,
    channels: C,
    size: S,
    classes: Array.from({ length: classes }, (_, c) => `c${c}`),
    paths: Array.from({ length: n }, (_, i) => `img#${i}`),
    skipped: [],
  };
}

describe('splitLabeled', () => {
  const set = synthetic(300, 3); // 100 per class
  const split = splitLabeled(set, { labelsPerClass: 4, valPerClass: 10, seed: 7 });

  test('per-class counts and sizes', () => {
    const count = (s: ImageSet) => [0, 1, 2].map((c) => s.labels.filter((l) => l === c).length);
    assert.deepEqual(count(split.labeled), [4, 4, 4]);
    assert.deepEqual(count(split.val), [10, 10, 10]);
    assert.equal(split.unlabeled.n, 300 - 42);
    assert.ok(split.unlabeled.labels.every((l) => l === -1));
  });

  test('disjoint, covering, and the images travel with their indices', () => {
    const all = [...split.indices.labeled, ...split.indices.val, ...split.indices.unlabeled].sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 300 }, (_, i) => i));
    const k = 5;
    const src = split.indices.unlabeled[k];
    assert.deepEqual(imageAt(split.unlabeled, k), imageAt(set, src));
    assert.equal(split.unlabeled.paths[k], `img#${src}`);
  });

  test('hidden labels are the true labels', () => {
    split.indices.unlabeled.forEach((src, k) => assert.equal(split.unlabeled.hiddenLabels[k], set.labels[src]));
  });

  test('deterministic given the seed, different for another seed', () => {
    const again = splitLabeled(set, { labelsPerClass: 4, valPerClass: 10, seed: 7 });
    assert.deepEqual(again.indices, split.indices);
    const other = splitLabeled(set, { labelsPerClass: 4, valPerClass: 10, seed: 8 });
    assert.notDeepEqual(other.indices.labeled, split.indices.labeled);
  });

  test('too few images names the class and the counts', () => {
    const lopsided = synthetic(30, 3, 1, 8, (i) => (i < 3 ? 2 : i % 2));
    assert.throws(
      () => splitLabeled(lopsided, { labelsPerClass: 2, valPerClass: 2, seed: 1 }),
      (e: Error) => e instanceof DataError && /"c2" has 3/.test(e.message) && /need 4/.test(e.message),
    );
  });
});

describe('augment', () => {
  const S = 8;
  const C = 3;
  const shape = { channels: C, size: S };
  const src = Uint8Array.from({ length: C * S * S }, (_, i) => 1 + (i % 250));

  test('weak without flip, zero padding: an exact shifted copy', () => {
    for (let seed = 0; seed < 20; seed++) {
      const dst = new Uint8Array(src.length);
      weak(src, dst, shape, new Rng(seed), { flip: false, pad: 2, padMode: 'zero' });
      // Find the shift that explains dst; every pixel must match it.
      let found = 0;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          let ok = true;
          for (let c = 0; c < C && ok; c++)
            for (let y = 0; y < S && ok; y++)
              for (let x = 0; x < S && ok; x++) {
                const sy = y + dy;
                const sx = x + dx;
                const want = sy >= 0 && sy < S && sx >= 0 && sx < S ? src[(c * S + sy) * S + sx] : 0;
                ok = dst[(c * S + y) * S + x] === want;
              }
          if (ok) found++;
        }
      }
      assert.equal(found, 1, `seed ${seed}: exactly one shift explains the output`);
    }
  });

  test('weak with flip mirrors some images, reflect padding stays in the source values', () => {
    let flipped = 0;
    const values = new Set(src);
    for (let seed = 0; seed < 40; seed++) {
      const dst = new Uint8Array(src.length);
      weak(src, dst, shape, new Rng(seed), { flip: true, pad: 0 });
      if (dst[0] === src[S - 1]) flipped++;
      else assert.deepEqual(dst, src);
      const r = new Uint8Array(src.length);
      weak(src, r, shape, new Rng(seed), { flip: true, pad: 4 });
      assert.ok(r.every((v) => values.has(v)));
    }
    assert.ok(flipped > 5 && flipped < 35, `flipped ${flipped} of 40`);
  });

  test('every strong op keeps shape and range, and magnitude 0 is the identity for all but equalize/autocontrast', () => {
    for (const op of STRONG_OPS) {
      for (const s of [-1, -0.3, 0.5, 1]) {
        const a = src.slice();
        const b = new Uint8Array(src.length);
        const inB = applyOp(op, s, a, b, shape);
        const out = inB ? b : a;
        assert.equal(out.length, src.length);
        assert.ok(out.every((v) => v >= 0 && v <= 255));
      }
      if (op === 'equalize' || op === 'autocontrast') continue;
      const a = src.slice();
      const b = new Uint8Array(src.length);
      const out = applyOp(op, 0, a, b, shape) ? b : a;
      assert.deepEqual(out, src, `${op} at strength 0`);
    }
  });

  test('translate-x by a whole fraction is an exact shift', () => {
    const a = src.slice();
    const b = new Uint8Array(src.length);
    applyOp('translate-x', 1, a, b, shape); // 0.3 × 8 → 2 pixels right
    assert.equal(b[(0 * S + 3) * S + 5], src[(0 * S + 3) * S + 3]);
    assert.equal(b[(1 * S + 4) * S + 0], 0);
  });

  test('strong is deterministic given the seed and works in place', () => {
    const x = new Uint8Array(src.length);
    const y = src.slice();
    strong(src, x, shape, new Rng(3), { n: 3, magnitude: 9, cutout: 0.5 });
    strong(y, y, shape, new Rng(3), { n: 3, magnitude: 9, cutout: 0.5 });
    assert.deepEqual(x, y);
    assert.notDeepEqual(x, src);
    assert.ok(x.includes(128), 'cutout leaves its gray square');
  });

  test('augmentBatch: shape, determinism, none = copy', () => {
    const set = synthetic(10, 2, 3, 8);
    const idx = Int32Array.from([3, 0, 9, 3]);
    const opts = { weak: { flip: true }, strong: { n: 2, magnitude: 10 } };
    const a = augmentBatch(set, idx, 'strong', new Rng(11), opts);
    const b = augmentBatch(set, idx, 'strong', new Rng(11), opts);
    assert.equal(a.length, 4 * 3 * 8 * 8);
    assert.deepEqual(a, b);
    const plain = augmentBatch(set, idx, 'none', new Rng(0), opts);
    assert.deepEqual(plain.subarray(0, 192), imageAt(set, 3));
    const out = new Uint8Array(4 * 192);
    assert.equal(augmentBatch(set, idx, 'weak', new Rng(1), opts, out), out);
  });
});

describe('Sampler', () => {
  test('each epoch is a permutation; batches cross epoch ends', () => {
    const s = new Sampler(10, 5);
    const seen = [...s.next(4), ...s.next(4), ...s.next(2)];
    assert.deepEqual([...seen].sort((a, b) => a - b), [...Array(10).keys()]);
    assert.equal(s.epoch, 1);
    const cross = new Sampler(10, 5);
    cross.next(7);
    const b = cross.next(7); // 3 from epoch 0, 4 from epoch 1
    assert.deepEqual([...b.subarray(0, 3)], seen.slice(7));
    assert.equal(cross.epoch, 1.4);
  });

  test('state/restore continues bit-exactly, also through JSON', () => {
    const a = new Sampler(37, 123);
    a.next(20);
    a.next(30);
    const saved = JSON.parse(JSON.stringify(a.state()));
    const expected = [a.next(16), a.next(50), a.next(3)];
    const b = new Sampler(37, saved);
    assert.deepEqual([b.next(16), b.next(50), b.next(3)], expected);
    assert.deepEqual(b.state(), a.state());
  });

  test('different seeds give different orders', () => {
    assert.notDeepEqual(new Sampler(50, 1).next(50), new Sampler(50, 2).next(50));
  });
});
