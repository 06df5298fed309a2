// The SSMAE training loop: a small class whose parts — gate, pseudo-label policy, schedule, checkpointing and
// logging — are separate pieces it calls at named moments (USB's AlgorithmBase). One optimizer step per run of
// train_step.onnx; the policy (gate, τ, agreement) is decided here and fed to the graph as inputs.
import fs from 'node:fs';
import path from 'node:path';
import { Artifacts, loadInitialWeights } from '../artifacts/load.js';
import { writeFileAtomic } from '../artifacts/files.js';
import { Rng } from '../data/rng.js';
import { Session } from '../runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../runtime/tensor.js';
import { STAT_OUTPUTS } from '../models/step.js';
import { BatchSource } from './batches.js';
import { CHECKPOINT_FILE, Checkpoint, Float, ModelState, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { Classifier, accuracyOf, predictions } from './classifier.js';
import { TrainConfig } from './config.js';
import { GateDecision, ValidationGate } from './gate.js';
import { drawMasks } from './masking.js';
import { MetricsLog, Row } from './metrics.js';
import { learningRate } from './schedule.js';
import type { SplitData } from './data.js';

export class DivergedError extends Error {}

export interface TrainHooks {
  onStart?(info: { step: number; total: number; resumed: boolean }): void;
  onStep?(info: { step: number; total: number; stats: Record<string, number>; gateOpen: boolean; imagesPerSec: number }): void;
  onLog?(row: Row): void;
  onGate?(d: GateDecision): void;
  onCheckpoint?(file: string, step: number): void;
}

export interface TrainResult { step: number; gateOpenedAt: number | null; finalValAcc: number; runDir: string }

const STATE_KINDS = ['p', 'm', 'v', 'ema'] as const;

export class SSMAETrainer {
  private session!: Session;
  private classifier!: Classifier;
  private model!: ModelState;
  private step = 0;
  private gate: ValidationGate;
  private maskRng: Rng;
  private batches: BatchSource;
  private metrics!: MetricsLog;
  private readonly shapes: Map<string, number[]>;
  private lastCheckpoint: string | null = null;
  private lastCheckpointStep = 0;
  private lastValAcc = NaN;

  constructor(readonly cfg: TrainConfig, readonly art: Artifacts, readonly data: SplitData, private readonly hooks: TrainHooks = {}) {
    this.gate = new ValidationGate(cfg.gate);
    this.maskRng = Rng.derive(cfg.seed, 'mask');
    this.batches = new BatchSource(data, art.manifest, cfg);
    this.shapes = new Map(art.manifest.parameters.map((s) => [s.name, s.shape]));
  }

  get runDir(): string { return this.cfg.out; }

  /** The weights that classify: the EMA teacher, or the student when the student is its own teacher. */
  modelWeights(): Map<string, Float> {
    return this.cfg.teacher === 'ema' ? this.model.ema : this.model.p;
  }

  async init(resume: boolean): Promise<void> {
    fs.mkdirSync(this.runDir, { recursive: true });
    const ckpt = path.join(this.runDir, CHECKPOINT_FILE);
    if (resume && fs.existsSync(ckpt)) {
      this.restore(loadCheckpoint(ckpt));
      this.lastCheckpoint = ckpt;
      this.lastCheckpointStep = this.step;
    } else {
      this.fresh();
    }
    writeFileAtomic(path.join(this.runDir, 'config.json'), JSON.stringify(this.cfg, null, 2) + '\n');
    writeFileAtomic(path.join(this.runDir, 'classes.json'), JSON.stringify(this.data.labeled.classes) + '\n');
    this.metrics = new MetricsLog(this.runDir, this.lastCheckpoint ? this.step : null);
    // gate.jsonl, like the metrics: emptied for a fresh run, cut back to the checkpoint's step on resume.
    const gateLog = path.join(this.runDir, 'gate.jsonl');
    if (!this.lastCheckpoint) fs.writeFileSync(gateLog, '');
    else if (fs.existsSync(gateLog)) {
      const kept = fs.readFileSync(gateLog, 'utf8').split('\n').filter((l) => l && (JSON.parse(l) as GateDecision).step <= this.step);
      fs.writeFileSync(gateLog, kept.map((l) => l + '\n').join(''));
    }
    this.session = await Session.create(this.art.path(this.art.manifest.graphs.train_step.file),
      { device: this.cfg.device, threads: this.cfg.threads ?? undefined });
    this.classifier = await Classifier.create(this.art, this.modelWeights(), { device: this.cfg.device, threads: this.cfg.threads ?? undefined });
  }

  private fresh(): void {
    const init = loadInitialWeights(this.art);
    const zeros = (name: string) => {
      const t = init.get(name)!;
      return (this.art.cfg.dtype === 'float64' ? new Float64Array(t.data.length) : new Float32Array(t.data.length)) as Float;
    };
    const copy = (name: string) => (init.get(name)!.data as Float).slice() as Float;
    this.model = { p: new Map(), m: new Map(), v: new Map(), ema: new Map() };
    for (const s of this.art.manifest.parameters) {
      this.model.p.set(s.name, copy(s.name));
      this.model.m.set(s.name, zeros(s.name));
      this.model.v.set(s.name, zeros(s.name));
      this.model.ema.set(s.name, copy(s.name));
    }
  }

  private restore(c: Checkpoint): void {
    this.model = c.model;
    this.step = c.loop.step;
    this.gate = new ValidationGate(this.cfg.gate, c.loop.gate);
    this.maskRng = new Rng(c.loop.rngs.mask);
    this.batches.restore(c.loop.rngs, c.loop.samplers);
  }

  checkpoint(): string {
    const c: Checkpoint = {
      model: this.model,
      loop: {
        step: this.step,
        gate: this.gate.state,
        rngs: { mask: this.maskRng.state(), ...this.batches.rngStates() },
        samplers: this.batches.samplerStates(),
        config: this.cfg,
      },
    };
    const file = saveCheckpoint(this.runDir, c, this.shapes, this.art.cfg.dtype);
    this.lastCheckpoint = file;
    this.lastCheckpointStep = this.step;
    this.hooks.onCheckpoint?.(file, this.step);
    return file;
  }

  async evaluate(): Promise<number> {
    this.classifier.setWeights(this.modelWeights());
    const val = this.data.val;
    const logits = await this.classifier.logits(val.images, val.n);
    return accuracyOf(predictions(logits, this.art.cfg.classes).label, val.labels);
  }

  private scalar(v: number): HostTensor { return scalarTensor(this.art.cfg.dtype, v); }

  private stateFeeds(): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    const dt = this.art.cfg.dtype;
    for (const kind of STATE_KINDS) {
      const src = kind === 'ema' && this.cfg.teacher === 'student' ? this.model.p : this.model[kind];
      for (const [name, data] of src) feeds[`${kind}.${name}`] = hostTensor(dt, this.shapes.get(name)!, data);
    }
    return feeds;
  }

  async train(): Promise<TrainResult> {
    const c = this.cfg;
    const m = this.art.manifest;
    const total = c.steps;
    const B = m.labeledBatch + m.unlabeledBatch;
    const schedule = { peak: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps: total };
    this.hooks.onStart?.({ step: this.step, total, resumed: this.lastCheckpoint !== null });
    let acc: Record<string, number> = {};
    let accN = 0;
    let precHit = 0;
    let precN = 0;
    let intervalStart = performance.now();
    let intervalSteps = 0;
    while (this.step < total) {
      const t = this.step + 1;
      const lr = learningRate(schedule, t);
      const batch = this.batches.next();
      const masks = drawMasks(this.maskRng, B, m.numPatches, m.keep);
      const dt = this.art.cfg.dtype;
      const feeds: Record<string, HostTensor> = {
        ...this.stateFeeds(),
        ...batch.feeds,
        ids_keep: hostTensor('int64', [B, m.keep], masks.idsKeep),
        ids_restore: hostTensor('int64', [B, m.numPatches], masks.idsRestore),
        mask: hostTensor(dt, [B, m.numPatches], dt === 'float64' ? Float64Array.from(masks.mask) : masks.mask),
        step: this.scalar(t), lr: this.scalar(lr), weight_decay: this.scalar(c.weightDecay), clip_norm: this.scalar(c.clipNorm),
        ema_decay: this.scalar(c.emaDecay),
        gate_open: this.scalar(this.gate.open ? 1 : 0), tau: this.scalar(c.tau), agree: this.scalar(c.agree ? 1 : 0),
        lambda_rec: this.scalar(c.lambdaRec), lambda_l: this.scalar(c.lambdaL), lambda_u: this.scalar(c.lambdaU),
      };
      const out = await this.session.run(feeds);
      const loss = Number(out.loss.data[0]);
      if (!Number.isFinite(loss)) {
        throw new DivergedError(`loss is ${loss} at step ${t}; the run stopped without saving this step. ` +
          (this.lastCheckpoint ? `Last good checkpoint: ${this.lastCheckpoint} (step ${this.lastCheckpointStep}). ` : 'No checkpoint was written yet. ') +
          'Try a lower --lr or --clip-norm.');
      }
      for (const kind of STATE_KINDS) {
        for (const name of this.model[kind].keys()) this.model[kind].set(name, out[`new.${kind}.${name}`].data as Float);
      }
      this.step = t;
      for (const k of STAT_OUTPUTS) acc[k] = (acc[k] ?? 0) + Number(out[k].data[0]);
      accN++;
      intervalSteps++;
      const w = out.pseudo_weight.data as Float;
      const pl = out.pseudo_label.data as BigInt64Array;
      for (let i = 0; i < w.length; i++) {
        const truth = batch.hiddenLabels[i];
        if (w[i] > 0 && truth >= 0) { precN++; if (Number(pl[i]) === truth) precHit++; }
      }
      const elapsed = (performance.now() - intervalStart) / 1000;
      this.hooks.onStep?.({
        step: t, total, gateOpen: this.gate.open, imagesPerSec: (intervalSteps * B) / Math.max(elapsed, 1e-9),
        stats: Object.fromEntries(STAT_OUTPUTS.map((k) => [k, Number(out[k].data[0])])),
      });
      const evalNow = t % c.evalEvery === 0 || t === total;
      if (evalNow) {
        this.lastValAcc = await this.evaluate();
        const d = this.gate.update(t, this.lastValAcc);
        fs.appendFileSync(path.join(this.runDir, 'gate.jsonl'), JSON.stringify(d) + '\n');
        this.hooks.onGate?.(d);
      }
      // A checkpoint step always ends a log interval: the running means are not saved in checkpoints, so a resumed
      // run starts a fresh interval there and must write the same rows as one that never stopped.
      const checkpointNow = t % c.checkpointEvery === 0 || t === total;
      if (t % c.logEvery === 0 || evalNow || checkpointNow) {
        const mean = (k: string) => acc[k] / accN;
        const row: Row = {
          step: t, 'train/loss': mean('loss'), 'train/rec_loss': mean('rec_loss'), 'train/ce_labeled': mean('ce_labeled'),
          'train/ce_pseudo': mean('ce_pseudo'), 'train/pseudo_mask_rate': mean('pseudo_mask_rate'),
          'train/pseudo_precision': precN ? precHit / precN : null, 'train/acc_labeled': mean('acc_labeled'),
          'train/grad_norm': mean('grad_norm'), 'train/lr': lr, 'val/acc': evalNow ? this.lastValAcc : null,
          'gate/open': this.gate.open ? 1 : 0,
          'time/step_ms': (elapsed * 1000) / intervalSteps, 'time/images_per_s': (intervalSteps * B) / elapsed,
        };
        this.metrics.write(row);
        this.hooks.onLog?.(row);
        acc = {}; accN = 0; precHit = 0; precN = 0;
        intervalStart = performance.now();
        intervalSteps = 0;
      }
      if (checkpointNow) this.checkpoint();
    }
    return { step: this.step, gateOpenedAt: this.gate.state.openedAt, finalValAcc: this.lastValAcc, runDir: this.runDir };
  }

  async close(): Promise<void> {
    await this.session?.release();
    await this.classifier?.release();
  }
}
