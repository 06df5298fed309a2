import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import path from 'node:path';
import { loadArtifacts } from '../artifacts/load.js';
import { METHODS, TRAIN_DEFAULTS, resolveConfig } from '../algorithm/config.js';
import { loadTrainingData } from '../algorithm/data.js';
import { SSMAETrainer } from '../algorithm/trainer.js';
import { loadRun } from '../algorithm/run.js';
import { ensureWritableDir, writeFileAtomic } from '../artifacts/files.js';
import { buildReport } from '../report/build.js';
import { DEVICES } from '../runtime/session.js';
import { decodeProgress } from './progress.js';

const D = TRAIN_DEFAULTS;
/** Default peak learning rate for artifacts exported --from-pretrained. */
const PRETRAINED_LR = 1e-4;

export function trainCommand(y: Argv) {
  return y.command('train', 'Train a classifier with SSMAE: masked reconstruction on all images, cross-entropy on labels and gated pseudo-labels',
    (a) => a
      .option('artifacts', { type: 'string', demandOption: true, describe: 'directory written by ssmae export' })
      .option('labeled', { type: 'string', demandOption: true, describe: 'labeled source: DIR/<class>/*, FILE.csv (path,label), mnist:train, fashion-mnist:train, cifar10-bin:DIR, idx:IMAGES,LABELS' })
      .option('unlabeled', { type: 'string', describe: 'unlabeled source: any folder of images (recursive), or a labeled source whose labels are hidden' })
      .option('labels-per-class', { type: 'number', describe: 'keep N labeled images per class; the rest of --labeled becomes unlabeled (labels hidden, used only to report pseudo-label precision)' })
      .option('val-per-class', { type: 'number', default: D.valPerClass, describe: 'labeled images per class held out as the gate\'s validation split (never the test set)' })
      .option('out', { type: 'string', demandOption: true, describe: 'run directory: config.json, metrics.jsonl/csv, gate.jsonl, checkpoint.safetensors' })
      .option('steps', { type: 'number', default: D.steps, describe: 'total optimizer steps to reach (with --resume: continue up to this)' })
      .option('epochs', { type: 'number', describe: 'alternative to --steps: passes over the unlabeled set' })
      .option('method', { choices: METHODS, default: D.method, describe: 'ssmae (gated); no-gate (pseudo-labels from step 1); labels-only (cross-entropy on the labels alone); mae-finetune (MAE pre-training on all images, then fine-tuning on the labels)' })
      .option('pretrain-steps', { type: 'number', describe: 'mae-finetune: steps 1..N train masked reconstruction alone (the classifier head is not trained), steps N+1..--steps cross-entropy on the labels; each phase has its own warmup and cosine decay. Default: half of --steps, one budget of the same size for each phase. Keep N when resuming; a run with --steps ≤ N only pre-trains' })
      .option('device', { choices: DEVICES, default: D.device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .option('seed', { type: 'number', default: D.seed, describe: 'seeds splits, sampling, augmentation and masks: runs are reproducible' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from OUT/checkpoint.safetensors' })
      .option('lr', { type: 'number', default: D.lr, describe: `peak learning rate (linear warmup, then cosine decay); for artifacts exported --from-pretrained the default is ${PRETRAINED_LR} (MAE fine-tuning's scale: a pretrained model moves less)` })
      .option('min-lr', { type: 'number', default: D.minLr })
      .option('warmup-steps', { type: 'number', default: D.warmupSteps })
      .option('weight-decay', { type: 'number', default: D.weightDecay, describe: 'AdamW decoupled decay (not on norms, biases, position embeddings, mask token)' })
      .option('clip-norm', { type: 'number', default: D.clipNorm, describe: 'global gradient-norm clip' })
      .option('ema-decay', { type: 'number', default: D.emaDecay, describe: 'teacher EMA decay; 0.99 follows the student within ~100 steps' })
      .option('teacher', { choices: ['ema', 'student'] as const, default: D.teacher, describe: 'who makes pseudo-labels (and is the final model)' })
      .option('tau', { type: 'number', default: D.tau, describe: 'confidence a pseudo-label needs (FixMatch: 0.95)' })
      .option('agree', { type: 'boolean', default: D.agree, describe: 'also require the student\'s strong-view prediction to agree' })
      .option('dist-align', { type: 'boolean', default: D.distAlign, describe: 'distribution alignment: rescale the teacher\'s probabilities toward a uniform class prior before thresholding (--no-dist-align turns it off)' })
      .option('lambda-rec', { type: 'number', default: D.lambdaRec, describe: 'weight of the reconstruction loss' })
      .option('lambda-l', { type: 'number', default: D.lambdaL, describe: 'weight of the labeled cross-entropy' })
      .option('lambda-u', { type: 'number', default: D.lambdaU, describe: 'weight of the pseudo-label cross-entropy' })
      .option('gate-threshold', { type: 'number', default: D.gate.threshold, describe: 'the gate opens when validation accuracy reaches this; 0.5 is far above chance for ≥3 classes, and high-confidence pseudo-labels are then mostly right' })
      .option('gate-patience', { type: 'number', default: D.gate.patience, describe: 'evaluations in a row past the threshold before the gate changes' })
      .option('gate-can-close', { type: 'boolean', default: D.gate.canClose, describe: 'let the gate close again if validation accuracy falls below the threshold' })
      .option('flip', { type: 'boolean', default: D.flip, describe: 'horizontal flips in augmentation (off for digits and text)' })
      .option('crop-pad', { type: 'number', describe: 'pixels of pad-and-random-crop in the weak view (default: 1/8 of the image side; 0 turns shifts off)' })
      .option('eval-every', { type: 'number', default: D.evalEvery, describe: 'steps between validation evaluations (gate decisions)' })
      .option('log-every', { type: 'number', default: D.logEvery, describe: 'steps between metrics rows' })
      .option('checkpoint-every', { type: 'number', default: D.checkpointEvery })
      .option('cache-dir', { type: 'string', describe: 'where decoded images are cached (default: .cache/ssmae beside the run)' })
      .option('config', { type: 'string', describe: 'JSON file of settings (keys as in OUT/config.json); flags override it' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar (logs one line per interval instead)' })
      .option('report', { type: 'boolean', default: false, describe: 'at the end, write OUT/report.html: curves, the gate, reconstructions and a confusion matrix on the validation split (ssmae report makes one on any labeled source)' })
      .example('$0 train --artifacts artifacts/mnist --labeled mnist:train --labels-per-class 10 --out runs/mnist --steps 600', '100 labels, the rest of MNIST unlabeled')
      .example('$0 train --artifacts artifacts/pets --labeled data/labeled/ --unlabeled data/dump/ --out runs/pets --flip', 'your own image folders')
      .example('$0 train --artifacts artifacts/mnist --labeled mnist:train --labels-per-class 10 --out runs/mnist-mae --steps 600 --method mae-finetune --pretrain-steps 300', 'baseline: 300 steps of MAE pre-training, then 300 of fine-tuning on the 100 labels')
      .example('$0 train --artifacts artifacts/pets --labeled data/labeled/ --unlabeled data/dump/ --out runs/pets --resume --steps 4000', 'continue a run'),
    async (a) => {
      ensureWritableDir(a.out);
      const art = loadArtifacts(a.artifacts);
      const explicit = (k: string) => process.argv.some((s) => s === `--${k}` || s.startsWith(`--${k}=`) || s === `--no-${k}`);
      const pick = (k: string, v: unknown) => (explicit(k) || !a.config ? v : undefined);
      const flags: Record<string, unknown> = {
        artifacts: a.artifacts, labeled: a.labeled, out: a.out,
        unlabeled: a.unlabeled ?? undefined, labelsPerClass: a['labels-per-class'], valPerClass: pick('val-per-class', a['val-per-class']),
        steps: pick('steps', a.steps), pretrainSteps: a['pretrain-steps'], method: pick('method', a.method), device: pick('device', a.device), threads: a.threads,
        seed: pick('seed', a.seed), lr: pick('lr', a.lr), minLr: pick('min-lr', a['min-lr']), warmupSteps: pick('warmup-steps', a['warmup-steps']),
        weightDecay: pick('weight-decay', a['weight-decay']), clipNorm: pick('clip-norm', a['clip-norm']), emaDecay: pick('ema-decay', a['ema-decay']),
        teacher: pick('teacher', a.teacher), tau: pick('tau', a.tau), agree: pick('agree', a.agree), distAlign: pick('dist-align', a['dist-align']), lambdaRec: pick('lambda-rec', a['lambda-rec']),
        lambdaL: pick('lambda-l', a['lambda-l']), lambdaU: pick('lambda-u', a['lambda-u']), flip: pick('flip', a.flip), cropPad: a['crop-pad'],
        evalEvery: pick('eval-every', a['eval-every']), logEvery: pick('log-every', a['log-every']),
        checkpointEvery: pick('checkpoint-every', a['checkpoint-every']), cacheDir: a['cache-dir'],
        gate: { threshold: pick('gate-threshold', a['gate-threshold']), patience: pick('gate-patience', a['gate-patience']), canClose: pick('gate-can-close', a['gate-can-close']) },
      };
      // A pretrained model keeps what it learned only at a fine-tuning learning rate.
      if (art.manifest.source && !explicit('lr') && !a.config) flags.lr = PRETRAINED_LR;
      const cacheDir = a['cache-dir'] ?? path.join(path.dirname(path.resolve(a.out)), '.cache', 'ssmae');
      const t0 = Date.now();
      const log = (s: string) => console.error(s);
      const data = await loadTrainingData({
        labeled: a.labeled, unlabeled: a.unlabeled ?? null, labelsPerClass: a['labels-per-class'] ?? null,
        valPerClass: a['val-per-class'], seed: a.seed, size: art.cfg.imageSize, channels: art.cfg.channels as 1 | 3,
        classes: art.cfg.classes, cacheDir, log, progress: decodeProgress,
      });
      const skipped = data.labeled.skipped.length + data.unlabeled.skipped.length;
      console.log(`data: ${data.labeled.n} labeled, ${data.val.n} validation, ${data.unlabeled.n} unlabeled images` +
        (skipped ? `, ${skipped} files skipped (warnings above)` : '') + ` (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      if (a.epochs !== undefined) flags.steps = Math.max(1, Math.ceil((a.epochs * data.unlabeled.n) / art.manifest.unlabeledBatch));
      const cfg = resolveConfig(flags, a.config);
      const trainer = new SSMAETrainer(cfg, art, data, progressHooks(a.quiet));
      await trainer.init(a.resume);
      try {
        const r = await trainer.train();
        console.log(`done: step ${r.step}, validation accuracy ${(r.finalValAcc * 100).toFixed(1)}%, gate ` +
          (r.gateOpenedAt !== null ? `opened at step ${r.gateOpenedAt}` : 'never opened') + `; run in ${r.runDir}`);
        if (a.report) {
          const file = path.join(a.out, 'report.html');
          writeFileAtomic(file, await buildReport(loadRun(a.out), { data: { name: 'the validation split', set: data.val }, device: a.device, threads: a.threads }));
          console.log(`report: ${file}`);
        }
      } finally {
        await trainer.close();
      }
    });
}

function progressHooks(quiet: boolean) {
  const tty = process.stderr.isTTY && !quiet;
  const bar = tty
    ? new cliProgress.SingleBar({
      format: 'step {value}/{total} |{bar}| loss {loss} rec {rec} ceL {ceL} ceU {ceU} | gate {gate} pseudo {rate} | {ips} img/s | ETA {eta_formatted}',
      hideCursor: true, etaBuffer: 50, stream: process.stderr,
    }, cliProgress.Presets.shades_classic)
    : null;
  const f = (v: number | null | undefined, d = 3) => (v === null || v === undefined ? '-' : v.toFixed(d));
  return {
    onStart: ({ step, total, resumed }: { step: number; total: number; resumed: boolean }) => {
      if (resumed) console.error(`resuming at step ${step}`);
      bar?.start(total, step, { loss: '-', rec: '-', ceL: '-', ceU: '-', gate: 'closed', rate: '-', ips: '-' });
    },
    onStep: (i: { step: number; stats: Record<string, number>; gateOpen: boolean; imagesPerSec: number }) => {
      bar?.update(i.step, {
        loss: f(i.stats.loss), rec: f(i.stats.rec_loss), ceL: f(i.stats.ce_labeled), ceU: f(i.stats.ce_pseudo),
        gate: i.gateOpen ? 'open' : 'closed', rate: f(i.stats.pseudo_mask_rate, 2), ips: i.imagesPerSec.toFixed(0),
      });
    },
    onLog: (r: Record<string, number | null | undefined>) => {
      if (tty) return;
      console.error(`step ${r.step}: loss ${f(r['train/loss'])} rec ${f(r['train/rec_loss'])} ceL ${f(r['train/ce_labeled'])} ` +
        `ceU ${f(r['train/ce_pseudo'])} mask-rate ${f(r['train/pseudo_mask_rate'], 2)} precision ${f(r['train/pseudo_precision'], 2)} ` +
        `val ${f(r['val/acc'])} gate ${r['gate/open'] ? 'open' : 'closed'} ${f(r['time/images_per_s'], 0)} img/s`);
    },
    onGate: (d: { step: number; changed: boolean; reason: string }) => {
      const line = `gate @ step ${d.step}: ${d.reason}`;
      if (bar && d.changed) { bar.stop(); console.error(line); bar.start(bar.getTotal(), d.step); } else if (!bar) console.error(line);
    },
  };
}
