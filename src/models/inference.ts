// Graphs beside the training ones, built from a model config when needed (not stored in the artifacts):
//   embed      — the encoder on whole images: last hidden state after the final norm, and both poolings;
//   mae_forward — MAE's forward on a fixed batch and masking: the encoder's output on the visible patches, the
//                 predicted pixels and the reconstruction loss (ViTMAEForPreTraining's outputs).
import { Graph } from '../graph/builder.js';
import { ParamSpec, paramInputs } from './params.js';
import { ModelConfig, arch, keepCount, numPatches, numTokens } from './presets.js';
import { BuildOptions, features, maeForward, poolTokens } from './vit.js';

/** The parameters the encoder uses on whole images (not the decoder, not the classifier head). */
export function encoderSpecs(specs: readonly ParamSpec[]): ParamSpec[] {
  return specs.filter((s) => !s.name.startsWith('dec.') && !s.name.startsWith('head.'));
}

/** embed graph: p.* + uint8 images [N, C, H, W] → last_hidden_state [N, T, D], embedding_mean [N, D] (+ embedding_cls). */
export function buildEmbed(cfg: ModelConfig, specs: readonly ParamSpec[], opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_embed');
  const p = paramInputs(g, encoderSpecs(specs), cfg.dtype, 'p.', 'parameter');
  const images = g.input('images', 'uint8', ['N', cfg.channels, cfg.imageSize, cfg.imageSize], 'uint8 images NCHW');
  const z = features(g, cfg, p, images, opts);
  g.output(z, 'last_hidden_state', `encoder output after its final norm [N, ${numTokens(cfg)}, D]`);
  g.output(poolTokens(g, cfg, z, 'mean'), 'embedding_mean', 'mean of the patch tokens [N, D]');
  if (arch(cfg.preset).cls) g.output(poolTokens(g, cfg, z, 'cls'), 'embedding_cls', 'the CLS token [N, D]');
  return g;
}

/** mae_forward graph: p.* (all but the head) + uint8 images [B, …] and a masking → latent, pred [B, L, P], rec_loss. */
export function buildMaeForward(cfg: ModelConfig, specs: readonly ParamSpec[], batch: number, opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_mae_forward');
  const p = paramInputs(g, specs.filter((s) => !s.name.startsWith('head.')), cfg.dtype, 'p.', 'parameter');
  const L = numPatches(cfg);
  const images = g.input('images', 'uint8', [batch, cfg.channels, cfg.imageSize, cfg.imageSize], 'uint8 images NCHW');
  const m = {
    idsKeep: g.input('ids_keep', 'int64', [batch, keepCount(cfg)], 'visible patches, in shuffled order'),
    idsRestore: g.input('ids_restore', 'int64', [batch, L], 'inverse of the patch shuffle'),
    mask: g.input('mask', cfg.dtype, [batch, L], '1 where a patch is hidden'),
  };
  const r = maeForward(g, cfg, p, images, m, opts);
  g.output(r.latent, 'latent', 'encoder output on the visible patches (CLS token first) [B, Lk(+1), D]');
  g.output(r.pred, 'pred', 'predicted pixels of every patch [B, L, P]');
  g.output(r.loss, 'rec_loss', 'mean over hidden patches of the per-patch squared error');
  return g;
}
