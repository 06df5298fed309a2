// A graph for pictures of what the MAE sees: parameters + uint8 images + a masking → the decoder's predicted
// patches, for the run report's original / masked / reconstructed panels. Built on demand for a few images (its
// batch is static, as the masking's gathers need), so it is not one of the exported training artifacts.
import { Graph } from '../graph/builder.js';
import { ParamSpec, paramInputs } from './params.js';
import { ModelConfig, keepCount, numPatches } from './presets.js';
import { BuildOptions, maePredict, normalizeImages } from './vit.js';

/**
 * Inputs: `p.<name>` for every parameter, `images` uint8 [n, C, H, W], `ids_keep` int64 [n, Lk], `ids_restore` int64
 * [n, L]. Output: `pred` [n, L, P], each patch in the normalized-pixel target's units (its pixels' own mean and
 * standard deviation undo it).
 */
export function buildReconstruct(cfg: ModelConfig, specs: readonly ParamSpec[], n: number, opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_reconstruct');
  const p = paramInputs(g, specs, cfg.dtype, 'p.', 'parameter');
  const images = g.input('images', 'uint8', [n, cfg.channels, cfg.imageSize, cfg.imageSize], 'uint8 images NCHW');
  const idsKeep = g.input('ids_keep', 'int64', [n, keepCount(cfg)], 'visible patch indices per image');
  const idsRestore = g.input('ids_restore', 'int64', [n, numPatches(cfg)], 'inverse of the patch shuffle');
  g.output(maePredict(g, cfg, p, normalizeImages(g, cfg, images), { idsKeep, idsRestore }, opts), 'pred', 'predicted patches [n, L, P], normalized-pixel units');
  return g;
}
