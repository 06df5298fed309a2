import type { Argv } from 'yargs';
import path from 'node:path';
import { exportArtifacts } from '../artifacts/export.js';
import { EXPORT_DEFAULTS } from '../artifacts/export.js';
import { UsageError } from '../artifacts/files.js';
import { PRETRAINED_DEFAULTS, exportFromPretrained } from '../artifacts/pretrained.js';
import { Preset, presetNames } from '../models/presets.js';
import { LAYER_NORM_FORMS } from '../models/vit.js';

export function exportCommand(y: Argv) {
  return y.command('export', 'Build the training artifacts (ONNX graphs, manifest, initial weights) for one model shape, from a preset or a pretrained ViT-MAE checkpoint',
    (a) => a
      .option('preset', { type: 'string', describe: `model preset: ${presetNames().join(', ')} (or --from-pretrained)` })
      .option('from-pretrained', { type: 'string', describe: 'a Hugging Face ViTMAEForPreTraining folder (config.json + model.safetensors, or sharded with model.safetensors.index.json; preprocessor_config.json when present): the model and its initial weights come from it, encoder and decoder; only the classifier head is new' })
      .option('image-size', { type: 'number', describe: 'image side in pixels (a multiple of the patch size); required with --preset; with --from-pretrained the default is the checkpoint\'s, and another size moves its position tables to the new grid (sine-cosine tables recomputed, trained ones resampled bicubically, as MAE\'s fine-tuning)' })
      .option('channels', { type: 'number', default: 3, describe: '1 for grayscale, 3 for RGB (with --from-pretrained: the checkpoint\'s num_channels)' })
      .option('classes', { type: 'number', demandOption: true, describe: 'number of classes' })
      .option('dtype', { choices: ['float32', 'float64'] as const, default: EXPORT_DEFAULTS.dtype, describe: 'float64 only for gradient checks' })
      .option('batch-labeled', { type: 'number', default: EXPORT_DEFAULTS.labeledBatch, describe: 'labeled images per step (fixed in the graphs)' })
      .option('batch-unlabeled', { type: 'number', default: EXPORT_DEFAULTS.unlabeledBatch, describe: 'unlabeled images per step (fixed in the graphs)' })
      .option('strong-capacity', { type: 'number', describe: 'strong views the student classifies per step, at most --batch-unlabeled (the default: all). Only the views the teacher pseudo-labels train the student, so at a mask rate m about m·batch-unlabeled are needed: a capacity above that saves the classification of the others and changes nothing but float rounding; below it the least confident pseudo-labels of a step are dropped (pseudo_weight and the mask rate say so). CIFAR-10 on the CPU ran at 10–30% mask rates (docs/BENCHMARKS.md)' })
      .option('steps-per-run', { type: 'number', default: EXPORT_DEFAULTS.stepsPerRun, describe: 'also write train_chunk.onnx and supervised_chunk.onnx, ONNX Loops taking this many optimizer steps per run: the parameters, moments and EMA then cross host memory once per chunk instead of every step (matters most on a GPU)' })
      .option('mask-ratio', { type: 'number', describe: `fraction of patches hidden for reconstruction (default ${EXPORT_DEFAULTS.maskRatio}, MAE's; with --from-pretrained the checkpoint's mask_ratio)` })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the initial weights (with --from-pretrained: of the new classifier head)' })
      .option('cls-token', { type: 'boolean', describe: 'preset models: add a learned CLS token before the patch tokens (ViT-MAE has one; needed to export the model to the Hugging Face layout)' })
      .option('pool', { choices: ['mean', 'cls'] as const, describe: 'what the classifier reads: the mean of the patch tokens, or the CLS token (default: mean for presets, cls for checkpoints)' })
      .option('pos-embed', { choices: ['learned', 'fixed'] as const, describe: 'preset models: learned position tables (default, started from a sine-cosine table) or MAE\'s fixed sine-cosine tables (never trained)' })
      .option('drop-path', { type: 'number', describe: `stochastic depth: the last encoder block drops each residual branch of an image with this probability during the student's classification pass, earlier blocks less (linearly from 0); masks are drawn from --seed in TypeScript, so runs stay reproducible (default 0; ${PRETRAINED_DEFAULTS.dropPath} with --from-pretrained)` })
      .option('layer-decay', { type: 'number', describe: `layer-wise learning-rate decay: encoder block i trains at lr·decay^(depth−i), the embeddings at lr·decay^(depth+1), the rest at lr, so pretrained early layers move less (default 1, off; ${PRETRAINED_DEFAULTS.layerDecay} with --from-pretrained)` })
      .option('freeze-blocks', { type: 'number', describe: 'do not train the patch embedding, CLS token, position table and the first N encoder blocks (default 0)' })
      .option('layer-norm', { choices: LAYER_NORM_FORMS, default: 'decomposed' as const, describe: 'how the graphs compute layer normalization: decomposed (ten standard elementwise and reduction nodes; on the CPU 2.7–5× faster than ONNX Runtime\'s LayerNormalization kernel, and its gradient reuses the forward\'s statistics) or onnx (the one LayerNormalization op: fewer kernel launches, which may suit a GPU; not measured). The same mathematics; outputs agree to float rounding' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write (created if missing)' })
      .example('$0 export --preset vit-micro-p4 --image-size 28 --channels 1 --classes 10 --out artifacts/mnist-micro', 'MNIST-sized model')
      .example('$0 export --preset vit-tiny-p4 --image-size 32 --classes 10 --batch-labeled 64 --batch-unlabeled 192 --out artifacts/cifar-tiny', 'CIFAR-10, batch 256')
      .example('$0 export --from-pretrained vit-mae-base/ --classes 5 --batch-labeled 8 --batch-unlabeled 24 --out artifacts/flowers-mae-base', 'fine-tune facebook/vit-mae-base (a clone of its hub folder) at 224×224')
      .example('$0 export --from-pretrained vit-mae-base/ --classes 10 --image-size 32 --out artifacts/cifar-mae-base', 'the same model on 32×32 images: 4 patches, position tables moved to the 2×2 grid'),
    (a) => {
      const t0 = Date.now();
      const overrides: Partial<Preset> = {};
      if (a['cls-token'] !== undefined) overrides.cls = a['cls-token'];
      if (a.pool !== undefined) overrides.pool = a.pool;
      if (a['pos-embed'] !== undefined) overrides.posEmbed = a['pos-embed'];
      if (a['drop-path'] !== undefined) overrides.dropPath = a['drop-path'];
      if (a['layer-decay'] !== undefined) overrides.layerDecay = a['layer-decay'];
      if (a['freeze-blocks'] !== undefined) overrides.freezeBlocks = a['freeze-blocks'];
      const common = {
        classes: a.classes, dtype: a.dtype, labeledBatch: a['batch-labeled'], unlabeledBatch: a['batch-unlabeled'], strongCapacity: a['strong-capacity'],
        seed: a.seed, stepsPerRun: a['steps-per-run'], out: a.out, log: (s: string) => console.log(s), build: { layerNorm: a['layer-norm'] },
      };
      const from = a['from-pretrained'];
      if (from !== undefined) {
        if (a.preset !== undefined) throw new UsageError('give --preset or --from-pretrained, not both (the checkpoint\'s config.json is the model)');
        for (const flag of ['cls-token', 'pos-embed'] as const) {
          if (a[flag] !== undefined) throw new UsageError(`--${flag} is for preset models; a ViT-MAE checkpoint has a CLS token and fixed sine-cosine tables`);
        }
        console.log(`exporting ${from} (${a.classes} classes, ${a.dtype}) to ${a.out}`);
        const m = exportFromPretrained({ ...common, dir: from, imageSize: a['image-size'], maskRatio: a['mask-ratio'], overrides });
        report(m, a.out, t0);
        return;
      }
      if (a.preset === undefined) throw new UsageError(`give --preset NAME (${presetNames().join(', ')}) or --from-pretrained DIR`);
      if (a['image-size'] === undefined) throw new UsageError('--image-size is required with --preset, e.g. --image-size 32');
      console.log(`exporting ${a.preset} (${a['image-size']}×${a['image-size']}×${a.channels}, ${a.classes} classes, ${a.dtype}) to ${a.out}`);
      const m = exportArtifacts({
        ...common, preset: a.preset, imageSize: a['image-size'], channels: a.channels, maskRatio: a['mask-ratio'], overrides,
      });
      report(m, a.out, t0);
    });
}

function report(m: { paramCount: number; numPatches: number; keep: number; labeledBatch: number; unlabeledBatch: number }, out: string, t0: number): void {
  console.log(`wrote ${path.join(out, 'manifest.json')}: ${(m.paramCount / 1e6).toFixed(2)} M parameters, ` +
    `${m.numPatches} patches (${m.keep} visible when masked), batch ${m.labeledBatch} labeled + ${m.unlabeledBatch} unlabeled, ` +
    `${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
