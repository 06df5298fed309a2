import type { Argv } from 'yargs';
import path from 'node:path';
import { loadModelWeights } from '../algorithm/run.js';
import { BEST_OPTION } from './options.js';
import { UsageError } from '../artifacts/files.js';
import { writeHfCheckpoint } from '../artifacts/hf-export.js';

export function exportWeightsCommand(y: Argv) {
  return y.command('export-weights', 'Write a model\'s weights in another layout: --format hf is Hugging Face\'s ViTMAEForPreTraining (config.json, model.safetensors, preprocessor_config.json), encoder and decoder, plus the classifier head as classifier.*',
    (a) => a
      .option('run', { type: 'string', describe: 'run directory written by ssmae train (its teacher\'s weights, as eval and export-model use)' })
      .option('best', BEST_OPTION)
      .option('artifacts', { type: 'string', describe: 'or an artifact directory: its initial weights' })
      .option('format', { choices: ['hf'] as const, demandOption: true, describe: 'hf: transformers\' ViTMAEForPreTraining layout (needs a model with a CLS token: any --from-pretrained model, or a preset exported with --cls-token)' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write (created if missing)' })
      .example('$0 export-weights --run runs/pets --format hf --out pets-vit-mae/', 'then ViTMAEForPreTraining.from_pretrained("pets-vit-mae") in Python, or export --from-pretrained pets-vit-mae/ again'),
    (a) => {
      const model = loadModelWeights(a.run, a.artifacts, a.best);
      const cfg = model.artifacts.cfg;
      if (!cfg.preset.cls) {
        throw new UsageError(`${model.what}: model ${cfg.preset.name} has no CLS token, and ViTMAEForPreTraining always has one; ` +
          're-export the artifacts with --cls-token (and train again) to get a model that can go to the Hugging Face layout');
      }
      const src = model.artifacts.manifest.source;
      const r = writeHfCheckpoint(a.out, cfg, model.weights, model.classes, src?.config ?? {}, src?.preprocessor ?? null);
      console.log(`wrote ${r.files.map((f) => path.join(a.out, f)).join(', ')}: ${r.tensors} tensors from ${model.what}`);
    });
}
