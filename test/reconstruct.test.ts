// The report's reconstructions: the decoder run on its own (models/reconstruct.ts) predicts the same patches the
// training graph scores (its loss, recomputed here from the predictions, equals gradients.onnx's rec_loss on the same
// images, masks and weights), and turning predictions back into pixels is exact for a perfect prediction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { drawMasks } from '../src/algorithm/masking.js';
import { predictPatches, reconstructionImages } from '../src/algorithm/reconstruct.js';
import { Rng } from '../src/data/rng.js';
import { Session } from '../src/runtime/session.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-reconstruct-'));

/** Patch l of image i as normalized pixels in patchify's order (py, px, c), written out independently. */
function patchOf(img: Uint8Array, C: number, S: number, p: number, l: number): number[] {
  const g = S / p;
  const [gr, gc] = [Math.floor(l / g), l % g];
  const out: number[] = [];
  for (let py = 0; py < p; py++) for (let px = 0; px < p; px++) for (let c = 0; c < C; c++) {
    out.push((img[c * S * S + (gr * p + py) * S + gc * p + px] / 255) * 2 - 1);
  }
  return out;
}

/** MAE's norm_pix target: (x − mean) / sqrt(unbiased variance + 1e-6). */
function target(x: number[]): number[] {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const v = x.reduce((s, u) => s + (u - mean) ** 2, 0) / (x.length - 1);
  return x.map((u) => (u - mean) / Math.sqrt(v + 1e-6));
}

test('predicted patches score the same reconstruction loss as gradients.onnx on the same batch, weights and masks', async () => {
  const dir = path.join(tmp, 'art');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 3, classes: 3, labeledBatch: 2, unlabeledBatch: 3, out: dir, graphs: ['gradients'] });
  const a = loadArtifacts(dir);
  const m = a.manifest;
  const feeds = { ...stateFeeds(a, ['p', 'ema']), ...batchFeeds(a, 5),
    ...policyFeeds(a, { gate_open: 0, tau: 0.9, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1 }) };
  const grad = await Session.create(a.path('gradients.onnx'), { threads: 1 });
  const expected = Number((await grad.run(feeds, ['rec_loss'])).rec_loss.data[0]);
  await grad.release();
  // The reconstruction task's images are the labeled batch followed by the weak views of the unlabeled one.
  const images = new Uint8Array([...(feeds.images_labeled.data as Uint8Array), ...(feeds.images_weak.data as Uint8Array)]);
  const n = m.labeledBatch + m.unlabeledBatch;
  const masks = { idsKeep: feeds.ids_keep.data as BigInt64Array, idsRestore: feeds.ids_restore.data as BigInt64Array, mask: feeds.mask.data as Float32Array };
  const weights = new Map(m.parameters.map((s) => [s.name, feeds[`p.${s.name}`].data as Float32Array]));
  const pred = await predictPatches(a, weights, images, n, masks, { threads: 1 });
  const L = m.numPatches;
  const C = m.channels;
  const S = m.imageSize;
  const p = m.preset.patch;
  const P = p * p * C;
  assert.equal(pred.length, n * L * P);
  let sum = 0;
  let hidden = 0;
  for (let i = 0; i < n; i++) {
    const img = images.subarray(i * C * S * S, (i + 1) * C * S * S);
    for (let l = 0; l < L; l++) {
      if (masks.mask[i * L + l] !== 1) continue;
      const t = target(patchOf(img, C, S, p, l));
      sum += t.reduce((s, v, k) => s + (pred[(i * L + l) * P + k] - v) ** 2, 0) / P;
      hidden++;
    }
  }
  assert.equal(hidden, n * (L - m.keep));
  const got = sum / hidden;
  assert.ok(expected > 0.1, `rec_loss ${expected} should be far from 0 at initialization`);
  assert.ok(Math.abs(got - expected) <= 1e-5 * expected, `loss from predicted patches ${got} vs gradients.onnx rec_loss ${expected}`);
});

test('a perfect prediction turns back into the original pixels; the masked view is gray exactly on the hidden patches', () => {
  const cfg = { preset: { patch: 4 }, channels: 3, imageSize: 8 } as Parameters<typeof reconstructionImages>[0];
  const [C, S, p, L, keep, n] = [3, 8, 4, 4, 1, 3];
  const rng = new Rng(3);
  const images = Uint8Array.from({ length: n * C * S * S }, () => rng.int(256));
  const masks = drawMasks(rng, n, L, keep);
  const P = p * p * C;
  const pred = new Float64Array(n * L * P);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l < L; l++) pred.set(target(patchOf(images.subarray(i * C * S * S), C, S, p, l)), (i * L + l) * P);
  }
  const out = reconstructionImages(cfg, images, n, masks, pred);
  assert.equal(out.length, n);
  for (let i = 0; i < n; i++) {
    const orig = images.subarray(i * C * S * S, (i + 1) * C * S * S);
    assert.deepEqual(out[i].original, orig);
    let worst = 0;
    for (let k = 0; k < orig.length; k++) worst = Math.max(worst, Math.abs(out[i].reconstructed[k] - orig[k]));
    assert.ok(worst <= 1, `image ${i}: reconstruction off by ${worst} levels`);
    for (let l = 0; l < L; l++) {
      const gray = patchOf(out[i].masked, C, S, p, l).every((v) => Math.abs(v - ((128 / 255) * 2 - 1)) < 1e-12);
      const same = patchOf(out[i].masked, C, S, p, l).every((v, k) => v === patchOf(orig, C, S, p, l)[k]);
      assert.ok(masks.mask[i * L + l] === 1 ? gray : same, `image ${i} patch ${l}: hidden=${masks.mask[i * L + l]}`);
    }
  }
});
