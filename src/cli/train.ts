import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import fs from 'node:fs';
import path from 'node:path';
import { hideBin } from 'yargs/helpers';
import { loadArtifacts } from '../artifacts/load.js';
import { METHODS, TRAIN_DEFAULTS, resolveConfig } from '../algorithm/config.js';
import { GATE_METRICS } from '../algorithm/gate.js';
import { THRESHOLD_MODES } from '../algorithm/thresholds.js';
import { loadTrainingData } from '../algorithm/data.js';
import { SSMAETrainer } from '../algorithm/trainer.js';
import { loadRun } from '../algorithm/run.js';
import { buildReport } from '../report/build.js';
import { CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE } from '../algorithm/checkpoint.js';
import { BEST_FILE } from '../algorithm/best.js';
import { UsageError, WriteError, ensureWritableDir, removeStaleTempFiles, writeFileAtomic } from '../artifacts/files.js';
import { DEVICES, checkDevice } from '../runtime/session.js';
import { lastFlagWins } from './args.js';
import { EXIT_STOPPED } from './errors.js';
import { decodeProgress, tenths } from './progress.js';
import { GracefulStop, shellCommand } from './stop.js';

/** The files a run directory holds: their presence means a run is there; --overwrite removes them. */
const RUN_FILES = ['config.json', 'classes.json', 'metrics.jsonl', 'metrics.csv', 'gate.jsonl', 'report.html', CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, BEST_FILE];

