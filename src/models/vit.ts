// The ViT-MAE as pure graph-building functions (MAE's forward_encoder / forward_decoder split). Each takes tensor
// handles and a ParamSet, appends nodes and returns handles; shapes are written beside them. N is the batch, L the
// number of patches, D the encoder width, E the decoder width, P = patch·patch·C the pixels of one patch.
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { ParamSet } from './params.js';
import { ModelConfig, numPatches } from './presets.js';
import { convStem } from './stem.js';

export interface BuildOptions {
  /** Replace Erf by a float64 series built from standard operators (ORT has no float64 Erf kernel); for gradient checks. */
  erfStandIn?: boolean;
}

/** uint8 images → float in [-1, 1]. */
export function normalizeImages(g: Graph, cfg: ModelConfig, images: Tensor): Tensor {
  const x = g.cast(images, cfg.dtype);                                         // [N, C, H, W]
  return g.sub(g.mul(x, g.scalar(cfg.dtype, 2 / 255)), g.scalar(cfg.dtype, 1));
}

/** [N, C, H, W] → [N, L, P], patches in row-major order, pixels (py, px, c) within a patch, as MAE's patchify. */
export function patchify(g: Graph, cfg: ModelConfig, x: Tensor): Tensor {
  const p = cfg.preset.patch;
  const h = cfg.imageSize / p;
  const c = cfg.channels;
  const t = g.reshape(x, [0, c, h, p, h, p]);                                  // [N, C, h, p, w, p]
  const u = g.transpose(t, [0, 2, 4, 3, 5, 1]);                                // [N, h, w, p, p, C]
  return g.reshape(u, [0, h * h, p * p * c]);                                  // [N, L, P]
}

export function linear(g: Graph, W: ParamSet, name: string, x: Tensor): Tensor {
  return g.add(g.matmul(x, W[`${name}.weight`]), W[`${name}.bias`]);
}

export function layerNorm(g: Graph, W: ParamSet, name: string, x: Tensor): Tensor {
  return g.layerNorm(x, W[`${name}.scale`], W[`${name}.bias`], 1e-5);
}

/** erf(x) for float64 from standard operators: its Maclaurin series to 60 terms on |x| ≤ 4, ±1 beyond. */
export function erfSeries(g: Graph, x: Tensor): Tensor {
  const dt = x.dtype;
  const four = g.scalar(dt, 4);
  const xc = g.max(g.min(x, four), g.neg(four));
  const x2 = g.mul(xc, xc);
  // erf(x) = 2/√π · Σ (−1)^n x^(2n+1) / (n! (2n+1)); Horner in x² on coefficients c_n.
  const terms = 60;
  const coef: number[] = [];
  let fact = 1;
  for (let n = 0; n < terms; n++) {
    if (n > 0) fact *= n;
    coef.push(((n % 2 ? -1 : 1) * 2) / (Math.sqrt(Math.PI) * fact * (2 * n + 1)));
  }
  let acc = g.scalar(dt, coef[terms - 1]);
  for (let n = terms - 2; n >= 0; n--) acc = g.add(g.mul(acc, x2), g.scalar(dt, coef[n]));
  const series = g.mul(acc, xc);
  return g.where(g.greater(g.abs(x), four), g.sign(x), series);
}

/** Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)), as PyTorch's nn.GELU. */
export function gelu(g: Graph, x: Tensor, opts: BuildOptions = {}): Tensor {
  return g.gelu(x, opts.erfStandIn ? (z) => erfSeries(g, z) : undefined);
}

/** Multi-head self-attention: [N, T, d] → [N, T, d]. */
export function attention(g: Graph, W: ParamSet, name: string, x: Tensor, heads: number): Tensor {
  const d = x.shape[2] as number;
  const dh = d / heads;
  const qkv = linear(g, W, `${name}.qkv`, x);                                  // [N, T, 3d]
  const parts = g.split(qkv, 2, [d, d, d]);                                  // 3 × [N, T, d]
  const split = (i: number) => g.transpose(g.reshape(parts[i], [0, 0, heads, dh]), [0, 2, 1, 3]); // [N, h, T, dh]
  const q = g.mul(split(0), g.scalar(x.dtype, 1 / Math.sqrt(dh)));
  const k = split(1);
  const v = split(2);
  const att = g.softmax(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), -1);       // [N, h, T, T]
  const o = g.transpose(g.matmul(att, v), [0, 2, 1, 3]);                       // [N, T, h, dh]
  return linear(g, W, `${name}.proj`, g.reshape(o, [0, 0, d]));              // [N, T, d]
}

/** Pre-norm transformer block. */
export function block(g: Graph, W: ParamSet, name: string, x: Tensor, heads: number, opts: BuildOptions): Tensor {
  return g.scope(name, () => {
    const a = g.add(x, attention(g, W, `${name}.attn`, layerNorm(g, W, `${name}.norm1`, x), heads));
    const h = gelu(g, linear(g, W, `${name}.mlp.fc1`, layerNorm(g, W, `${name}.norm2`, a)), opts);
    return g.add(a, linear(g, W, `${name}.mlp.fc2`, h));
  });
}

