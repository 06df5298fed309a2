// The Hugging Face ViTMAEForPreTraining layout (transformers' modeling_vit_mae.py) against ssmae's parameters, both
// ways, as pure functions on arrays: its config.json ↔ a Preset, and its tensors ↔ ssmae's. Every mapping is a
// permutation of the same float32 values (Linear [out, in] ↔ ours [in, out]; query/key/value ↔ our fused qkv;
// the Conv2d patch embedding [D, C, p, p] ↔ our linear map on patchified pixels (py, px, c)), so import followed by
// export gives the same bytes.
import { ConfigError, ModelConfig, PixelNorm, Preset, arch, numPatches, patchDim } from './presets.js';

/** ViTMAEConfig's defaults: what transformers assumes for a key its config.json leaves out. */
export const HF_DEFAULTS = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  layer_norm_eps: 1e-12, image_size: 224, patch_size: 16, num_channels: 3, qkv_bias: true,
  decoder_num_attention_heads: 16, decoder_hidden_size: 512, decoder_num_hidden_layers: 8, decoder_intermediate_size: 2048,
  mask_ratio: 0.75, norm_pix_loss: false,
} as const;

export type HfConfig = Record<string, unknown>;

export interface HfModel {
  preset: Preset;
  imageSize: number;
  channels: number;
  maskRatio: number;
  /** Keys of config.json that were missing and took ViTMAEConfig's default. */
  defaulted: string[];
}

