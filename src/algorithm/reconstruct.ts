// Pictures of the MAE at work with a run's weights: for each image, the original, the masked view the encoder sees
// (hidden patches gray) and the reconstruction (the decoder's predicted patches where they were hidden, the visible
// ones as they were), as MAE's figures show them. The model predicts each patch normalized by its own pixels' mean
// and standard deviation (norm_pix_loss), so those two numbers of the original patch turn a prediction back into
// pixels: the reconstruction shows the structure the model predicted within each hidden patch, not its brightness.
import type { Artifacts } from '../artifacts/load.js';
import { Rng } from '../data/rng.js';
import { serialize } from '../graph/serialize.js';
import { buildReconstruct } from '../models/reconstruct.js';
import { Session, type Device } from '../runtime/session.js';
import { type ModelConfig, arch } from '../models/presets.js';
import { HostTensor, hostTensor } from '../runtime/tensor.js';
import type { Float } from './checkpoint.js';
import { MaskBatch, drawMasks } from './masking.js';
import type { Run } from './run.js';

export interface Reconstruction {
  original: Uint8Array;      // [C, H, W]
  masked: Uint8Array;        // [C, H, W], hidden patches gray
  reconstructed: Uint8Array; // [C, H, W]
}

/** n images stored contiguously as uint8 [n, C, H, W]; the masking is drawn from `seed`, so a report is reproducible. */
export async function reconstruct(run: Run, images: Uint8Array, n: number, seed: number,
  opts: { device?: Device; threads?: number } = {}): Promise<Reconstruction[]> {
  const m = run.artifacts.manifest;
  const masks = drawMasks(Rng.derive(seed, 'report-masks'), n, m.numPatches, m.keep);
  const pred = await predictPatches(run.artifacts, run.weights, images, n, masks, opts);
  return reconstructionImages(run.artifacts.cfg, images, n, masks, pred);
}

/** The decoder's predicted patches [n, L, P] (normalized-pixel units) for n uint8 images and their masking. */
export async function predictPatches(a: Artifacts, weights: Map<string, Float>, images: Uint8Array, n: number, masks: MaskBatch,
  opts: { device?: Device; threads?: number } = {}): Promise<Float32Array | Float64Array> {
  const m = a.manifest;
  const cfg = a.cfg;
  const per = cfg.channels * cfg.imageSize * cfg.imageSize;
  const session = await Session.create(serialize(buildReconstruct(cfg, m.parameters, n)), opts);
  try {
    const feeds: Record<string, HostTensor> = {
      images: hostTensor('uint8', [n, cfg.channels, cfg.imageSize, cfg.imageSize], images.subarray(0, n * per)),
      ids_keep: hostTensor('int64', [n, m.keep], masks.idsKeep.subarray(0, n * m.keep)),
      ids_restore: hostTensor('int64', [n, m.numPatches], masks.idsRestore.subarray(0, n * m.numPatches)),
    };
    for (const s of m.parameters) feeds[`p.${s.name}`] = hostTensor(cfg.dtype, s.shape, weights.get(s.name));
    return (await session.run(feeds)).pred.data as Float32Array | Float64Array;
  } finally {
    await session.release();
  }
}

/** Original, masked and reconstructed pictures from predicted patches [n, L, P] (see the file's comment). */
export function reconstructionImages(cfg: ModelConfig, images: Uint8Array, n: number, masks: MaskBatch, pred: ArrayLike<number>): Reconstruction[] {
  const C = cfg.channels;
  const S = cfg.imageSize;
  const p = cfg.preset.patch;
  const grid = S / p;
  const L = grid * grid;
  const P = p * p * C;
  const per = C * S * S;
  // The graph's pixel normalization and its inverse, per channel: 2u/255 − 1 by default, else (u·r − mean)/std.
  const { pixelNorm: pn, normPixLoss } = arch(cfg.preset);
  const norm = (u: number, c: number) => (pn ? (u * pn.rescale - pn.mean[c]) / pn.std[c] : (2 * u) / 255 - 1);
  const denorm = (x: number, c: number) => (pn ? (x * pn.std[c] + pn.mean[c]) / pn.rescale : ((x + 1) * 255) / 2);
  const out: Reconstruction[] = [];
  for (let i = 0; i < n; i++) {
    const original = images.slice(i * per, (i + 1) * per);
    const masked = original.slice();
    const reconstructed = original.slice();
    for (let l = 0; l < L; l++) {
      if (masks.mask[i * L + l] === 0) continue;
      const r0 = Math.floor(l / grid) * p;
      const c0 = (l % grid) * p;
      // Pixel k = (py, px, c) of the patch, in patchify's order, at its place in the [C, H, W] image.
      const at = (k: number) => (k % C) * S * S + (r0 + Math.floor(k / (C * p))) * S + c0 + (Math.floor(k / C) % p);
      // Normalized as the graph does; the unbiased variance, as the loss's target. Without norm_pix_loss the
      // prediction is already in normalized pixels (mean 0, std 1 leave it as it is).
      let mean = 0;
      let std = 1;
      if (normPixLoss) {
        for (let k = 0; k < P; k++) mean += norm(original[at(k)], k % C);
        mean /= P;
        let ss = 0;
        for (let k = 0; k < P; k++) ss += (norm(original[at(k)], k % C) - mean) ** 2;
        std = Math.sqrt(ss / (P - 1) + 1e-6);
      }
      for (let k = 0; k < P; k++) {
        const x = pred[(i * L + l) * P + k] * std + mean;
        reconstructed[at(k)] = Math.max(0, Math.min(255, Math.round(denorm(x, k % C))));
        masked[at(k)] = 128;
      }
    }
    out.push({ original, masked, reconstructed });
  }
  return out;
}
