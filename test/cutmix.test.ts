// CutMix of the labeled batch: every pixel comes from the image itself or from its mirrored partner as it was before
// any pasting, the pasted pixels form one box in every channel, and the share given to the loss is exactly the share
// of pasted pixels; probability 0 changes nothing, and a seed gives the same batch again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutmix } from '../src/data/cutmix.js';
import { Rng } from '../src/data/rng.js';

const N = 8;
const C = 3;
const S = 10;
const PER = C * S * S;

/** Image i filled with 10·i + c in channel c, so every pixel names its source image and channel. */
function batch(): Uint8Array {
  const a = new Uint8Array(N * PER);
  for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) a.fill(10 * i + c, i * PER + c * S * S, i * PER + (c + 1) * S * S);
  return a;
}
const LABELS = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4));

test('cutmix pastes one box from the mirrored image and gives the loss its exact share of the pixels', () => {
  const images = batch();
  const { labelsMix, mixWeight } = cutmix(images, LABELS, C, S, new Rng(3), 1);
  let mixed = 0;
  for (let i = 0; i < N; i++) {
    const j = N - 1 - i;
    let pasted = 0;
    const rows = new Set<number>();
    const cols = new Set<number>();
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const v = images[i * PER + c * S * S + y * S + x];
          assert.ok(v === 10 * i + c || v === 10 * j + c, `image ${i} channel ${c} has a pixel from elsewhere: ${v}`);
          if (v === 10 * j + c && j !== i) {
            pasted++;
            rows.add(y);
            cols.add(x);
          }
        }
      }
    }
    // One box: the pasted pixels fill the rectangle their rows and columns span, in every channel.
    assert.equal(pasted, C * rows.size * cols.size, `image ${i}: pasted pixels are not one box`);
    assert.equal(mixWeight[i], pasted / PER, `image ${i}: share ${mixWeight[i]} against ${pasted / PER} pasted`);
    assert.equal(labelsMix[i], pasted ? LABELS[j] : LABELS[i]);
    if (pasted) mixed++;
  }
  assert.ok(mixed >= N / 2, `only ${mixed} of ${N} images got a box at probability 1`);
});

test('cutmix at probability 0 leaves the batch alone; the same seed gives the same batch', () => {
  const images = batch();
  const r0 = cutmix(images, LABELS, C, S, new Rng(1), 0);
  assert.deepEqual(images, batch());
  assert.deepEqual(Array.from(r0.mixWeight), new Array(N).fill(0));
  assert.deepEqual(r0.labelsMix, LABELS);
  const a = batch();
  const b = batch();
  const ra = cutmix(a, LABELS, C, S, new Rng(9), 0.5);
  const rb = cutmix(b, LABELS, C, S, new Rng(9), 0.5);
  assert.deepEqual(a, b);
  assert.deepEqual(ra.mixWeight, rb.mixWeight);
  assert.ok(ra.mixWeight.some((w) => w > 0) && ra.mixWeight.some((w) => w === 0), 'probability 0.5 should mix some images and not others');
});

test('cutmix names the bad input', () => {
  assert.throws(() => cutmix(new Uint8Array(5), LABELS, C, S, new Rng(1), 1), /cutmix: 8 images of 300 bytes/);
  assert.throws(() => cutmix(batch(), LABELS, C, S, new Rng(1), 1.5), /prob must be in \[0, 1\]/);
});
