// MAE random masking drawn in TypeScript from a seeded generator and fed to the graph as index tensors, so runs
// are reproducible: per image a random permutation of the L patches; the first Lk stay visible.
import { Rng } from '../data/rng.js';

export interface MaskBatch {
  idsKeep: BigInt64Array;    // [B, Lk]
  idsRestore: BigInt64Array; // [B, L]
  mask: Float32Array;        // [B, L], 1 = hidden
}

export function drawMasks(rng: Rng, batch: number, L: number, keep: number, out?: MaskBatch): MaskBatch {
  const m = out ?? { idsKeep: new BigInt64Array(batch * keep), idsRestore: new BigInt64Array(batch * L), mask: new Float32Array(batch * L) };
  const perm = new Int32Array(L);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < L; i++) perm[i] = i;
    rng.shuffle(perm);
    for (let i = 0; i < L; i++) {
      const patch = perm[i];
      if (i < keep) m.idsKeep[b * keep + i] = BigInt(patch);
      m.idsRestore[b * L + patch] = BigInt(i);
      m.mask[b * L + patch] = i < keep ? 0 : 1;
    }
  }
  return m;
}

/**
 * The masking ViT-MAE's random_masking makes from per-patch noise [B, L] (noise → argsort → ids_keep = the first
 * Lk of the shuffle, ids_restore = its inverse): to reproduce a Hugging Face run given its noise.
 */
export function masksFromNoise(noise: ArrayLike<number>, batch: number, L: number, keep: number): MaskBatch {
  const m = { idsKeep: new BigInt64Array(batch * keep), idsRestore: new BigInt64Array(batch * L), mask: new Float32Array(batch * L) };
  for (let b = 0; b < batch; b++) {
    const order = Array.from({ length: L }, (_, i) => i).sort((i, j) => noise[b * L + i] - noise[b * L + j] || i - j);
    order.forEach((patch, i) => {
      if (i < keep) m.idsKeep[b * keep + i] = BigInt(patch);
      m.idsRestore[b * L + patch] = BigInt(i);
      m.mask[b * L + patch] = i < keep ? 0 : 1;
    });
  }
  return m;
}

/**
 * Stochastic-depth factors for one step, [depth, 2, n] (per encoder block, residual branch — attention, MLP — and
 * image): 0 where the branch is dropped, else 1/(1 − rate_i), as timm's DropPath; block i's rate is timm's
 * linspace(0, rate, depth)[i]. Drawn from `rng` in TypeScript like the patch masks, so runs are reproducible.
 */
export function drawDropPath(rng: Rng, rate: number, depth: number, n: number): Float32Array {
  const out = new Float32Array(depth * 2 * n);
  for (let i = 0; i < depth; i++) {
    const r = depth > 1 ? (rate * i) / (depth - 1) : 0;
    for (let j = 0; j < 2 * n; j++) out[i * 2 * n + j] = rng.next() < r ? 0 : 1 / (1 - r);
  }
  return out;
}
