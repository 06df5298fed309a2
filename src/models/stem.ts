// A convolutional tokenizer (CCT's conv tokenizer): a 3×3 convolution (stride 1, zero padding 1) with F output
// channels, ReLU, and 2×2 max pooling, then the usual linear patch embedding of each patch's (p/2)·(p/2)·F features.
// Two spans:
// - 'patch' (the default): the convolution sees each p×p patch on its own, zero-padded at the patch's border.
// - 'image': the convolution runs across the whole image, zero-padded at the image's border, so a patch's features
//   also see the one-pixel ring of its neighbours (each patch is fed as its (p+2)×(p+2) window, `stemWindows`).
// Both keep MAE's masking sound: with 'patch' a visible token's features come from its own pixels only; with 'image'
// the MAE's encoder is fed the image with its hidden patches zeroed (vit.ts), so a visible token never sees a hidden
// neighbour's pixels, only zeros where they were, as at the image's border.
//
// The convolution is written as im2col with a constant 0/1 selection matrix and a MatMul, not as an ONNX Conv node:
// onnxruntime-node 1.29's CPU provider has no float64 Conv (nor ConvTranspose or AveragePool; MaxPool it has), so a
// Conv node could not be gradient-checked in float64 the way every other rule is, while MatMul, Reshape, Slice, Max
// and Relu all are. At these sizes (a 4×4×3 patch: 48 pixels, or its 6×6×3 window: 108, → 16 positions × 27 taps)
// the selection costs little.
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { ParamSet } from './params.js';
import { ModelConfig } from './presets.js';

/** The stem's settings in a preset: F, the output channels of its 3×3 convolution, and what it convolves across. */
export type StemPreset = NonNullable<ModelConfig['preset']['stem']>;

/** The one-pixel ring each patch's window carries beyond the patch: 0 for span 'patch', 1 for 'image'. */
export function stemHalo(stem: StemPreset): number { return (stem.span ?? 'patch') === 'image' ? 1 : 0; }

/** Whether the model's stem convolves across the image (its patches are fed as windows, `stemWindows`). */
export function stemSpansImage(cfg: ModelConfig): boolean { return cfg.preset.stem !== undefined && stemHalo(cfg.preset.stem) === 1; }

export const STEM_KERNEL = 3;

/**
 * im2col of one patch's window laid out (y, x, c), the patch plus a ring of `halo` pixels (0 or 1) on each side: a
 * [w·w·C, p·p·9C] matrix S (w = p + 2·halo) with S[(y, x, c), (py, px, ky, kx, c)] = 1 where (y, x) = (py + ky − 1 +
 * halo, px + kx − 1 + halo) lies inside the window; columns of taps that fall outside stay 0 (the zero padding; with
 * a halo of 1 every tap falls inside).
 */
export function im2colMatrix(p: number, c: number, halo = 0): Float64Array {
  const k = STEM_KERNEL;
  const w = p + 2 * halo;
  const rows = w * w * c;
  const cols = p * p * k * k * c;
  const s = new Float64Array(rows * cols);
  for (let py = 0; py < p; py++) {
    for (let px = 0; px < p; px++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const y = py + ky - 1 + halo;
          const x = px + kx - 1 + halo;
          if (y < 0 || y >= w || x < 0 || x >= w) continue;
          for (let ch = 0; ch < c; ch++) {
            const row = (y * w + x) * c + ch;
            const col = (((py * p + px) * k + ky) * k + kx) * c + ch;
            s[row * cols + col] = 1;
          }
        }
      }
    }
  }
  return s;
}

/**
 * Each patch's (p+2)×(p+2) window of normalized images [N, C, H, W], zero beyond the image's border: [N, L, (p+2)²·C],
 * patches in row-major order, pixels ordered (y, x, c) as patchify orders a patch's. One Gather with constant
 * indices from the flattened image plus one zero column (the padding); the images need no gradient.
 */
export function stemWindows(g: Graph, cfg: ModelConfig, x: Tensor): Tensor {
  const p = cfg.preset.patch;
  const c = cfg.channels;
  const S = cfg.imageSize;
  const h = S / p;
  const w = p + 2;
  const flat = g.reshape(x, [0, c * S * S]);                                          // [N, C·H·W]
  const zero = g.mul(g.slice(flat, [1], [0], [1]), g.scalar(x.dtype, 0));             // [N, 1]
  const padded = g.concat([flat, zero], 1);                                           // [N, C·H·W + 1]
  const idx: number[] = [];
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < h; j++) {
      for (let y = 0; y < w; y++) {
        for (let xx = 0; xx < w; xx++) {
          const row = i * p + y - 1;
          const col = j * p + xx - 1;
          const inside = row >= 0 && row < S && col >= 0 && col < S;
          for (let ch = 0; ch < c; ch++) idx.push(inside ? (ch * S + row) * S + col : c * S * S);
        }
      }
    }
  }
  const windows = g.gather(padded, g.constant('int64', [idx.length], idx), 1);         // [N, L·w²·C]
  return g.reshape(windows, [0, h * h, w * w * c]);                                   // [N, L, w²·C]
}

/**
 * Patch pixels [N, L, P] (P = p·p·C, ordered (py, px, c) as patchify leaves them; with span 'image' the windows
 * [N, L, (p+2)²·C] of stemWindows) → stem features [N, L, (p/2)²·F], ordered (qy, qx, f). Parameters:
 * stem.conv.weight [9C, F] (taps ordered (ky, kx, c)), stem.conv.bias [F].
 */
export function convStem(g: Graph, cfg: ModelConfig, W: ParamSet, patches: Tensor): Tensor {
  return g.scope('stem', () => {
    const stem = cfg.preset.stem as StemPreset;
    const p = cfg.preset.patch;
    const c = cfg.channels;
    const f = stem.channels;
    const taps = STEM_KERNEL * STEM_KERNEL * c;
    const L = patches.shape[1] as number;
    const h = p / 2;
    const halo = stemHalo(stem);
    const w = p + 2 * halo;
    const S = g.constant(cfg.dtype, [w * w * c, p * p * taps], im2colMatrix(p, c, halo));
    const cols = g.reshape(g.matmul(patches, S), [0, L, p * p, taps]);                 // [N, L, p·p, 9C]
    const conv = g.add(g.matmul(cols, W['stem.conv.weight']), W['stem.conv.bias']);    // [N, L, p·p, F]
    const act = g.reshape(g.relu(conv), [0, L, h, 2, h, 2, f]);                         // [N, L, qy, dy, qx, dx, F]
    // 2×2 max pooling: the elementwise Max of the four (dy, dx) offsets.
    const at = (dy: number, dx: number) => g.slice(act, [3, 5], [dy, dx], [dy + 1, dx + 1]); // [N, L, h, 1, h, 1, F]
    const pooled = g.max(g.max(at(0, 0), at(0, 1)), g.max(at(1, 0), at(1, 1)));
    return g.reshape(pooled, [0, L, h * h * f]);                                        // [N, L, (p/2)²·F]
  });
}
