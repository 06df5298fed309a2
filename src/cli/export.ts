import type { Argv } from 'yargs';
import path from 'node:path';
import { exportArtifacts } from '../artifacts/export.js';
import { EXPORT_DEFAULTS } from '../artifacts/export.js';
import { presetNames } from '../models/presets.js';

export function exportCommand(y: Argv) {
  return y.command('export', 'Build the training artifacts (ONNX graphs, manifest, initial weights) for one model shape',
    (a) => a
      .option('preset', { type: 'string', demandOption: true, describe: `model preset: ${presetNames().join(', ')}` })
      .option('image-size', { type: 'number', demandOption: true, describe: 'image side in pixels (a multiple of the patch size)' })
      .option('channels', { type: 'number', default: 3, describe: '1 for grayscale, 3 for RGB' })
      .option('classes', { type: 'number', demandOption: true, describe: 'number of classes' })
      .option('dtype', { choices: ['float32', 'float64'] as const, default: EXPORT_DEFAULTS.dtype, describe: 'float64 only for gradient checks' })
      .option('batch-labeled', { type: 'number', default: EXPORT_DEFAULTS.labeledBatch, describe: 'labeled images per step (fixed in the graphs)' })
      .option('batch-unlabeled', { type: 'number', default: EXPORT_DEFAULTS.unlabeledBatch, describe: 'unlabeled images per step (fixed in the graphs)' })
      .option('steps-per-run', { type: 'number', default: EXPORT_DEFAULTS.stepsPerRun, describe: 'also write train_chunk.onnx and supervised_chunk.onnx, ONNX Loops taking this many optimizer steps per run: the parameters, moments and EMA then cross host memory once per chunk instead of every step (matters most on a GPU)' })
      .option('mask-ratio', { type: 'number', default: EXPORT_DEFAULTS.maskRatio, describe: 'fraction of patches hidden for reconstruction (MAE: 0.75)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the initial weights' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write (created if missing)' })
      .example('$0 export --preset vit-micro-p4 --image-size 28 --channels 1 --classes 10 --out artifacts/mnist-micro', 'MNIST-sized model')
      .example('$0 export --preset vit-tiny-p4 --image-size 32 --classes 10 --batch-labeled 64 --batch-unlabeled 192 --out artifacts/cifar-tiny', 'CIFAR-10, batch 256'),
    (a) => {
      const t0 = Date.now();
      console.log(`exporting ${a.preset} (${a['image-size']}×${a['image-size']}×${a.channels}, ${a.classes} classes, ${a.dtype}) to ${a.out}`);
      const m = exportArtifacts({
        preset: a.preset, imageSize: a['image-size'], channels: a.channels, classes: a.classes, dtype: a.dtype,
        labeledBatch: a['batch-labeled'], unlabeledBatch: a['batch-unlabeled'], maskRatio: a['mask-ratio'], seed: a.seed, stepsPerRun: a['steps-per-run'],
        out: a.out, log: (s) => console.log(s),
      });
      console.log(`wrote ${path.join(a.out, 'manifest.json')}: ${(m.paramCount / 1e6).toFixed(2)} M parameters, ` +
        `${m.numPatches} patches (${m.keep} visible when masked), batch ${m.labeledBatch} labeled + ${m.unlabeledBatch} unlabeled, ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
}
