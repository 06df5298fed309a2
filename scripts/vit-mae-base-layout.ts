// A checkpoint folder in facebook/vit-mae-base's exact layout (config.json, model.safetensors.index.json and two
// shards, tensor names and shapes from transformers' ViTMAEForPreTraining) with seeded random weights and MAE's
// sine-cosine position tables: for tests and benchmarks of ViT-B-sized imports without downloading 450 MB.
import fs from 'node:fs';
import path from 'node:path';
import { NamedTensor, encodeSafetensors } from '../src/artifacts/safetensors.js';
import { maeSincos2d } from '../src/models/posembed.js';

/** facebook/vit-mae-base's config.json. */
export const CONFIG = {
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

/** Writes config.json, two safetensors shards and their index to `dir`; returns the tensors. */
export function writeVitMaeBaseLayout(dir: string): Map<string, NamedTensor> {
  fs.mkdirSync(dir, { recursive: true });
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
}

