// model.onnx: a self-contained classifier for any ONNX Runtime — the weights as initializers, uint8 images in
// (preprocessing inside), logits, probabilities and the predicted class out, class names in the metadata.
import { Graph } from '../graph/builder.js';
import { serialize } from '../graph/serialize.js';
import { TypedArray } from '../graph/types.js';
import { ParamSet, paramSpecs } from '../models/params.js';
import { ModelConfig } from '../models/presets.js';
import { evalSpecs } from '../models/step.js';
import { classify } from '../models/vit.js';

export function buildClassifierModel(cfg: ModelConfig, weights: Map<string, TypedArray>, classes: string[], info: Record<string, string>): Uint8Array {
  const g = new Graph('ssmae_classifier');
  const images = g.input('images', 'uint8', ['N', cfg.channels, cfg.imageSize, cfg.imageSize],
    `uint8 images, NCHW, ${cfg.channels} channel(s), ${cfg.imageSize}×${cfg.imageSize}`);
  const W: ParamSet = {};
  for (const s of evalSpecs(paramSpecs(cfg))) W[s.name] = g.initializer(s.name, cfg.dtype, s.shape, weights.get(s.name)!);
  const logits = classify(g, cfg, W, images);
  g.output(logits, 'logits', 'class scores [N, K]');
  g.output(g.softmax(logits, -1), 'probs', 'class probabilities [N, K]');
  g.output(g.argMax(logits, 1), 'label', 'predicted class index [N]');
  return serialize(g, `ssmae classifier (${cfg.preset.name}); classes in metadata 'classes'`, {
    classes: JSON.stringify(classes), image_size: String(cfg.imageSize), channels: String(cfg.channels), ...info,
  });
}
