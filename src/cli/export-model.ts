import type { Argv } from 'yargs';
import { loadRun } from '../algorithm/run.js';
import { BEST_OPTION } from './options.js';
import { buildClassifierModel } from '../artifacts/classifier-model.js';
import { writeFileAtomic } from '../artifacts/files.js';
import { TOOL_VERSION } from '../artifacts/version.js';

export function exportModelCommand(y: Argv) {
  return y.command('export-model', 'Write a self-contained ONNX classifier (weights inside, uint8 images in) for any ONNX Runtime',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('best', BEST_OPTION)
      .option('out', { type: 'string', demandOption: true, describe: 'file to write, e.g. model.onnx' })
      .example('$0 export-model --run runs/mnist --out mnist.onnx', 'inputs: images uint8 [N, C, H, W]; outputs: logits, probs, label'),
    (a) => {
      const run = loadRun(a.run, { best: a.best });
      const bytes = buildClassifierModel(run.artifacts.cfg, run.weights, run.classes, {
        ssmae_version: TOOL_VERSION, step: String(run.step), ...(a.best ? { weights: 'best validation' } : {}), preset: run.artifacts.cfg.preset.name,
      });
      writeFileAtomic(a.out, bytes);
      console.log(`${a.out}: ${(bytes.length / 1e6).toFixed(1)} MB, input images uint8 [N, ${run.artifacts.cfg.channels}, ` +
        `${run.artifacts.cfg.imageSize}, ${run.artifacts.cfg.imageSize}], outputs logits, probs, label; classes: ${run.classes.join(', ')}`);
    });
}