/** Reads a ViTMAE config.json (as parsed JSON) into a Preset; `file` names it in errors. */
export function presetFromHfConfig(c: HfConfig, file: string, name: string, pixelNorm?: PixelNorm): HfModel {
  const modelType = c.model_type;
  if (modelType !== undefined && modelType !== 'vit_mae') {
    const what = modelType === 'vit' ? 'a plain ViT (no MAE decoder)' : `a '${String(modelType)}' model`;
    throw new ConfigError(`${file}: model_type is '${String(modelType)}', expected 'vit_mae': this is ${what}; ` +
      'ssmae imports ViTMAEForPreTraining checkpoints (encoder and decoder), e.g. facebook/vit-mae-base');
  }
  const defaulted: string[] = [];
  const get = <K extends keyof typeof HF_DEFAULTS>(k: K): (typeof HF_DEFAULTS)[K] => {
    if (!(k in c)) { defaulted.push(k); return HF_DEFAULTS[k]; }
    const v = c[k];
    const want = typeof HF_DEFAULTS[k];
    if (typeof v !== want) throw new ConfigError(`${file}: '${k}' must be a ${want}, found ${JSON.stringify(v)}; fix config.json`);
    return v as (typeof HF_DEFAULTS)[K];
  };
  const ints = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'image_size', 'patch_size',
    'num_channels', 'decoder_num_attention_heads', 'decoder_hidden_size', 'decoder_num_hidden_layers', 'decoder_intermediate_size'] as const;
  for (const k of ints) {
    const v = get(k);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${file}: '${k}' must be a positive integer, found ${JSON.stringify(c[k])}; fix config.json`);
  }
  const act = get('hidden_act');
  if (act !== 'gelu') {
    throw new ConfigError(`${file}: hidden_act is '${act}', expected 'gelu' (exact GELU, the only activation ssmae implements); ` +
      'use a checkpoint trained with gelu');
  }
  const image = get('image_size');
  const patch = get('patch_size');
  if (image % patch !== 0) {
    throw new ConfigError(`${file}: image_size ${image} is not a multiple of patch_size ${patch}; fix config.json (ViT-MAE needs whole patches)`);
  }
  const [dim, heads, decDim, decHeads] = [get('hidden_size'), get('num_attention_heads'), get('decoder_hidden_size'), get('decoder_num_attention_heads')];
  if (dim % heads !== 0) throw new ConfigError(`${file}: hidden_size ${dim} is not a multiple of num_attention_heads ${heads}; fix config.json`);
  if (decDim % decHeads !== 0) {
    throw new ConfigError(`${file}: decoder_hidden_size ${decDim} is not a multiple of decoder_num_attention_heads ${decHeads}; fix config.json`);
  }
  const maskRatio = get('mask_ratio');
  if (!(maskRatio > 0 && maskRatio < 1)) throw new ConfigError(`${file}: mask_ratio must be in (0, 1), found ${maskRatio}; fix config.json`);
  const preset: Preset = {
    name, patch, dim, depth: get('num_hidden_layers'), heads, decDim, decDepth: get('decoder_num_hidden_layers'), decHeads,
    mlpRatio: get('intermediate_size') / dim,
    note: `imported from a Hugging Face ViTMAEForPreTraining checkpoint (${file})`,
    cls: true, pool: 'cls', posEmbed: 'fixed', qkvBias: get('qkv_bias'), layerNormEps: get('layer_norm_eps'), hiddenAct: act,
    normPixLoss: get('norm_pix_loss'), mlpDim: get('intermediate_size'), decMlpDim: get('decoder_intermediate_size'),
    ...(pixelNorm ? { pixelNorm } : {}),
  };
  return { preset, imageSize: image, channels: get('num_channels'), maskRatio, defaulted };
}

/** config.json of a model in ViTMAE's layout (`base`: the imported config, kept for the keys ssmae does not use). */
export function hfConfigFor(cfg: ModelConfig, base: HfConfig = {}): HfConfig {
  const p = cfg.preset;
  const a = arch(p);
  return {
    ...base,
    architectures: ['ViTMAEForPreTraining'],
    model_type: 'vit_mae',
    hidden_size: p.dim, num_hidden_layers: p.depth, num_attention_heads: p.heads, intermediate_size: a.mlpDim,
    hidden_act: 'gelu', layer_norm_eps: a.layerNormEps, image_size: cfg.imageSize, patch_size: p.patch,
    num_channels: cfg.channels, qkv_bias: a.qkvBias,
    decoder_hidden_size: p.decDim, decoder_num_hidden_layers: p.decDepth, decoder_num_attention_heads: p.decHeads,
    decoder_intermediate_size: a.decMlpDim, mask_ratio: cfg.maskRatio, norm_pix_loss: a.normPixLoss,
  };
}

/** preprocessor_config.json for the model's pixel normalization (ViTImageProcessor's keys). */
export function hfPreprocessorFor(cfg: ModelConfig, base: HfConfig = {}): HfConfig {
  const n = arch(cfg.preset).pixelNorm ?? { rescale: 1 / 255, mean: Array(cfg.channels).fill(0.5), std: Array(cfg.channels).fill(0.5) };
  return {
    ...base,
    image_processor_type: 'ViTImageProcessor', do_rescale: true, rescale_factor: n.rescale, do_normalize: true,
    image_mean: n.mean, image_std: n.std, do_resize: true, size: { height: cfg.imageSize, width: cfg.imageSize },
  };
}

/**
 * A preprocessor_config.json's rescale and normalization, for `channels` channels; null when it has neither.
 * transformers' defaults apply to missing keys (do_rescale and do_normalize true, rescale_factor 1/255).
 */
export function pixelNormFromPreprocessor(c: HfConfig, file: string, channels: number): PixelNorm | null {
  const doRescale = c.do_rescale ?? true;
  const doNormalize = c.do_normalize ?? true;
  const rescale = doRescale ? (c.rescale_factor ?? 1 / 255) : 1;
  if (typeof rescale !== 'number' || !(rescale > 0)) {
    throw new ConfigError(`${file}: rescale_factor must be a positive number, found ${JSON.stringify(c.rescale_factor)}; fix the file`);
  }
  const list = (k: string, fill: number): number[] => {
    if (!doNormalize) return Array(channels).fill(fill);
    const v = c[k];
    const arr = typeof v === 'number' ? Array(channels).fill(v) : v;
    if (!Array.isArray(arr) || arr.length !== channels || arr.some((x) => typeof x !== 'number')) {
      throw new ConfigError(`${file}: '${k}' must be ${channels} number(s), one per channel, found ${JSON.stringify(v)}; fix the file`);
    }
    return arr as number[];
  };
  return { rescale, mean: list('image_mean', 0), std: list('image_std', 1) };
}

/** One ssmae parameter and the checkpoint tensors it is made of. */
export interface Link {
  ours: string;
  hf: { name: string; shape: number[] }[];
  /** The checkpoint's tensors (in `hf` order) → our parameter's values. */
  toOurs(parts: Float32Array[]): Float32Array;
  /** Our values → the checkpoint's tensors. */
  toHf(ours: Float32Array): Float32Array[];
}

/** [rows, cols] → [cols, rows]. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

const same = (name: string, ours: string, shape: number[]): Link =>
  ({ ours, hf: [{ name, shape }], toOurs: ([x]) => x.slice(), toHf: (x) => [x.slice()] });

/** nn.Linear (weight [out, in], bias [out]) ↔ ours (weight [in, out], bias [out]). */
function linearLinks(hf: string, ours: string, din: number, dout: number, bias = true): Link[] {
  const w: Link = {
    ours: `${ours}.weight`, hf: [{ name: `${hf}.weight`, shape: [dout, din] }],
    toOurs: ([x]) => transpose(x, dout, din), toHf: (x) => [transpose(x, din, dout)],
  };
  return bias ? [w, same(`${hf}.bias`, `${ours}.bias`, [dout])] : [w];
}

const normLinks = (hf: string, ours: string, d: number): Link[] =>
  [same(`${hf}.weight`, `${ours}.scale`, [d]), same(`${hf}.bias`, `${ours}.bias`, [d])];

/** query, key, value (each [d, d] and [d]) ↔ our fused qkv ([d, 3d] and [3d], columns q | k | v). */
function qkvLinks(hf: string, ours: string, d: number, bias: boolean): Link[] {
  const parts = ['query', 'key', 'value'];
  const w: Link = {
    ours: `${ours}.weight`, hf: parts.map((p) => ({ name: `${hf}.${p}.weight`, shape: [d, d] })),
    toOurs: (xs) => {
      const out = new Float32Array(d * 3 * d);
      xs.forEach((x, k) => { for (let o = 0; o < d; o++) for (let j = 0; j < d; j++) out[j * 3 * d + k * d + o] = x[o * d + j]; });
      return out;
    },
    toHf: (x) => parts.map((_, k) => {
      const out = new Float32Array(d * d);
      for (let o = 0; o < d; o++) for (let j = 0; j < d; j++) out[o * d + j] = x[j * 3 * d + k * d + o];
      return out;
    }),
  };
  if (!bias) return [w];
  const b: Link = {
    ours: `${ours}.bias`, hf: parts.map((p) => ({ name: `${hf}.${p}.bias`, shape: [d] })),
    toOurs: (xs) => { const out = new Float32Array(3 * d); xs.forEach((x, k) => out.set(x, k * d)); return out; },
    toHf: (x) => parts.map((_, k) => x.slice(k * d, (k + 1) * d)),
  };
  return [w, b];
}

function layerLinks(hf: string, ours: string, d: number, hidden: number, qkvBias: boolean): Link[] {
  return [
    ...normLinks(`${hf}.layernorm_before`, `${ours}.norm1`, d),
    ...qkvLinks(`${hf}.attention.attention`, `${ours}.attn.qkv`, d, qkvBias),
    ...linearLinks(`${hf}.attention.output.dense`, `${ours}.attn.proj`, d, d),
    ...normLinks(`${hf}.layernorm_after`, `${ours}.norm2`, d),
    ...linearLinks(`${hf}.intermediate.dense`, `${ours}.mlp.fc1`, d, hidden),
    ...linearLinks(`${hf}.output.dense`, `${ours}.mlp.fc2`, hidden, d),
  ];
}

/**
 * Every parameter of a ViTMAE-layout model but the classifier head, with its checkpoint tensors; `grid` is the
 * checkpoint's patch grid side (its position tables have 1 + grid² rows), which may differ from cfg's.
 */
export function hfLinks(cfg: ModelConfig, grid = Math.round(Math.sqrt(numPatches(cfg)))): Link[] {
  const p = cfg.preset;
  const a = arch(p);
  if (!a.cls) throw new ConfigError(`preset ${p.name} has no CLS token; the Hugging Face ViT-MAE layout always has one (export with --cls-token)`);
  const C = cfg.channels;
  const k = p.patch;
  const P = patchDim(cfg);
  const D = p.dim;
  const E = p.decDim;
  const T = 1 + grid * grid;
  const conv: Link = {
    ours: 'embed.weight', hf: [{ name: 'vit.embeddings.patch_embeddings.projection.weight', shape: [D, C, k, k] }],
    // conv[d, c, py, px] ↔ ours[(py·k + px)·C + c, d]: the same pixel order as patchify.
    toOurs: ([x]) => {
      const out = new Float32Array(P * D);
      for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) for (let py = 0; py < k; py++) for (let px = 0; px < k; px++) {
        out[((py * k + px) * C + c) * D + d] = x[((d * C + c) * k + py) * k + px];
      }
      return out;
    },
    toHf: (x) => {
      const out = new Float32Array(P * D);
      for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) for (let py = 0; py < k; py++) for (let px = 0; px < k; px++) {
        out[((d * C + c) * k + py) * k + px] = x[((py * k + px) * C + c) * D + d];
      }
      return [out];
    },
  };
  const links: Link[] = [
    conv,
    same('vit.embeddings.patch_embeddings.projection.bias', 'embed.bias', [D]),
    same('vit.embeddings.cls_token', 'cls', [1, 1, D]),
    same('vit.embeddings.position_embeddings', 'pos', [1, T, D]),
  ];
  for (let i = 0; i < p.depth; i++) links.push(...layerLinks(`vit.encoder.layer.${i}`, `enc.${i}`, D, a.mlpDim, a.qkvBias));
  links.push(...normLinks('vit.layernorm', 'enc.norm', D));
  links.push(...linearLinks('decoder.decoder_embed', 'dec.embed', D, E));
  links.push(same('decoder.mask_token', 'dec.mask_token', [1, 1, E]));
  links.push(same('decoder.decoder_pos_embed', 'dec.pos', [1, T, E]));
  for (let i = 0; i < p.decDepth; i++) links.push(...layerLinks(`decoder.decoder_layers.${i}`, `dec.${i}`, E, a.decMlpDim, a.qkvBias));
  links.push(...normLinks('decoder.decoder_norm', 'dec.norm', E));
  links.push(...linearLinks('decoder.decoder_pred', 'dec.pred', E, P));
  return links;
}

/** The classifier head, under a name of its own (ViTForImageClassification's: classifier.weight [K, D], .bias [K]). */
export function headLinks(cfg: ModelConfig): Link[] {
  return linearLinks('classifier', 'head', cfg.preset.dim, cfg.classes);
}
