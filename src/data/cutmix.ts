// CutMix of the labeled batch (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers with
// Localizable Features"): a box of image j's pixels is pasted into image i, and i's target becomes
// (1 − w)·onehot(y_i) + w·onehot(y_j), w the box's share of the pixels. The box follows the paper with α = 1:
// λ ~ Uniform(0, 1) (Beta(1, 1)), sides √(1 − λ) of the image's, centre uniform, clipped at the border, and w taken
// from the clipped box so that the target matches the pixels exactly. Images are uint8 NCHW, square.
import { Rng } from './rng.js';

export interface CutMixResult {
  /** Class of the image pasted into each image (its own class where nothing was pasted). */
  labelsMix: BigInt64Array;
  /** Share of each image's pixels that came from the pasted image, in [0, 1] (0: not mixed). */
  mixWeight: Float64Array;
}

/**
 * Cut-mixes `images` [N, C, S, S] in place: each image with probability `prob` gets a box from its partner, the
 * image at the mirrored place in the batch (N − 1 − i; the batch is already a random draw), as it was before any
 * pasting. Draws from `rng` for every image, mixed or not, so the stream does not depend on the outcomes.
 */
export function cutmix(images: Uint8Array, labels: BigInt64Array, channels: number, size: number, rng: Rng, prob: number): CutMixResult {
  const n = labels.length;
  const per = channels * size * size;
  if (images.length !== n * per) throw new RangeError(`cutmix: ${n} images of ${per} bytes need ${n * per} bytes, got ${images.length}`);
  if (!(prob >= 0 && prob <= 1)) throw new RangeError(`cutmix: prob must be in [0, 1], got ${prob}`);
  const labelsMix = BigInt64Array.from(labels);
  const mixWeight = new Float64Array(n);
  if (prob === 0) return { labelsMix, mixWeight };
  const original = Uint8Array.from(images);
  for (let i = 0; i < n; i++) {
    const mixIt = rng.next() < prob;
    const lambda = rng.next();
    const cy = rng.int(size);
    const cx = rng.int(size);
    if (!mixIt) continue;
    const j = n - 1 - i;
    const side = Math.floor(size * Math.sqrt(1 - lambda));
    const y0 = Math.max(0, cy - (side >> 1));
    const x0 = Math.max(0, cx - (side >> 1));
    const y1 = Math.min(size, cy - (side >> 1) + side);
    const x1 = Math.min(size, cx - (side >> 1) + side);
    if (y1 <= y0 || x1 <= x0 || j === i) continue;
    for (let c = 0; c < channels; c++) {
      for (let y = y0; y < y1; y++) {
        const row = c * size * size + y * size;
        images.set(original.subarray(j * per + row + x0, j * per + row + x1), i * per + row + x0);
      }
    }
    labelsMix[i] = labels[j];
    mixWeight[i] = ((y1 - y0) * (x1 - x0)) / (size * size);
  }
  return { labelsMix, mixWeight };
}
