// The ViT-MAE as pure graph-building functions (MAE's forward_encoder / forward_decoder split). Each takes tensor
// handles and a ParamSet, appends nodes and returns handles; shapes are written beside them. N is the batch, L the
// number of patches, D the encoder width, E the decoder width, P = patch·patch·C the pixels of one patch.
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { ParamSet } from './params.js';
import { ModelConfig, arch, numPatches } from './presets.js';
import { convStem, stemSpansImage, stemWindows } from './stem.js';

export interface BuildOptions {
  /** Replace Erf by a float64 series built from standard operators (ORT has no float64 Erf kernel); for gradient checks. */
  erfStandIn?: boolean;
  /**
   * How layer normalization is written: 'decomposed' (default) as ten standard elementwise and reduction nodes, which
   * ONNX Runtime 1.29's CPU provider runs 2.7–5× faster than its LayerNormalization kernel and whose gradient reuses the
   * forward's x̂ and 1/σ; 'onnx' as the one LayerNormalization op (fewer kernel launches, for a GPU provider).
   */
  layerNorm?: LayerNormForm;
}
export type LayerNormForm = 'decomposed' | 'onnx';
export const LAYER_NORM_FORMS: readonly LayerNormForm[] = ['decomposed', 'onnx'];

/**
 * uint8 images → float: [-1, 1] by default; with the preset's pixelNorm, x·rescale then (x − mean[c]) / std[c] per
 * channel, in that order, as a Hugging Face image processor's rescale and normalize.
 */
