// `ssmae export-weights --format hf`: a model's encoder and decoder back in the Hugging Face ViTMAEForPreTraining
// layout (config.json, model.safetensors, preprocessor_config.json), plus the classifier head under a name of its
// own (classifier.weight [K, D], classifier.bias [K], as ViTForImageClassification names it; ViTMAEForPreTraining
// ignores it when loading).
import fs from 'node:fs';
import path from 'node:path';
import { HfConfig, headLinks, hfConfigFor, hfLinks, hfPreprocessorFor } from '../models/hf-layout.js';
import { ModelConfig } from '../models/presets.js';
import { ensureWritableDir, writeFileAtomic } from './files.js';
import { NamedTensor, encodeSafetensors } from './safetensors.js';

export interface HfExport { files: string[]; tensors: number }

/** Writes `weights` (ssmae names) of a model with config `cfg` to `out`; `base`/`basePre`: the imported JSON files. */
export function writeHfCheckpoint(out: string, cfg: ModelConfig, weights: Map<string, Float32Array | Float64Array>,
  classes: string[] | null, base: HfConfig = {}, basePre: HfConfig | null = null): HfExport {
  const links = [...hfLinks(cfg), ...headLinks(cfg)];
  ensureWritableDir(out);
  const tensors = new Map<string, NamedTensor>();
  for (const l of links) {
    const w = weights.get(l.ours);
    if (!w) throw new Error(`no weights for ${l.ours}`);
    const parts = l.toHf(w instanceof Float32Array ? w : Float32Array.from(w));
    l.hf.forEach((h, i) => tensors.set(h.name, { dtype: 'float32', shape: h.shape, data: parts[i] }));
  }
  // transformers refuses a safetensors file whose metadata lacks format 'pt'.
  writeFileAtomic(path.join(out, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  const config: HfConfig = { ...hfConfigFor(cfg, base), num_labels: cfg.classes };
  if (classes) {
    config.id2label = Object.fromEntries(classes.map((c, i) => [String(i), c]));
    config.label2id = Object.fromEntries(classes.map((c, i) => [c, i]));
  }
  writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileAtomic(path.join(out, 'preprocessor_config.json'), JSON.stringify(hfPreprocessorFor(cfg, basePre ?? {}), null, 2) + '\n');
  const files = ['config.json', 'model.safetensors', 'preprocessor_config.json'];
  if (!files.every((f) => fs.existsSync(path.join(out, f)))) throw new Error('export-weights: a file was not written');
  return { files, tensors: tensors.size };
}