/** This very command with --resume (and without --overwrite): what continues the run. */
function resumeCommand(): string {
  const drop = /^--(no-)?(resume|overwrite)(=.*)?$/;
  return shellCommand(['ssmae', ...lastFlagWins(hideBin(process.argv)).filter((w) => !drop.test(w)), '--resume']);
}

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
      .option('epochs', { type: 'number', describe: 'alternative to --steps: passes over the unlabeled set (over the labeled set when there is none: labels-only on every label)' })
      .option('method', { choices: METHODS, default: D.method, describe: 'ssmae (gated); no-gate (pseudo-labels from step 1); labels-only (cross-entropy on the labels alone); mae-finetune (MAE pre-training on all images, then fine-tuning on the labels)' })
      .option('pretrain-steps', { type: 'number', describe: 'mae-finetune: steps 1..N train masked reconstruction alone (the classifier head is not trained), steps N+1..--steps cross-entropy on the labels; each phase has its own warmup and cosine decay. Default: half of --steps, one budget of the same size for each phase. Keep N when resuming; a run with --steps ≤ N only pre-trains' })
      .option('device', { choices: DEVICES, default: D.device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .option('seed', { type: 'number', default: D.seed, describe: 'seeds splits, sampling, augmentation and masks: runs are reproducible' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from OUT/checkpoint.safetensors (or, when it is damaged, the previous checkpoint kept beside it); starts afresh when OUT has no checkpoint yet, so a job that may be restarted can always pass it' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'delete the run already in OUT (its config, logs and checkpoints) and start afresh; without it (or --resume) train refuses to touch an existing run' })
      .option('lr', { type: 'number', default: D.lr, describe: `peak learning rate (linear warmup, then cosine decay); for artifacts exported --from-pretrained the default is ${PRETRAINED_LR} (MAE fine-tuning's scale: a pretrained model moves less)` })
      .option('min-lr', { type: 'number', default: D.minLr, describe: 'learning rate the cosine decay ends at, on the last step' })
      .option('warmup-steps', { type: 'number', default: D.warmupSteps, describe: 'steps of linear warmup from 0 to --lr' })
      .option('weight-decay', { type: 'number', default: D.weightDecay, describe: 'AdamW decoupled decay (not on norms, biases, position embeddings, mask token)' })
      .option('clip-norm', { type: 'number', default: D.clipNorm, describe: 'global gradient-norm clip' })
      .option('ema-decay', { type: 'number', default: D.emaDecay, describe: 'teacher EMA decay; 0.99 follows the student within ~100 steps' })
      .option('teacher', { choices: ['ema', 'student'] as const, default: D.teacher, describe: 'who makes pseudo-labels (and is the final model)' })
      .option('tau', { type: 'number', default: D.tau, describe: 'confidence a pseudo-label needs (FixMatch: 0.95)' })
      .option('threshold', { choices: THRESHOLD_MODES, default: D.threshold, describe: 'how the confidence threshold is set per class. fixed: --tau for every class (FixMatch). flexmatch: FlexMatch\'s curriculum (Zhang et al., 2021): τ scaled down for classes the teacher rarely predicts confidently yet, so hard classes get pseudo-labels too. freematch: FreeMatch\'s self-adaptive thresholds (Wang et al., 2023): an EMA of the teacher\'s own confidence, per class; ignores --tau. Try flexmatch when the pseudo-labels pile onto a few classes' })
      .option('threshold-momentum', { type: 'number', default: D.thresholdMomentum, describe: 'freematch: EMA factor of its confidence averages (0.99: a time constant of ~100 steps)' })
      .option('agree', { type: 'boolean', default: D.agree, describe: 'also require the student\'s strong-view prediction to agree' })
      .option('dist-align', { type: 'boolean', default: D.distAlign, describe: 'distribution alignment: rescale the teacher\'s probabilities toward a uniform class prior before thresholding (--no-dist-align turns it off)' })
      .option('lambda-rec', { type: 'number', default: D.lambdaRec, describe: 'weight of the reconstruction loss (MAE\'s masked-patch error). 0 drops the term: while the gate is closed, joint steps then run supervised_step.onnx (the labeled cross-entropy is all that is left of them), and once it is open pseudo_step.onnx, which skips the MAE\'s forward and backward passes (about half of an open joint step on vit-micro-d2-p4-convstem32 at 32×32) and trains bit-identically to train_step.onnx at 0. On CIFAR-10 at 5,000 steps, 0 scored as well as 1 (docs/BENCHMARKS.md)' })
      .option('lambda-l', { type: 'number', default: D.lambdaL, describe: 'weight of the labeled cross-entropy' })
      .option('lambda-u', { type: 'number', default: D.lambdaU, describe: 'weight of the pseudo-label cross-entropy' })
      .option('label-smoothing', { type: 'number', default: D.labelSmoothing, describe: 'ε of label smoothing for the cross-entropy on labeled images: targets (1 − ε)·one-hot + ε/classes, as PyTorch\'s label_smoothing. Small ViTs trained from scratch on few labels overfit them less with 0.1; pseudo-labels keep hard targets. It also caps the model\'s confidence (ε 0.1 on 10 classes: ~0.91 at best), so lower --gate-confidence and --tau below that cap with it, or the confident-acc gate never opens. Needs artifacts exported by this version' })
      .option('cutmix', { type: 'number', default: D.cutmix, describe: 'CutMix of the labeled batch (Yun et al., 2019): each labeled image, with this probability, gets a box of another labeled image\'s pixels (a random share, uniform), and its target becomes the two classes weighted by their shares of the pixels. A regularizer for small models that fit their few labels early; 0 (the default): off. Pseudo-labeled images are not mixed. Needs artifacts exported by this version' })
      .option('pseudo-replay', { type: 'number', default: D.pseudoReplay, describe: 'ssmae, no-gate, with --labeled-steps: in each step on the labels, this share of the labeled batch is strong views of unlabeled images that the teacher pseudo-labeled at their last joint step, with those labels (self-training from the joint steps\' own selections). An image joins the pool when a joint step selects it and leaves it when a later one sees it and does not; metrics.jsonl logs the pool\'s size and, with hidden labels, its precision. 0 (the default): off. On CIFAR-10 (5,000 steps, docs/BENCHMARKS.md) 0.5 lost 4.8 validation points: try small shares, and only where pseudo-labels are precise' })
      .option('labeled-steps', { type: 'number', default: D.labeledSteps, describe: 'ssmae, no-gate: after each joint step, N steps on the labels alone (the labels-only step: cross-entropy on the labeled batch, the same optimizer, about 1/7 of an open joint step\'s time on the CPU). --steps counts both kinds; steps 1, N+2, 2N+3, … are joint. Worth trying when a fixed wall time leaves few joint steps and labels-only keeps improving with more steps (CIFAR-10 on the CPU); 0 (the default): every step joint. labels-only and mae-finetune have no joint steps and ignore it, so one recipe serves a whole comparison' })
      .option('gate-metric', { choices: GATE_METRICS, default: D.gate.metric, describe: 'what the gate reads on the validation split. confident-acc (the SSMAE paper\'s rule, the default): the accuracy of the predictions whose confidence is ≥ --gate-confidence, i.e. "would the pseudo-labels made now be right?"; use it with any number of classes. acc: plain top-1 accuracy (the first rule of this tool); use it to reproduce older runs, or when the validation split is too small to hold --gate-min-confident confident predictions' })
      .option('gate-threshold', { type: 'number', default: D.gate.threshold, describe: 'the gate opens when the --gate-metric figure reaches this (the paper: 0.70 for confident-acc; 0.5 was the old default for acc)' })
      .option('gate-confidence', { type: 'number', default: D.gate.confidence, describe: 'confident-acc: a validation prediction counts as confident when its max probability is ≥ this (the paper: 0.95)' })
      .option('gate-min-confident', { type: 'number', default: D.gate.minConfident, describe: 'confident-acc: the gate stays closed while fewer validation predictions than this are confident, so 2 right out of 2 cannot open it' })
      .option('gate-min-step', { type: 'number', default: D.gate.minStep, describe: 'no evaluation before this step opens the gate (the paper waits 10 epochs); 0: from the first evaluation' })
      .option('gate-patience', { type: 'number', default: D.gate.patience, describe: 'evaluations in a row past the threshold before the gate changes' })
      .option('gate-can-close', { type: 'boolean', default: D.gate.canClose, describe: 'let the gate close again if the figure falls below the threshold' })
      .option('skip-closed', { type: 'boolean', default: D.skipClosed, describe: 'while the gate is closed, run gate_closed_step.onnx: reconstruction and labeled cross-entropy only, without the teacher\'s forward pass and the strong views\' classification, whose loss is then weighted 0 anyway (about half the step\'s work). Same training up to float rounding, except that distribution alignment\'s running mean of teacher predictions starts at the gate\'s opening. With --lambda-rec 0 (and --lambda-l 1) a closed step is the labeled cross-entropy alone and runs supervised_step.onnx, drawing no unlabeled images: until the gate opens the run trains exactly as labels-only (bit for bit), at the cost of a labels-only step. --no-skip-closed reproduces runs of earlier versions exactly' })
      .option('flip', { type: 'boolean', default: D.flip, describe: 'horizontal flips in augmentation (off for digits and text)' })
      .option('crop-pad', { type: 'number', describe: 'pixels of pad-and-random-crop in the weak view (default: 1/8 of the image side; 0 turns shifts off)' })
      .option('eval-every', { type: 'number', default: D.evalEvery, describe: 'steps between validation evaluations (gate decisions)' })
      .option('log-every', { type: 'number', default: D.logEvery, describe: 'steps between metrics rows' })
      .option('checkpoint-every', { type: 'number', default: D.checkpointEvery, describe: 'steps between checkpoints (OUT/checkpoint.safetensors, the previous one kept beside it); a killed run loses at most this many steps with --resume' })
      .option('keep-best', { type: 'boolean', default: D.keepBest, describe: 'also keep the weights of the evaluation with the best validation accuracy so far in OUT/best.safetensors (a tie keeps the earlier step); eval, pseudo-label, check, export-model, embed and export-weights take them with --best. Worth it where a long schedule over-fits few labels; the validation split chooses, so score the chosen weights on another split' })
      .option('cache-dir', { type: 'string', describe: 'where decoded images are cached (default: .cache/ssmae beside the run). Training reads its images from these files by offset, so memory holds a few batches, not the data set; they take channels × size² bytes per image on disk (~7.5 GB for 50,000 images at 224×224) and are checked (sha256) each time they are opened' })
      .option('config', { type: 'string', describe: 'JSON file of settings (keys as in OUT/config.json); flags override it' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar (logs one line per interval instead)' })
      .option('report', { type: 'boolean', default: false, describe: 'at the end, write OUT/report.html: curves, the gate, reconstructions and a confusion matrix on the validation split (ssmae report makes one on any labeled source)' })
      .example('$0 train --artifacts artifacts/mnist --labeled mnist:train --labels-per-class 10 --out runs/mnist --steps 600', '100 labels, the rest of MNIST unlabeled')
      .example('$0 train --artifacts artifacts/pets --labeled data/labeled/ --unlabeled data/dump/ --out runs/pets --flip', 'your own image folders')
      .example('$0 train --artifacts artifacts/mnist --labeled mnist:train --labels-per-class 10 --out runs/mnist-mae --steps 600 --method mae-finetune --pretrain-steps 300', 'baseline: 300 steps of MAE pre-training, then 300 of fine-tuning on the 100 labels')
      .example('$0 train --artifacts artifacts/pets --labeled data/labeled/ --unlabeled data/dump/ --out runs/pets --resume --steps 4000', 'continue a run'),
    async (a) => {
      if (a.resume && a.overwrite) throw new UsageError('--resume continues the run in --out and --overwrite deletes it: give one of them');
      checkDevice(a.device);
      const existing = RUN_FILES.filter((f) => fs.existsSync(path.join(a.out, f)));
      if (existing.length > 0 && !a.resume && !a.overwrite) {
        throw new UsageError(`--out ${a.out} already holds a run (${existing.join(', ')}); continue it with --resume, ` +
          'or pass --overwrite to delete it and start afresh');
      }
      // Until training starts there is nothing to save: a signal stops at once. From then on it ends after the step
      // in flight, with a checkpoint.
      const stop = new GracefulStop('finishing the step in flight, then saving a checkpoint');
      ensureWritableDir(a.out);
      const stale = removeStaleTempFiles(a.out);
      if (stale.length) console.error(`removed ${stale.length} temporary file(s) left in ${a.out} by a process that was killed: ${stale.join(', ')}`);
      const art = loadArtifacts(a.artifacts);
      const explicit = (k: string) => process.argv.some((s) => s === `--${k}` || s.startsWith(`--${k}=`) || s === `--no-${k}`);
      const pick = (k: string, v: unknown) => (explicit(k) || !a.config ? v : undefined);
      const flags: Record<string, unknown> = {
        artifacts: a.artifacts, labeled: a.labeled, out: a.out,
        unlabeled: a.unlabeled ?? undefined, labelsPerClass: a['labels-per-class'], valPerClass: pick('val-per-class', a['val-per-class']),
        steps: pick('steps', a.steps), pretrainSteps: a['pretrain-steps'], method: pick('method', a.method), device: pick('device', a.device), threads: a.threads,
        seed: pick('seed', a.seed), lr: pick('lr', a.lr), minLr: pick('min-lr', a['min-lr']), warmupSteps: pick('warmup-steps', a['warmup-steps']),
        weightDecay: pick('weight-decay', a['weight-decay']), clipNorm: pick('clip-norm', a['clip-norm']), emaDecay: pick('ema-decay', a['ema-decay']),
        teacher: pick('teacher', a.teacher), tau: pick('tau', a.tau), threshold: pick('threshold', a.threshold), thresholdMomentum: pick('threshold-momentum', a['threshold-momentum']), agree: pick('agree', a.agree), distAlign: pick('dist-align', a['dist-align']), lambdaRec: pick('lambda-rec', a['lambda-rec']),
        lambdaL: pick('lambda-l', a['lambda-l']), lambdaU: pick('lambda-u', a['lambda-u']), labelSmoothing: pick('label-smoothing', a['label-smoothing']), cutmix: pick('cutmix', a.cutmix), labeledSteps: pick('labeled-steps', a['labeled-steps']), pseudoReplay: pick('pseudo-replay', a['pseudo-replay']), skipClosed: pick('skip-closed', a['skip-closed']), flip: pick('flip', a.flip), cropPad: a['crop-pad'],
        evalEvery: pick('eval-every', a['eval-every']), logEvery: pick('log-every', a['log-every']),
        checkpointEvery: pick('checkpoint-every', a['checkpoint-every']), keepBest: pick('keep-best', a['keep-best']), cacheDir: a['cache-dir'],
        gate: {
          metric: pick('gate-metric', a['gate-metric']), threshold: pick('gate-threshold', a['gate-threshold']),
          confidence: pick('gate-confidence', a['gate-confidence']), minConfident: pick('gate-min-confident', a['gate-min-confident']),
          minStep: pick('gate-min-step', a['gate-min-step']),
          patience: pick('gate-patience', a['gate-patience']), canClose: pick('gate-can-close', a['gate-can-close']),
        },
      };
      // A pretrained model keeps what it learned only at a fine-tuning learning rate.
      if (art.manifest.source && !explicit('lr') && !a.config) flags.lr = PRETRAINED_LR;
      const cacheDir = a['cache-dir'] ?? path.join(path.dirname(path.resolve(a.out)), '.cache', 'ssmae');
      const t0 = Date.now();
      const log = (s: string) => console.error(s);
      const method = resolveConfig(flags, a.config).method;
      const data = await loadTrainingData({
        labeled: a.labeled, unlabeled: a.unlabeled ?? null, labelsPerClass: a['labels-per-class'] ?? null, unlabeledRequired: method !== 'labels-only',
        valPerClass: a['val-per-class'], seed: a.seed, size: art.cfg.imageSize, channels: art.cfg.channels as 1 | 3,
        classes: art.cfg.classes, cacheDir, log, progress: decodeProgress,
      });
      const skipped = data.labeled.skipped.length + data.unlabeled.skipped.length;
      console.log(`data: ${data.labeled.n} labeled, ${data.val.n} validation, ${data.unlabeled.n} unlabeled images` +
        (skipped ? `, ${skipped} files skipped (warnings above)` : '') + ` (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      if (a.epochs !== undefined) {
        flags.steps = Math.max(1, data.unlabeled.n > 0 ? Math.ceil((a.epochs * data.unlabeled.n) / art.manifest.unlabeledBatch)
          : Math.ceil((a.epochs * data.labeled.n) / art.manifest.labeledBatch));
      }
      const cfg = resolveConfig(flags, a.config);
      if (a.overwrite) for (const f of RUN_FILES) fs.rmSync(path.join(a.out, f), { force: true });
      const trainer = new SSMAETrainer(cfg, art, data, progressHooks(a.quiet));
      try {
        await trainer.init(a.resume);
        stop.arm();
        const r = await trainer.train({ shouldStop: () => stop.requested });
        if (r.stopped) {
          console.error(`ssmae: stopped by ${stop.signal} at step ${r.step} of ${cfg.steps}; checkpoint ${r.checkpoint} holds it. ` +
            `Continue with: ${resumeCommand()}`);
          process.exitCode = EXIT_STOPPED;
          return;
        }
        console.log(`done: step ${r.step}, validation accuracy ${(r.finalValAcc * 100).toFixed(1)}%, gate ` +
          (cfg.method === 'labels-only' || cfg.method === 'mae-finetune' ? 'unused (no pseudo-labels in this method)' :
            `(${r.gateRule}) ` + (r.gateOpenedAt !== null ? `opened at step ${r.gateOpenedAt}` : 'never opened')) + `; run in ${r.runDir}`);
        if (r.best) {
          console.log(`best: step ${r.best.step}, validation accuracy ${(r.best.valAcc * 100).toFixed(1)}%, weights in ` +
            `${path.join(r.runDir, BEST_FILE)} (eval, pseudo-label and export-model use them with --best)`);
        }
        if (a.report) {
          const file = path.join(a.out, 'report.html');
          writeFileAtomic(file, await buildReport(loadRun(a.out), { data: { name: 'the validation split', set: data.val }, device: a.device, threads: a.threads }));
          console.log(`report: ${file}`);
        }
      } catch (e) {
        throw e instanceof WriteError ? e.withNote(`fix that and continue with: ${resumeCommand()}`) : e;
      } finally {
        await trainer.close();
        stop.dispose();
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
  // Without the bar (a log, or --quiet): one line per 10% of the steps, besides the metrics lines.
  const tick = bar ? undefined : tenths('train', 'steps', { tty: false });
  let total = 0;
  return {
    onStart: ({ step, total: t, resumed }: { step: number; total: number; resumed: boolean }) => {
      if (resumed) console.error(`resuming at step ${step}`);
      total = t;
      bar?.start(total, step, { loss: '-', rec: '-', ceL: '-', ceU: '-', gate: 'closed', rate: '-', ips: '-' });
    },
    onStep: (i: { step: number; stats: Record<string, number>; gateOpen: boolean; imagesPerSec: number }) => {
      tick?.(i.step, total);
      bar?.update(i.step, {
        loss: f(i.stats.loss), rec: f(i.stats.rec_loss), ceL: f(i.stats.ce_labeled), ceU: f(i.stats.ce_pseudo),
        gate: i.gateOpen ? 'open' : 'closed', rate: f(i.stats.pseudo_mask_rate, 2), ips: i.imagesPerSec.toFixed(0),
      });
    },
    onLog: (r: Record<string, number | null | undefined>) => {
      if (tty) return;
      console.error(`step ${r.step}: loss ${f(r['train/loss'])} rec ${f(r['train/rec_loss'])} ceL ${f(r['train/ce_labeled'])} ` +
        `ceU ${f(r['train/ce_pseudo'])} mask-rate ${f(r['train/pseudo_mask_rate'], 2)} precision ${f(r['train/pseudo_precision'], 2)} ` +
        `val ${f(r['val/acc'])} conf-acc ${f(r['val/confident_acc'])} conf-rate ${f(r['val/confident_rate'], 2)} gate ${r['gate/open'] ? 'open' : 'closed'} ${f(r['time/images_per_s'], 0)} img/s`);
    },
    onWarning: (m: string) => {
      bar?.stop();
      console.error(`warning: ${m}`);
    },
    onGate: (d: { step: number; changed: boolean; reason: string }) => {
      const line = `gate @ step ${d.step}: ${d.reason}`;
      if (bar && d.changed) { bar.stop(); console.error(line); bar.start(bar.getTotal(), d.step); } else if (!bar) console.error(line);
    },
  };
}
