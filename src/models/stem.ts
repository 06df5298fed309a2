// A convolutional tokenizer applied to each patch on its own (CCT's conv tokenizer, cut to the patch): a 3×3
// convolution (stride 1, zero padding 1) with F output channels, ReLU, and 2×2 max pooling, inside every p×p patch;
// then the usual linear patch embedding of the (p/2)·(p/2)·F features. Working patch by patch keeps MAE's masking
// sound: a visible token's features come from its own pixels only, never from a hidden neighbour's.
//
// The convolution is written as im2col with a constant 0/1 selection matrix and a MatMul, not as an ONNX Conv node:
// onnxruntime-node 1.29's CPU provider has no float64 Conv (nor ConvTranspose or AveragePool; MaxPool it has), so a
// Conv node could not be gradient-checked in float64 the way every other rule is, while MatMul, Reshape, Slice, Max
// and Relu all are. At these sizes (a 4×4×3 patch: 48 pixels → 16 positions × 27 taps) the selection costs little.
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { ParamSet } from './params.js';
import { ModelConfig } from './presets.js';

/** The stem's settings in a preset: F, the output channels of its 3×3 convolution. */
export interface StemPreset { channels: number }

export const STEM_KERNEL = 3;

/**
 * im2col of one patch laid out (py, px, c): a [p·p·C, p·p·9C] matrix S with S[(y, x, c), (py, px, ky, kx, c)] = 1
 * where (y, x) = (py + ky − 1, px + kx − 1) lies inside the patch; columns of taps that fall outside stay 0 (the
 * zero padding).
 */
export function im2colMatrix(p: number, c: number): Float64Array {
  const k = STEM_KERNEL;
  const rows = p * p * c;
  const cols = p * p * k * k * c;
  const s = new Float64Array(rows * cols);
  for (let py = 0; py < p; py++) {
    for (let px = 0; px < p; px++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const y = py + ky - 1;
          const x = px + kx - 1;
          if (y < 0 || y >= p || x < 0 || x >= p) continue;
          for (let ch = 0; ch < c; ch++) {
            const row = (y * p + x) * c + ch;
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
 * Patch pixels [N, L, P] (P = p·p·C, ordered (py, px, c) as patchify leaves them) → stem features [N, L, (p/2)²·F],
 * ordered (qy, qx, f). Parameters: stem.conv.weight [9C, F] (taps ordered (ky, kx, c)), stem.conv.bias [F].
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
    const S = g.constant(cfg.dtype, [p * p * c, p * p * taps], im2colMatrix(p, c));
    const cols = g.reshape(g.matmul(patches, S), [0, L, p * p, taps]);                 // [N, L, p·p, 9C]
    const conv = g.add(g.matmul(cols, W['stem.conv.weight']), W['stem.conv.bias']);    // [N, L, p·p, F]
    const act = g.reshape(g.relu(conv), [0, L, h, 2, h, 2, f]);                         // [N, L, qy, dy, qx, dx, F]
    // 2×2 max pooling: the elementwise Max of the four (dy, dx) offsets.
    const at = (dy: number, dx: number) => g.slice(act, [3, 5], [dy, dx], [dy + 1, dx + 1]); // [N, L, h, 1, h, 1, F]
    const pooled = g.max(g.max(at(0, 0), at(0, 1)), g.max(at(1, 0), at(1, 1)));
    return g.reshape(pooled, [0, L, h * h * f]);                                        // [N, L, (p/2)²·F]
  });
}
