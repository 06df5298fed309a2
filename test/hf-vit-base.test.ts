// export --from-pretrained with the real facebook/vit-mae-base layout: random weights under its tensor names and
// shapes (written out here from transformers' modeling code, independently of ssmae's mapping), at its own 224×224
// and at 32×32 (the position tables moved from the 14×14 grid to 2×2). The artifacts build, every checkpoint tensor is
// used exactly once, and only the classifier head is left to the seed. (One training step at this size takes minutes
// on two cores: bench/vit-base-step.ts measures it.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportFromPretrained } from '../src/artifacts/pretrained.js';
import { loadArtifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { writeVitMaeBaseLayout } from '../scripts/vit-mae-base-layout.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-vitb-'));

const dir = path.join(tmp, 'vit-mae-base');
const ckpt = writeVitMaeBaseLayout(dir);

for (const size of [224, 32]) {
  test(`facebook/vit-mae-base layout at ${size}×${size}: artifacts build, every tensor used once, only the head new`, () => {
    const out = path.join(tmp, `art-${size}`);
    const logs: string[] = [];
    const m = exportFromPretrained({ dir, classes: 10, imageSize: size, labeledBatch: 1, unlabeledBatch: 1, out, graphs: ['eval'], log: (s) => logs.push(s) });
    assert.equal(m.source?.tensors, ckpt.size);
    assert.ok(logs.some((l) => l.includes(`${ckpt.size} checkpoint tensors → `)), logs.join('\n'));
    assert.equal(m.numPatches, (size / 16) ** 2);
    if (size !== 224) assert.deepEqual(m.source?.posResize, { from: 14, to: 2, encoder: 'sincos', decoder: 'sincos' });
    const w = loadInitialWeights(loadArtifacts(out));
    // Spot checks through the mapping: the conv patch embedding, a fused qkv, a transposed decoder Linear.
    const conv = ckpt.get('vit.embeddings.patch_embeddings.projection.weight')!.data as Float32Array;
    const embed = w.get('embed.weight')!.data as Float32Array; // [16·16·3, 768], rows (py, px, c)
    for (const [d, c, py, px] of [[0, 0, 0, 0], [767, 2, 15, 15], [100, 1, 3, 9]]) {
      assert.equal(embed[((py * 16 + px) * 3 + c) * 768 + d], conv[((d * 3 + c) * 16 + py) * 16 + px]);
    }
    const v = ckpt.get('vit.encoder.layer.11.attention.attention.value.weight')!.data as Float32Array; // [out, in]
    const qkv = w.get('enc.11.attn.qkv.weight')!.data as Float32Array; // [768, 2304]
    assert.equal(qkv[5 * 2304 + 2 * 768 + 7], v[7 * 768 + 5]);
    const pred = ckpt.get('decoder.decoder_pred.weight')!.data as Float32Array; // [768, 512]
    assert.equal((w.get('dec.pred.weight')!.data as Float32Array)[3 * 768 + 700], pred[700 * 512 + 3]);
    assert.equal(m.parameters.length, 2 + 1 + 1 + 12 * 12 + 2 + 2 + 2 + 1 + 1 + 8 * 12 + 2 + 2, 'parameter count by name');
    fs.rmSync(out, { recursive: true });
  });
}