/** Patch embedding plus position embedding: [N, L, P] → [N, L, D]; through the per-patch conv stem when the preset has one. */
export function embed(g: Graph, W: ParamSet, patches: Tensor, cfg?: ModelConfig): Tensor {
  const tokens = cfg?.preset.stem ? convStem(g, cfg, W, patches) : patches;   // [N, L, P] or [N, L, (p/2)²·F]
  return g.add(linear(g, W, 'embed', tokens), W.pos);
}

/** Encoder blocks and the final norm: [N, T, D] → [N, T, D]. */
export function encode(g: Graph, cfg: ModelConfig, W: ParamSet, tokens: Tensor, opts: BuildOptions = {}): Tensor {
  let x = tokens;
  for (let i = 0; i < cfg.preset.depth; i++) x = block(g, W, `enc.${i}`, x, cfg.preset.heads, opts);
  return layerNorm(g, W, 'enc.norm', x);
}

/** Full-view classification: uint8 images [N, C, H, W] → logits [N, K] (mean-pooled tokens, linear head). */
export function classify(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, opts: BuildOptions = {}): Tensor {
  return g.scope('classify', () => {
    const z = encode(g, cfg, W, embed(g, W, patchify(g, cfg, normalizeImages(g, cfg, images)), cfg), opts); // [N, L, D]
    return linear(g, W, 'head', g.reduceMean(z, [1], false));                                            // [N, K]
  });
}

export interface Masking {
  idsKeep: Tensor;    // int64 [N, Lk]: visible patches, in shuffled order
  idsRestore: Tensor; // int64 [N, L]: inverse permutation, to unshuffle the decoder's tokens
  mask: Tensor;       // float [N, L]: 1 where a patch is hidden (the loss is taken there)
}

/** Gathers rows of x [N, L, d] along axis 1 with ids [N, T] → [N, T, d]. */
function gatherTokens(g: Graph, x: Tensor, ids: Tensor): Tensor {
  const n = ids.shape[0] as number;
  const t = ids.shape[1] as number;
  const d = x.shape[2] as number;
  const idx = g.expand(g.unsqueeze(ids, [2]), [n, t, d]);                     // [N, T, d]
  return g.gatherElements(x, idx, 1);
}

/**
 * MAE's encoder on the visible patches and its decoder over all positions (forward_encoder + forward_decoder):
 * patches [N, L, P] of normalized pixels → predicted patches [N, L, P], in the normalized-pixel target's units.
 */
export function maePredict(g: Graph, cfg: ModelConfig, W: ParamSet, patches: Tensor, m: Pick<Masking, 'idsKeep' | 'idsRestore'>,
  opts: BuildOptions = {}): Tensor {
  const L = numPatches(cfg);
  const n = patches.shape[0] as number;
  const lk = m.idsKeep.shape[1] as number;
  const E = cfg.preset.decDim;
  const visible = gatherTokens(g, embed(g, W, patches, cfg), m.idsKeep);    // [N, Lk, D]
  const latent = linear(g, W, 'dec.embed', encode(g, cfg, W, visible, opts)); // [N, Lk, E]
  const maskTokens = g.expand(W['dec.mask_token'], [n, L - lk, E]);         // [N, L−Lk, E]
  const shuffled = g.concat([latent, maskTokens], 1);                       // [N, L, E]
  let z = g.add(gatherTokens(g, shuffled, m.idsRestore), W['dec.pos']);     // [N, L, E]
  for (let i = 0; i < cfg.preset.decDepth; i++) z = block(g, W, `dec.${i}`, z, cfg.preset.decHeads, opts);
  return linear(g, W, 'dec.pred', layerNorm(g, W, 'dec.norm', z));          // [N, L, P]
}

/**
 * MAE reconstruction loss (normalized-pixel target) on the hidden patches of uint8 images [N, C, H, W].
 * Returns the scalar mean over hidden patches of the per-patch mean squared error.
 */
export function reconstructionLoss(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, m: Masking,
  opts: BuildOptions = {}): Tensor {
  return g.scope('reconstruct', () => {
    const dt = cfg.dtype;
    const patches = patchify(g, cfg, normalizeImages(g, cfg, images));       // [N, L, P]
    const pred = maePredict(g, cfg, W, patches, m, opts);                     // [N, L, P]
    // Target: each patch normalized by its own mean and (unbiased) variance, as MAE's norm_pix_loss.
    const P = patches.shape[2] as number;
    const mean = g.reduceMean(patches, [-1]);                                 // [N, L, 1]
    const centered = g.sub(patches, mean);
    const variance = g.mul(g.reduceSum(g.mul(centered, centered), [-1]), g.scalar(dt, 1 / (P - 1)));
    const target = g.div(centered, g.sqrt(g.add(variance, g.scalar(dt, 1e-6))));
    const err = g.sub(pred, target);
    const perPatch = g.reduceMean(g.mul(err, err), [-1], false);              // [N, L]
    return g.div(g.reduceSum(g.mul(perPatch, m.mask), [0, 1], false), g.reduceSum(m.mask, [0, 1], false));
  });
}