export function normalizeImages(g: Graph, cfg: ModelConfig, images: Tensor): Tensor {
  const x = g.cast(images, cfg.dtype);                                         // [N, C, H, W]
  const n = arch(cfg.preset).pixelNorm;
  if (!n) return g.sub(g.mul(x, g.scalar(cfg.dtype, 2 / 255)), g.scalar(cfg.dtype, 1));
  const perChannel = (v: number[]) => g.constant(cfg.dtype, [cfg.channels, 1, 1], v);
  return g.div(g.sub(g.mul(x, g.scalar(cfg.dtype, n.rescale)), perChannel(n.mean)), perChannel(n.std));
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

/**
 * What the embedding takes per patch from normalized images [N, C, H, W]: the patch's pixels [N, L, P] (patchify),
 * or with a conv stem spanning the image, the patch's window with its neighbours' one-pixel ring [N, L, (p+2)²·C].
 */
export function tokenInput(g: Graph, cfg: ModelConfig, x: Tensor): Tensor {
  return stemSpansImage(cfg) ? stemWindows(g, cfg, x) : patchify(g, cfg, x);
}

/**
 * The MAE encoder's input: `patches` itself, unless the stem spans the image; then the windows of the image whose
 * hidden patches (those not in idsKeep [N, Lk]) are zeroed, so no visible token sees a hidden patch's pixels.
 */
function encoderInput(g: Graph, cfg: ModelConfig, x: Tensor, patches: Tensor, idsKeep: Tensor): Tensor {
  if (!stemSpansImage(cfg)) return patches;
  const p = cfg.preset.patch;
  const h = cfg.imageSize / p;
  const visible = g.reduceSum(oneHotRows(g, idsKeep, h * h, cfg.dtype), [1], false);       // [N, L]: 1 where visible
  const grid = g.reshape(visible, [0, 1, h, 1, h, 1]);                                     // [N, 1, h, 1, w, 1]
  const shown = g.mul(g.reshape(x, [0, cfg.channels, h, p, h, p]), grid);                 // [N, C, h, p, w, p]
  return stemWindows(g, cfg, g.reshape(shown, [0, cfg.channels, cfg.imageSize, cfg.imageSize]));
}

/** x·W + b; without a `${name}.bias` parameter (qkv_bias false), x·W. */
export function linear(g: Graph, W: ParamSet, name: string, x: Tensor): Tensor {
  const y = g.matmul(x, W[`${name}.weight`]);
  const b = W[`${name}.bias`];
  return b ? g.add(y, b) : y;
}

export function layerNorm(g: Graph, W: ParamSet, name: string, x: Tensor, eps = 1e-5, opts: BuildOptions = {}): Tensor {
  const [scale, bias] = [W[`${name}.scale`], W[`${name}.bias`]];
  return opts.layerNorm === 'onnx' ? g.layerNorm(x, scale, bias, eps) : g.layerNormDecomposed(x, scale, bias, eps);
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

export interface BlockOptions {
  /** LayerNorm epsilon (1e-5 unless the model says otherwise). */
  eps?: number;
  /** Stochastic depth: per-image factors [N, 1, 1] for the attention and the MLP branch (0, or 1/keep-probability). */
  drop?: [Tensor, Tensor];
}

/** Pre-norm transformer block. */
export function block(g: Graph, W: ParamSet, name: string, x: Tensor, heads: number, opts: BuildOptions,
  b: BlockOptions = {}): Tensor {
  const eps = b.eps ?? 1e-5;
  const branch = (t: Tensor, i: 0 | 1) => (b.drop ? g.mul(t, b.drop[i]) : t);
  return g.scope(name, () => {
    const a = g.add(x, branch(attention(g, W, `${name}.attn`, layerNorm(g, W, `${name}.norm1`, x, eps, opts), heads), 0));
    const h = gelu(g, linear(g, W, `${name}.mlp.fc1`, layerNorm(g, W, `${name}.norm2`, a, eps, opts)), opts);
    return g.add(a, branch(linear(g, W, `${name}.mlp.fc2`, h), 1));
  });
}

/**
 * Patch embedding plus position embedding: [N, L, P] → [N, L, D]; through the per-patch conv stem when the preset has
 * one. With a CLS token (`cls`), the table's first row is the CLS token's and the patches take the rest.
 */
export function embed(g: Graph, W: ParamSet, patches: Tensor, cfg?: ModelConfig, cls = false): Tensor {
  return g.add(patchTokens(g, W, patches, cfg), patchPos(g, W, cls));
}

/** The stem (when the preset has one) and the linear embedding, patch by patch: [N, T, P] → [N, T, D]. */
function patchTokens(g: Graph, W: ParamSet, patches: Tensor, cfg?: ModelConfig): Tensor {
  const tokens = cfg?.preset.stem ? convStem(g, cfg, W, patches) : patches;   // [N, T, P] or [N, T, (p/2)²·F]
  return linear(g, W, 'embed', tokens);
}

/** The patches' rows of the position table [L, D] (with a CLS token its first row is the CLS token's). */
function patchPos(g: Graph, W: ParamSet, cls: boolean): Tensor {
  return cls ? g.slice(W.pos, [0], [1], [W.pos.shape[0] as number]) : W.pos;
}

/**
 * The rows of embed(patches) at the positions ids [N, T] alone: [N, L, P] → [N, T, D]. The stem and the linear
 * embedding work patch by patch, so gathering the patches first gives the same rows and skips the hidden ones (MAE's
 * encoder sees a quarter of them: the stem and embedding of the other three quarters were computed and dropped).
 */
export function embedAt(g: Graph, W: ParamSet, patches: Tensor, ids: Tensor, cfg: ModelConfig, cls = false): Tensor {
  const pos = patchPos(g, W, cls);                                               // [L, D]
  const rows = g.matmul(oneHotRows(g, ids, pos.shape[0] as number, cfg.dtype), pos); // [N, T, D]
  return g.add(patchTokens(g, W, gatherTokens(g, patches, ids), cfg), rows);      // [N, T, D]
}

/**
 * ids [N, T] → the 0/1 matrices [N, T, L] with a 1 at (n, t, ids[n, t]): MatMul by them picks rows, exactly (one
 * product by 1, the rest by 0), and their transposes put the gradient back with a MatMul too. ONNX Runtime's CPU
 * ScatterElements, the Gather rules' gradient, ran ~18× slower than the GatherElements it differentiates here (the
 * decoder's unshuffle: 15.7 ms against 0.9 ms per step at 64 images), while these products are a few MFLOP.
 */
function oneHotRows(g: Graph, ids: Tensor, L: number, dt: FloatDType): Tensor {
  return g.cast(g.equal(g.unsqueeze(ids, [2]), g.ints(Array.from({ length: L }, (_, i) => i))), dt); // [N, T, L]
}

/** Prepends the CLS token (plus its position row) to tokens [N, T, D] → [N, 1+T, D]; N may be symbolic. */
export function prependCls(g: Graph, W: ParamSet, tokens: Tensor): Tensor {
  const [n, , d] = tokens.shape as [number | string, number, number];
  const row = g.unsqueeze(g.add(W.cls, g.slice(W.pos, [0], [0], [1])), [0]);  // [1, 1, D]
  const rows = typeof n === 'number' ? g.expand(row, [n, 1, d])
    : g.expandTo(row, g.concat([g.slice(g.shapeOf(tokens), [0], [0], [1]), g.ints([1, d])], 0), [n, 1, d]);
  return g.concat([rows, tokens], 1);
}

/** Stochastic-depth factors of block i from drop [depth, 2, N]: two [N, 1, 1] tensors. */
function blockDrop(g: Graph, drop: Tensor, i: number): [Tensor, Tensor] {
  const n = drop.shape[2] as number;
  const at = (j: number) => g.reshape(g.slice(drop, [0, 1], [i, j], [i + 1, j + 1]), [n, 1, 1]);
  return [at(0), at(1)];
}

/** Encoder blocks and the final norm: [N, T, D] → [N, T, D]; `drop` [depth, 2, N]: stochastic-depth factors. */
export function encode(g: Graph, cfg: ModelConfig, W: ParamSet, tokens: Tensor, opts: BuildOptions = {}, drop?: Tensor): Tensor {
  const eps = arch(cfg.preset).layerNormEps;
  let x = tokens;
  for (let i = 0; i < cfg.preset.depth; i++) {
    x = block(g, W, `enc.${i}`, x, cfg.preset.heads, opts, { eps, drop: drop ? blockDrop(g, drop, i) : undefined });
  }
  return layerNorm(g, W, 'enc.norm', x, eps, opts);
}

/** The encoder on the whole image: uint8 images [N, C, H, W] → last hidden state after the final norm [N, T, D]. */
export function features(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, opts: BuildOptions = {}, drop?: Tensor): Tensor {
  const cls = arch(cfg.preset).cls;
  const tokens = embed(g, W, tokenInput(g, cfg, normalizeImages(g, cfg, images)), cfg, cls);        // [N, L, D]
  return encode(g, cfg, W, cls ? prependCls(g, W, tokens) : tokens, opts, drop);               // [N, T, D]
}

/** One vector per image from the last hidden state z [N, T, D]: the CLS token, or the mean of the patch tokens. */
export function poolTokens(g: Graph, cfg: ModelConfig, z: Tensor, how: 'mean' | 'cls' = arch(cfg.preset).pool): Tensor {
  const cls = arch(cfg.preset).cls;
  const T = z.shape[1] as number;
  if (how === 'cls') return g.squeeze(g.slice(z, [1], [0], [1]), [1]);                          // [N, D]
  return g.reduceMean(cls ? g.slice(z, [1], [1], [T]) : z, [1], false);                         // [N, D]
}

/**
 * Full-view classification: uint8 images [N, C, H, W] → logits [N, K] (pooled tokens, linear head). `drop`
 * [depth, 2, N]: the student's stochastic-depth factors (absent: none, as the teacher and evaluation).
 */
export function classify(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, opts: BuildOptions = {}, drop?: Tensor): Tensor {
  return g.scope('classify', () => {
    const z = features(g, cfg, W, images, opts, drop);                                           // [N, T, D]
    return linear(g, W, 'head', poolTokens(g, cfg, z));                                          // [N, K]
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
 * normalized images [N, C, H, W] → predicted patches [N, L, P], in the reconstruction target's units.
 */
export function maePredict(g: Graph, cfg: ModelConfig, W: ParamSet, x: Tensor, m: Pick<Masking, 'idsKeep' | 'idsRestore'>,
  opts: BuildOptions = {}): Tensor {
  return maeEncodeDecode(g, cfg, W, x, patchify(g, cfg, x), m, opts).pred;
}

/**
 * maePredict, also returning the encoder's output; `images` normalized [N, C, H, W], `patches` their patchify. With
 * a CLS token it goes first through the encoder and the
 * decoder and is dropped from the prediction, as in ViT-MAE.
 */
function maeEncodeDecode(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, patches: Tensor,
  m: Pick<Masking, 'idsKeep' | 'idsRestore'>, opts: BuildOptions): { latent: Tensor; pred: Tensor } {
  const a = arch(cfg.preset);
  const L = numPatches(cfg);
  const n = patches.shape[0] as number;
  const lk = m.idsKeep.shape[1] as number;
  const E = cfg.preset.decDim;
  const c = a.cls ? 1 : 0;
  const visible = embedAt(g, W, encoderInput(g, cfg, images, patches, m.idsKeep), m.idsKeep, cfg, a.cls); // [N, Lk, D]
  const latent = encode(g, cfg, W, a.cls ? prependCls(g, W, visible) : visible, opts); // [N, c+Lk, D]
  const x = linear(g, W, 'dec.embed', latent);                              // [N, c+Lk, E]
  const maskTokens = g.expand(W['dec.mask_token'], [n, L - lk, E]);         // [N, L−Lk, E]
  const shuffled = g.concat([a.cls ? g.slice(x, [1], [1], [1 + lk]) : x, maskTokens], 1); // [N, L, E]
  const unshuffled = g.matmul(oneHotRows(g, m.idsRestore, L, cfg.dtype), shuffled); // [N, L, E]
  let z = g.add(a.cls ? g.concat([g.slice(x, [1], [0], [1]), unshuffled], 1) : unshuffled, W['dec.pos']); // [N, c+L, E]
  for (let i = 0; i < cfg.preset.decDepth; i++) z = block(g, W, `dec.${i}`, z, cfg.preset.decHeads, opts, { eps: a.layerNormEps });
  const out = linear(g, W, 'dec.pred', layerNorm(g, W, 'dec.norm', z, a.layerNormEps, opts)); // [N, c+L, P]
  return { latent, pred: a.cls ? g.slice(out, [1], [c], [c + L]) : out }; // pred [N, L, P]
}

/**
 * MAE reconstruction loss (normalized-pixel target) on the hidden patches of uint8 images [N, C, H, W].
 * Returns the scalar mean over hidden patches of the per-patch mean squared error.
 */
export function reconstructionLoss(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, m: Masking,
  opts: BuildOptions = {}): Tensor {
  return g.scope('reconstruct', () => maeForward(g, cfg, W, images, m, opts).loss);
}

export interface MaeOutputs {
  latent: Tensor; // [N, Lk(+1), D] the encoder's last hidden state on the visible patches (CLS token first)
  pred: Tensor;   // [N, L, P] predicted pixels of every patch
  loss: Tensor;   // scalar: mean over hidden patches of the per-patch mean squared error
}

/** MAE's forward (forward_encoder, forward_decoder, forward_loss) on uint8 images [N, C, H, W]. */
export function maeForward(g: Graph, cfg: ModelConfig, W: ParamSet, images: Tensor, m: Masking,
  opts: BuildOptions = {}): MaeOutputs {
  const dt = cfg.dtype;
  const a = arch(cfg.preset);
  const x = normalizeImages(g, cfg, images);                                // [N, C, H, W]
  const patches = patchify(g, cfg, x);                                      // [N, L, P]
  const { latent, pred } = maeEncodeDecode(g, cfg, W, x, patches, m, opts); // [N, c+Lk, D], [N, L, P]
  let target = patches;
  if (a.normPixLoss) {
    // Each patch normalized by its own mean and (unbiased) variance, as MAE's norm_pix_loss.
    const P = patches.shape[2] as number;
    const mean = g.reduceMean(patches, [-1]);                               // [N, L, 1]
    const centered = g.sub(patches, mean);
    const variance = g.mul(g.reduceSum(g.mul(centered, centered), [-1]), g.scalar(dt, 1 / (P - 1)));
    target = g.div(centered, g.sqrt(g.add(variance, g.scalar(dt, 1e-6))));
  }
  const err = g.sub(pred, target);
  const perPatch = g.reduceMean(g.mul(err, err), [-1], false);              // [N, L]
  const loss = g.div(g.reduceSum(g.mul(perPatch, m.mask), [0, 1], false), g.reduceSum(m.mask, [0, 1], false));
  return { latent, pred, loss };
}
