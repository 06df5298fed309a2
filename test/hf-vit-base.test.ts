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
import { NamedTensor, encodeSafetensors } from '../src/artifacts/safetensors.js';
import { maeSincos2d } from '../src/models/posembed.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-vitb-'));

/** facebook/vit-mae-base's config.json. */
const CONFIG = {
  architectures: ['ViTMAEForPreTraining'], model_type: 'vit_mae', attention_probs_dropout_prob: 0.0, hidden_dropout_prob: 0.0,
  decoder_hidden_size: 512, decoder_intermediate_size: 2048, decoder_num_attention_heads: 16, decoder_num_hidden_layers: 8,
  hidden_act: 'gelu', hidden_size: 768, image_size: 224, initializer_range: 0.02, intermediate_size: 3072, layer_norm_eps: 1e-12,
  mask_ratio: 0.75, norm_pix_loss: false, num_attention_heads: 12, num_channels: 3, num_hidden_layers: 12, patch_size: 16,
  qkv_bias: true, torch_dtype: 'float32',
};

/** Every tensor of ViTMAEForPreTraining for that config: name → shape. */
function vitMaeBaseShapes(): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const layer = (p: string, d: number, h: number) => {
    for (const q of ['query', 'key', 'value']) { s.set(`${p}.attention.attention.${q}.weight`, [d, d]); s.set(`${p}.attention.attention.${q}.bias`, [d]); }
    s.set(`${p}.attention.output.dense.weight`, [d, d]); s.set(`${p}.attention.output.dense.bias`, [d]);
    s.set(`${p}.intermediate.dense.weight`, [h, d]); s.set(`${p}.intermediate.dense.bias`, [h]);
    s.set(`${p}.output.dense.weight`, [d, h]); s.set(`${p}.output.dense.bias`, [d]);
    for (const n of ['layernorm_before', 'layernorm_after']) { s.set(`${p}.${n}.weight`, [d]); s.set(`${p}.${n}.bias`, [d]); }
  };
  s.set('vit.embeddings.cls_token', [1, 1, 768]);
  s.set('vit.embeddings.position_embeddings', [1, 197, 768]);
  s.set('vit.embeddings.patch_embeddings.projection.weight', [768, 3, 16, 16]);
  s.set('vit.embeddings.patch_embeddings.projection.bias', [768]);
  for (let i = 0; i < 12; i++) layer(`vit.encoder.layer.${i}`, 768, 3072);
  s.set('vit.layernorm.weight', [768]); s.set('vit.layernorm.bias', [768]);
  s.set('decoder.decoder_embed.weight', [512, 768]); s.set('decoder.decoder_embed.bias', [512]);
  s.set('decoder.mask_token', [1, 1, 512]);
  s.set('decoder.decoder_pos_embed', [1, 197, 512]);
  for (let i = 0; i < 8; i++) layer(`decoder.decoder_layers.${i}`, 512, 2048);
  s.set('decoder.decoder_norm.weight', [512]); s.set('decoder.decoder_norm.bias', [512]);
  s.set('decoder.decoder_pred.weight', [768, 512]); s.set('decoder.decoder_pred.bias', [768]);
  return s;
}

const dir = path.join(tmp, 'vit-mae-base');
const ckpt = (() => {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(CONFIG));
  const tensors = new Map<string, NamedTensor>();
  let x = 12345;
  for (const [name, shape] of vitMaeBaseShapes()) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name.endsWith('pos_embed') || name.endsWith('position_embeddings')) data = Float32Array.from(maeSincos2d(14, shape[2], true));
    else {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; data[i] = x / 2 ** 32 - 0.5; }
    }
    tensors.set(name, { dtype: 'float32', shape, data });
  }
  // Two shards and an index, as the hub serves large checkpoints.
  const names = [...tensors.keys()];
  const half = Math.floor(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    fs.writeFileSync(path.join(dir, file), encodeSafetensors(new Map(part.map((k) => [k, tensors.get(k)!])), { format: 'pt' }));
    for (const k of part) weightMap[k] = file;
  });
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return tensors;
})();

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
