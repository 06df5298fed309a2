// The SSMAE training loop: a small class whose parts — gate, pseudo-label policy, schedule, checkpointing and
// logging — are separate pieces it calls at named moments (USB's AlgorithmBase). One optimizer step per run of
// train_step.onnx, or K per run of train_chunk.onnx; the policy (gate, τ, agreement) is decided here and fed to the
// graph as inputs. The baselines are the same loop: labels-only trains every step on the labels alone, mae-finetune
// reconstructs and then fine-tunes (the schedule says which phase a step is in); their supervised steps run
// supervised_step.onnx, or K per run of supervised_chunk.onnx.
import fs from 'node:fs';
import path from 'node:path';
import { Artifacts, loadInitialWeights } from '../artifacts/load.js';
import { UsageError, WriteError, appendFileDurable, syncFile, writeFileAtomic } from '../artifacts/files.js';
import { Rng } from '../data/rng.js';
import { Session } from '../runtime/session.js';
import { HostTensor, hostTensor, scalarTensor, stackTensors } from '../runtime/tensor.js';
import { DType } from '../graph/types.js';
import { STATE_KINDS, STAT_OUTPUTS } from '../models/step.js';
import { BatchSource } from './batches.js';
import { BestRecord, improves, saveBest } from './best.js';
import { Checkpoint, Float, ModelState, checkCheckpointMatches, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { Classifier, predictions } from './classifier.js';
import { TrainConfig } from './config.js';
import { GateDecision, ValidationFigures, ValidationGate, validationFigures } from './gate.js';
import { ThresholdState, Thresholds } from './thresholds.js';
import { ReplayPool } from './replay.js';
import { MaskBatch, drawDropPath, drawMasks } from './masking.js';
import { arch } from '../models/presets.js';
import { IntervalStats, MetricsLog, Row, truncateAfter } from './metrics.js';
import { hasJointSteps, learningRateAt, lossWeights, phaseOf, segmentEnds } from './schedule.js';
import type { SplitData } from './data.js';

export class DivergedError extends Error {}

export interface TrainHooks {
  onStart?(info: { step: number; total: number; resumed: boolean }): void;
  onStep?(info: { step: number; total: number; stats: Record<string, number>; gateOpen: boolean; imagesPerSec: number }): void;
  onLog?(row: Row): void;
  onGate?(d: GateDecision): void;
  onCheckpoint?(file: string, step: number): void;
  /** An evaluation beat the best validation accuracy so far and its weights were written (--keep-best). */
  onBest?(record: BestRecord, file: string): void;
  /** Something the user should know that does not stop the run (e.g. a damaged checkpoint passed over). */
  onWarning?(message: string): void;
}

export interface TrainOptions {
  /** Asked between runs of the step graph: true ends training after the step or chunk in flight, with a checkpoint. */
  shouldStop?: () => boolean;
}

interface StepOutcome {
  t: number;
  lr: number;
  stats: Record<string, number>;
  pseudoLabel: BigInt64Array;
  pseudoWeight: Float;
  hiddenLabels: Int32Array;
  images: number;         // images the step trained on: the labeled batch alone in a supervised step
  noRec: boolean;         // pseudo_step or supervised_step took a joint step: no reconstruction was computed, so rec_loss is not a figure
}

export interface TrainResult {
  step: number;
  gateOpenedAt: number | null;
  /** The gate's rule in words. */
  gateRule: string;
  finalValAcc: number;
  runDir: string;
  /** True when shouldStop ended training before --steps; the checkpoint holds `step`. */
  stopped: boolean;
  checkpoint: string | null;
  /** The best evaluation so far (--keep-best; its weights are in OUT/best.safetensors); null without it. */
  best: BestRecord | null;
}

/** The statistics only a joint step has: a supervised step outputs them as 0. */
const JOINT_ONLY_STATS = new Set(['rec_loss', 'ce_pseudo', 'pseudo_mask_rate']);
const omitJointOnly = (stats: Record<string, number>) => Object.fromEntries(Object.entries(stats).filter(([k]) => !JOINT_ONLY_STATS.has(k)));

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/**
 * Whether joint steps with the gate closed run the supervised graph (--skip-closed, --lambda-rec 0, --lambda-l 1): the
 * reconstruction is weighted 0 and the pseudo-labels are off, so such a step is the labeled cross-entropy alone, which
 * supervised_step.onnx computes (it takes no λl, hence λl 1). It draws no unlabeled images; until the gate opens the run
 * trains exactly as labels-only does.
 */
function closedOnLabels(c: TrainConfig): boolean {
  return c.method === 'ssmae' && c.skipClosed && c.lambdaRec === 0 && c.lambdaL === 1;
}

/** Running-mean momentum of distribution alignment: a time constant of ~100 steps, like the EMA teacher's. */
const DA_MOMENTUM = 0.99;

export class SSMAETrainer {
  /** One step of train_step.onnx; null when every step is supervised and supervised_step.onnx takes them. */
  private session: Session | null = null;
  /** One step of supervised_step.onnx, for the supervised phase when the artifacts have it. */
  private supervised: Session | null = null;
  /** K steps of train_chunk.onnx, for the other phases. */
  private chunk: Session | null = null;
  /** K steps of supervised_chunk.onnx, for the supervised phase (artifacts exported before it run one step per run). */
  private supervisedChunk: Session | null = null;
  /** gate_closed_step.onnx / gate_closed_chunk.onnx: joint steps while the gate is closed, without the dead work (--skip-closed). */
  private closedStep: Session | null = null;
  private closedChunk: Session | null = null;
  /** pseudo_step.onnx: joint steps with the gate open when --lambda-rec is 0, without the reconstruction then weighted 0. */
  private pseudoStep: Session | null = null;
  private classifier!: Classifier;
  private model!: ModelState;
  private step = 0;
  private gate: ValidationGate;
  private maskRng: Rng;
  /** Stochastic depth's masks, a stream of their own (models without drop path never draw from it). */
  private dropRng: Rng;
  private batches: BatchSource;
  private metrics!: MetricsLog;
  private readonly shapes: Map<string, number[]>;
  private lastCheckpoint: string | null = null;
  private lastCheckpointStep = 0;
  private lastVal: ValidationFigures | null = null;
  /** The best evaluation so far, when --keep-best keeps its weights. */
  private best: BestRecord | null = null;
  /** The open metrics interval (running means since the last row). */
  private interval = new IntervalStats();
  /** Running mean of the teacher's class probabilities on unlabeled images (distribution alignment); starts uniform. */
  private teacherMean: number[];
  /** Per-class pseudo-label thresholds (--threshold), fed as tau [K]. */
  private thresholds: Thresholds;
  /** --pseudo-replay's pool (replay.ts); null where it is off or the method has no joint steps. */
  private replay: ReplayPool | null;

  constructor(readonly cfg: TrainConfig, readonly art: Artifacts, readonly data: SplitData, private readonly hooks: TrainHooks = {}) {
    this.gate = new ValidationGate(cfg.gate);
    this.maskRng = Rng.derive(cfg.seed, 'mask');
    this.dropRng = Rng.derive(cfg.seed, 'drop-path');
    this.batches = new BatchSource(data, art.manifest, cfg);
    this.shapes = new Map(art.manifest.parameters.map((s) => [s.name, s.shape]));
    this.teacherMean = new Array<number>(art.cfg.classes).fill(1 / art.cfg.classes);
    this.thresholds = this.newThresholds();
    this.replay = this.newReplay();
  }

  private newThresholds(state?: ThresholdState): Thresholds {
    const c = this.cfg;
    return new Thresholds(c.threshold, c.tau, this.art.cfg.classes, this.data.unlabeled.n, c.thresholdMomentum, state);
  }

  get runDir(): string { return this.cfg.out; }

  /** The weights that classify: the EMA teacher, or the student when the student is its own teacher. */
  modelWeights(): Map<string, Float> {
    return this.cfg.teacher === 'ema' ? this.model.ema : this.model.p;
  }

  async init(resume: boolean): Promise<void> {
    fs.mkdirSync(this.runDir, { recursive: true });
    const latest = resume ? loadLatestCheckpoint(this.runDir) : null;
    if (latest) {
      checkCheckpointMatches(latest.file, latest.checkpoint, this.shapes, this.art.cfg.dtype, `the artifacts in ${this.art.dir} (${this.art.cfg.preset.name})`);
      if (latest.fellBack) this.hooks.onWarning?.(`${latest.fellBack}; resuming from the previous checkpoint ${latest.file} (step ${latest.checkpoint.loop.step}) instead`);
      this.restore(latest.checkpoint);
      this.lastCheckpoint = latest.file;
      this.lastCheckpointStep = this.step;
    } else {
      this.fresh();
    }
    await this.noting(async () => {
      writeFileAtomic(path.join(this.runDir, 'config.json'), JSON.stringify(this.cfg, null, 2) + '\n');
      writeFileAtomic(path.join(this.runDir, 'classes.json'), JSON.stringify(this.data.labeled.classes) + '\n');
      this.metrics = new MetricsLog(this.runDir, this.lastCheckpoint ? this.step : null);
      // gate.jsonl, like the metrics: emptied for a fresh run, cut back to the checkpoint's step on resume.
      if (!this.lastCheckpoint) writeFileAtomic(this.gateLog, '');
      else truncateAfter(this.gateLog, this.step, (l) => (JSON.parse(l) as GateDecision).step);
    });
    const opts = { device: this.cfg.device, threads: this.cfg.threads ?? undefined };
    const graphs = this.art.manifest.graphs;
    // Supervised steps run their own, cheaper graph when the artifacts have it (same model, same optimizer);
    // without it, train_step.onnx takes them with the reconstruction and pseudo-label terms weighted 0.
    const usesSupervised = this.cfg.method === 'labels-only' || this.cfg.method === 'mae-finetune' || this.cfg.labeledSteps > 0 ||
      closedOnLabels(this.cfg);
    if (usesSupervised && graphs.supervised_step) this.supervised = await Session.create(this.art.path(graphs.supervised_step.file), opts);
    if (this.cfg.method !== 'labels-only' || !this.supervised) this.session = await Session.create(this.art.path(graphs.train_step.file), opts);
    const chunked = this.art.manifest.stepsPerRun > 1;
    if (chunked && graphs.train_chunk && this.cfg.method !== 'labels-only') {
      this.chunk = await Session.create(this.art.path(graphs.train_chunk.file), opts);
    }
    if (chunked && graphs.supervised_chunk && this.supervised) {
      this.supervisedChunk = await Session.create(this.art.path(graphs.supervised_chunk.file), opts);
    }
    // While the gate is closed the teacher and the strong views' classification only feed terms weighted 0: with
    // --skip-closed (the default) such steps run gate_closed_step.onnx, when the artifacts have it.
    if (this.cfg.skipClosed && this.cfg.method === 'ssmae' && graphs.gate_closed_step) {
      this.closedStep = await Session.create(this.art.path(graphs.gate_closed_step.file), opts);
      if (chunked && graphs.gate_closed_chunk) this.closedChunk = await Session.create(this.art.path(graphs.gate_closed_chunk.file), opts);
    }
    // With --lambda-rec 0 the reconstruction is multiplied by 0 in every joint step: once the gate is open, such steps
    // run pseudo_step.onnx when the artifacts have it (train_step without the MAE's passes, bit for bit the same step).
    if (this.cfg.lambdaRec === 0 && hasJointSteps(this.cfg) && graphs.pseudo_step) {
      this.pseudoStep = await Session.create(this.art.path(graphs.pseudo_step.file), opts);
    }
    this.classifier = await Classifier.create(this.art, this.modelWeights(), opts);
  }

  private get gateLog(): string { return path.join(this.runDir, 'gate.jsonl'); }

  /** Where the run stands on disk, for messages about a failure. */
  private lastGood(): string {
    return this.lastCheckpoint ? `last good checkpoint: ${this.lastCheckpoint} (step ${this.lastCheckpointStep})` : 'no checkpoint was written yet';
  }

  /** Runs `f`; a WriteError from it gains the last good checkpoint. */
  private async noting<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw e instanceof WriteError ? e.withNote(this.lastGood()) : e;
    }
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
    this.checkPhasesSoFar(c);
    this.model = c.model;
    this.step = c.loop.step;
    this.gate = new ValidationGate(this.cfg.gate, c.loop.gate);
    this.maskRng = new Rng(c.loop.rngs.mask);
    if (c.loop.rngs.dropPath) this.dropRng = new Rng(c.loop.rngs.dropPath);
    this.batches.restore(c.loop.rngs, c.loop.samplers);
    this.teacherMean = c.loop.teacherMean;
    if (c.loop.interval !== undefined) this.interval.restore(c.loop.interval);
    this.thresholds = this.newThresholds(c.loop.thresholds);
    this.replay = this.newReplay(c);
    this.best = c.loop.best ?? null;
  }

  /**
   * The steps already taken must have been split into phases as this config splits them — mae-finetune's
   * pre-training and fine-tuning (a different --steps moves the default boundary, half of --steps), the supervised
   * steps of --labeled-steps — or the resumed run would be one that no single run could have been.
   */
  private checkPhasesSoFar(c: Checkpoint): void {
    const before = c.loop.config as Partial<TrainConfig>;
    const hadLabeled = before.labeledSteps ?? 0; // checkpoints of earlier versions: every step joint
    if (this.cfg.labeledSteps !== hadLabeled && c.loop.step > 1) {
      throw new UsageError(`this run took ${hadLabeled} steps on the labels after each joint step (--labeled-steps ${hadLabeled}), ` +
        `and its ${c.loop.step} steps so far were split that way. Pass --labeled-steps ${hadLabeled} to continue it.`);
    }
    const hadReplay = before.pseudoReplay ?? 0;
    if (this.cfg.pseudoReplay !== hadReplay && c.loop.step > 1) {
      throw new UsageError(`this run replayed pseudo-labels in a share ${hadReplay} of its steps on the labels (--pseudo-replay ${hadReplay}); ` +
        `pass --pseudo-replay ${hadReplay} to continue it.`);
    }
    if (this.cfg.method !== 'mae-finetune' || before.method !== 'mae-finetune') return;
    const s = c.loop.step;
    const had = Math.min(s, before.pretrainSteps as number);
    const would = Math.min(s, this.cfg.pretrainSteps as number);
    if (had !== would) {
      throw new UsageError(`this run pre-trained for ${had} of its ${s} steps (--pretrain-steps ${before.pretrainSteps}); ` +
        `--pretrain-steps ${this.cfg.pretrainSteps} would have pre-trained for ${would}. Pass --pretrain-steps ${before.pretrainSteps} to continue it.`);
    }
  }

  /** The replay pool of a fresh run, or the one a checkpoint saved; null where replay is off. */
  private newReplay(c?: Checkpoint): ReplayPool | null {
    if (!(this.cfg.pseudoReplay > 0 && hasJointSteps(this.cfg))) return null;
    return new ReplayPool(this.data.unlabeled.n, c?.loop.replay);
  }

  checkpoint(): string {
    // The log rows up to this step are made durable first: a resumed run keeps exactly the rows up to its checkpoint.
    this.metrics.sync();
    syncFile(this.gateLog);
    const c: Checkpoint = {
      model: this.model,
      loop: {
        step: this.step,
        gate: this.gate.state,
        rngs: { mask: this.maskRng.state(), ...this.batches.rngStates(), ...(this.dropRate() > 0 ? { dropPath: this.dropRng.state() } : {}) },
        samplers: this.batches.samplerStates(),
        teacherMean: this.teacherMean,
        thresholds: this.thresholds.state(),
        ...(this.replay ? { replay: this.replay.state() } : {}),
        ...(this.best ? { best: this.best } : {}),
        config: this.cfg,
        ...(this.interval.empty ? {} : { interval: this.interval.state() }),
      },
    };
    const file = saveCheckpoint(this.runDir, c, this.shapes, this.art.cfg.dtype);
    this.lastCheckpoint = file;
    this.lastCheckpointStep = this.step;
    this.hooks.onCheckpoint?.(file, this.step);
    return file;
  }

  /** Writes the weights that classify as the run's best (--keep-best): before the checkpoint of the same step. */
  private keepBest(step: number, v: ValidationFigures): void {
    const record: BestRecord = { step, valAcc: v.acc, valConfidentAcc: v.confidentAcc, valConfidentRate: v.confidentRate };
    const file = saveBest(this.runDir, record, this.modelWeights(), this.shapes, this.art.cfg.dtype);
    this.best = record;
    this.hooks.onBest?.(record, file);
  }

  /** Classifies the validation split: accuracy, and the accuracy and rate of its confident predictions. */
  async evaluate(): Promise<ValidationFigures> {
    this.classifier.setWeights(this.modelWeights());
    const val = this.data.val;
    const logits = await this.classifier.logits(val.images, val.n);
    const { label, conf } = predictions(logits, this.art.cfg.classes);
    return validationFigures(label, conf, val.labels, this.cfg.gate.confidence);
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

  async train(opts: TrainOptions = {}): Promise<TrainResult> {
    return this.noting(() => this.loop(opts.shouldStop ?? (() => false)));
  }

  private async loop(shouldStop: () => boolean): Promise<TrainResult> {
    const total = this.cfg.steps;
    const B = this.art.manifest.labeledBatch + this.art.manifest.unlabeledBatch;
    this.hooks.onStart?.({ step: this.step, total, resumed: this.lastCheckpoint !== null });
    const result = (stopped: boolean): TrainResult => ({
      step: this.step, gateOpenedAt: this.gate.state.openedAt, gateRule: this.gate.describe(), finalValAcc: this.lastVal?.acc ?? NaN, runDir: this.runDir, stopped,
      checkpoint: this.lastCheckpoint, best: this.best,
    });
    while (this.step < total) {
      if (shouldStop()) {
        // Stopped between runs: the state is whole here. The checkpoint keeps the open metrics interval too.
        if (this.lastCheckpoint === null || this.lastCheckpointStep !== this.step) this.checkpoint();
        return result(true);
      }
      for (const o of await this.run(this.stepsThisRun(total), B)) await this.afterStep(o, total, this.interval);
    }
    // A resumed run with no steps left still reports where it stands.
    if (!this.lastVal) this.lastVal = await this.evaluate();
    return result(false);
  }

  /** Per step: statistics, and at their intervals the gate decision, a metrics row and a checkpoint. */
  private async afterStep(o: StepOutcome, total: number, interval: IntervalStats): Promise<void> {
    const c = this.cfg;
    const { t } = o;
    // A supervised step between joint steps (--labeled-steps) has no reconstruction or pseudo-label figures to report.
    // Nor does a joint step of pseudo_step.onnx (--lambda-rec 0) have a reconstruction figure: its rec_loss is a 0.
    const joint = hasJointSteps(c) && phaseOf(c, t) === 'supervised' ? omitJointOnly(o.stats) : o.stats;
    const stats = o.noRec ? Object.fromEntries(Object.entries(joint).filter(([k]) => k !== 'rec_loss')) : joint;
    interval.add(stats, o.pseudoLabel, o.pseudoWeight, o.hiddenLabels, o.images);
    this.hooks.onStep?.({ step: t, total, gateOpen: this.gate.open, imagesPerSec: interval.imagesPerSec(), stats: o.stats });
    const evalNow = t % c.evalEvery === 0 || t === total;
    if (evalNow) {
      this.lastVal = await this.evaluate();
      // Without joint steps there are no pseudo-labels for a gate to hold back: only validation accuracy is recorded.
      // Where --labeled-steps interleaves supervised steps, the gate decides at every evaluation, for the next joint step.
      if (hasJointSteps(c)) {
        const d = this.gate.update(t, this.lastVal);
        appendFileDurable(this.gateLog, JSON.stringify(d) + '\n');
        this.hooks.onGate?.(d);
      }
      if (c.keepBest && improves(this.best, this.lastVal.acc)) this.keepBest(t, this.lastVal);
    }
    // A checkpoint step always ends a log interval: the running means are not saved in checkpoints, so a resumed
    // run starts a fresh interval there and must write the same rows as one that never stopped. So does the last step
    // of a segment of the schedule (mae-finetune's pre-training), so that no row averages two objectives.
    const checkpointNow = t % c.checkpointEvery === 0 || t === total;
    const phaseEnds = t < total && segmentEnds(c, t);
    if (t % c.logEvery === 0 || evalNow || checkpointNow || phaseEnds) {
      const row = interval.row(t, o.lr, evalNow ? this.lastVal : null, this.gate.open);
      row['train/tau_mean'] = mean(this.thresholds.current());
      if (this.replay) {
        row['train/replay_pool'] = this.replay.size;
        row['train/replay_precision'] = this.replay.precision(this.data.unlabeled.hiddenLabels ?? null);
      }
      this.metrics.write(row);
      this.hooks.onLog?.(row);
    }
    if (checkpointNow) this.checkpoint();
  }

  /**
   * K steps in one run of a chunk graph when the artifacts have one for the phase (supervised_chunk.onnx for
   * supervised steps, train_chunk.onnx for the others), the K steps end within --steps, and no validation, gate
   * decision, checkpoint or phase change falls strictly inside them (the policy is fixed within a chunk, and the state
   * exists only at its ends); otherwise one step.
   */
  private stepsThisRun(total: number): number {
    const K = this.sessionFor(this.step + 1, true) ? this.art.manifest.stepsPerRun : 1;
    if (K === 1 || this.step + K > total) return 1;
    for (let t = this.step + 1; t < this.step + K; t++) {
      if (t % this.cfg.evalEvery === 0 || t % this.cfg.checkpointEvery === 0 || phaseOf(this.cfg, t) !== phaseOf(this.cfg, t + 1)) return 1;
    }
    return K;
  }

  /** Takes k steps (1, or the chunk size; all in one phase) and updates the state; returns each step's figures. */
  private async run(k: number, B: number): Promise<StepOutcome[]> {
    const c = this.cfg;
    const m = this.art.manifest;
    const dt = this.art.cfg.dtype;
    const t0 = this.step;
    const phase = phaseOf(c, t0 + 1);
    const w = lossWeights(c, phase);
    // Steps on the labels between joint steps fill a share of their labeled batch from the replay pool (when on).
    const replay = phase === 'supervised' && hasJointSteps(c) ? this.replay ?? undefined : undefined;
    const session = this.sessionFor(t0 + 1, k > 1)!;
    // Steps on the labels draw no unlabeled images and augment none, and a graph without patch masks
    // (supervised_step.onnx) gets none drawn: they would only be thrown away. Artifacts without supervised_step.onnx
    // run those steps on the full graph, whose unlabeled terms are weighted 0 there: it gets black images, so both
    // graphs see the same labeled views (one augmentation stream serves labeled and unlabeled images).
    const onLabels = session === this.supervised || session === this.supervisedChunk;
    const drawsUnlabeled = phase !== 'supervised' && !onLabels;
    const takesMasks = session.inputNames.includes('ids_keep');
    const batches = Array.from({ length: k }, () => ({
      batch: this.batches.next(replay, drawsUnlabeled),
      masks: takesMasks ? drawMasks(this.maskRng, B, m.numPatches, m.keep) : null,
    }));
    const lrs = batches.map((_, j) => learningRateAt(c, t0 + j + 1));
    // k = 1 feeds a step graph as is; k > 1 stacks each per-step input on a leading axis for a chunk graph.
    const perStep = (one: (j: number) => HostTensor): HostTensor =>
      (k === 1 ? one(0) : stackTensors(batches.map((_, j) => one(j))));
    const batchInput = (name: string) => perStep((j) => batches[j].batch.feeds[name]);
    const maskInput = (dims: number[], pick: (mk: MaskBatch) => BigInt64Array | Float32Array, dtype: DType) =>
      perStep((j) => {
        const d = pick(batches[j].masks!);
        return hostTensor(dtype, dims, dtype === 'float64' ? Float64Array.from(d as Float32Array) : d);
      });
    const blackUnlabeled = () => {
      const black = perStep(() => hostTensor('uint8', [m.unlabeledBatch, m.channels, m.imageSize, m.imageSize],
        new Uint8Array(m.unlabeledBatch * m.channels * m.imageSize * m.imageSize)));
      return { images_weak: black, images_strong: black };
    };
    const feeds: Record<string, HostTensor> = {
      ...this.stateFeeds(),
      images_labeled: batchInput('images_labeled'), labels: batchInput('labels'),
      labels_mix: batchInput('labels_mix'), mix_weight: batchInput('mix_weight'),
      ...(drawsUnlabeled ? { images_weak: batchInput('images_weak'), images_strong: batchInput('images_strong') }
        : session.inputNames.includes('images_weak') ? blackUnlabeled() : {}),
      ...(takesMasks ? {
        ids_keep: maskInput([B, m.keep], (mk) => mk.idsKeep, 'int64'),
        ids_restore: maskInput([B, m.numPatches], (mk) => mk.idsRestore, 'int64'),
        mask: maskInput([B, m.numPatches], (mk) => mk.mask, dt),
      } : {}),
      step: this.scalar(k === 1 ? t0 + 1 : t0),
      lr: k === 1 ? this.scalar(lrs[0]) : hostTensor(dt, [k], dt === 'float64' ? Float64Array.from(lrs) : Float32Array.from(lrs)),
      // A student teacher is fed as ema.* (stateFeeds); decay 0 makes each step's EMA update copy the new student, so
      // the next step of a chunk is taught by the student as this step left it, exactly as with one step per run.
      weight_decay: this.scalar(c.weightDecay), clip_norm: this.scalar(c.clipNorm),
      ema_decay: this.scalar(c.teacher === 'student' ? 0 : c.emaDecay),
      gate_open: this.scalar(phase === 'joint' && this.gate.open ? 1 : 0), tau: this.tauInput(), agree: this.scalar(c.agree ? 1 : 0),
      lambda_rec: this.scalar(w.rec), lambda_l: this.scalar(w.l), lambda_u: this.scalar(w.u),
      da_ratio: this.alignRatio(),
      label_smoothing: this.scalar(c.labelSmoothing),
    };
    if (c.threshold !== 'fixed' && !this.tauPerClass) {
      throw new UsageError(`--threshold ${c.threshold}: the artifacts in ${c.artifacts} take one τ for all classes (exported before ` +
        'per-class thresholds); export them again with this version of ssmae export');
    }
    if (c.labelSmoothing > 0 && !session.inputNames.includes('label_smoothing')) {
      throw new UsageError(`--label-smoothing ${c.labelSmoothing}: the artifacts in ${c.artifacts} were exported before label smoothing ` +
        'existed (their step graphs have no label_smoothing input); export them again with this version of ssmae export');
    }
    if (c.cutmix > 0 && !session.inputNames.includes('mix_weight')) {
      throw new UsageError(`--cutmix ${c.cutmix}: the artifacts in ${c.artifacts} were exported before CutMix existed (their step ` +
        'graphs have no labels_mix / mix_weight inputs); export them again with this version of ssmae export');
    }
    if (session.inputNames.includes('drop_path')) {
      // The student's classification pass: the labeled batch (supervised graphs) or labeled + strong views.
      const n = onLabels ? m.labeledBatch : B;
      const depth = this.art.cfg.preset.depth;
      feeds.drop_path = perStep(() => {
        const d = drawDropPath(this.dropRng, this.dropRate(), depth, n);
        return hostTensor(dt, [depth, 2, n], dt === 'float64' ? Float64Array.from(d) : d);
      });
    }
    const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]])));
    // No pseudo-labels from steps on the labels: the supervised graph makes none, and the full graph's are of black images.
    const bu = out.pseudo_label && drawsUnlabeled ? m.unlabeledBatch : 0;
    const images = phase === 'supervised' || onLabels ? m.labeledBatch : B; // the images a step trains on (throughput)
    const none = new Float32Array(0);
    const outcomes = batches.map((b, j): StepOutcome => ({
      t: t0 + j + 1,
      lr: lrs[j],
      stats: Object.fromEntries(STAT_OUTPUTS.map((key) => [key, Number(out[key].data[j])])) as Record<string, number>,
      pseudoLabel: bu ? (out.pseudo_label.data as BigInt64Array).subarray(j * bu, (j + 1) * bu) : new BigInt64Array(0),
      pseudoWeight: bu ? (out.pseudo_weight.data as Float).subarray(j * bu, (j + 1) * bu) : none,
      hiddenLabels: b.batch.hiddenLabels,
      images,
      noRec: session === this.pseudoStep || (onLabels && phase === 'joint'),
    }));
    const bad = outcomes.find((o) => !Number.isFinite(o.stats.loss));
    if (bad) {
      const last = this.lastGood();
      throw new DivergedError(`loss is ${bad.stats.loss} at step ${bad.t}; the run stopped without saving this step. ` +
        `${last[0].toUpperCase()}${last.slice(1)}. Try a lower --lr or --clip-norm.`);
    }
    for (const kind of STATE_KINDS) {
      for (const name of this.model[kind].keys()) {
        const t = out[`new.${kind}.${name}`];
        if (t) this.model[kind].set(name, t.data as Float); // absent: a parameter this graph does not train
      }
    }
    if (this.replay && phase === 'joint' && this.gate.open && out.pseudo_label) {
      for (let j = 0; j < k; j++) this.replay.update(batches[j].batch.unlabeledIndex, outcomes[j].pseudoLabel, outcomes[j].pseudoWeight);
    }
    if (out.teacher_mean && drawsUnlabeled) {
      const K = this.art.cfg.classes;
      const tm = out.teacher_mean.data as Float;
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < K; i++) this.teacherMean[i] = DA_MOMENTUM * this.teacherMean[i] + (1 - DA_MOMENTUM) * tm[j * K + i];
        // The thresholds learn from the teacher's view of each step, in order (fixed within this run).
        if (out.pseudo_conf) {
          const bu = m.unlabeledBatch;
          this.thresholds.update({
            conf: (out.pseudo_conf.data as Float).subarray(j * bu, (j + 1) * bu),
            label: (out.pseudo_label.data as BigInt64Array).subarray(j * bu, (j + 1) * bu),
            index: batches[j].batch.unlabeledIndex,
            meanProbs: tm.subarray(j * K, (j + 1) * K),
          });
        }
      }
    }
    this.step = t0 + k;
    return outcomes;
  }

  /**
   * The graph that takes step t (the first of a chunk when `chunk`; null: no chunk graph for it): supervised steps
   * the supervised graphs when the artifacts have them, joint steps with the gate closed the gate-closed graphs when
   * loaded, single joint steps with the gate open pseudo_step when loaded (--lambda-rec 0), everything else
   * train_step / train_chunk. The gate is fixed within a chunk, so its first step decides.
   */
  private sessionFor(t: number, chunk: boolean): Session | null {
    const phase = phaseOf(this.cfg, t);
    if (phase === 'supervised' && this.supervised) return chunk ? this.supervisedChunk : this.supervised;
    if (phase === 'joint' && !this.gate.open) {
      // With --lambda-rec 0 a closed joint step trains the labeled cross-entropy alone: the supervised graph's step.
      if (closedOnLabels(this.cfg) && this.supervised) return chunk ? this.supervisedChunk : this.supervised;
      if (this.closedStep) return chunk ? this.closedChunk : this.closedStep;
    }
    if (phase === 'joint' && this.gate.open && this.pseudoStep && !chunk) return this.pseudoStep;
    return chunk ? this.chunk : this.session;
  }

  /** The per-class thresholds as the graph's tau input: [K], or a scalar for artifacts exported before per-class τ. */
  private tauInput(): HostTensor {
    const dt = this.art.cfg.dtype;
    const tau = this.thresholds.current();
    if (!this.tauPerClass) return this.scalar(tau[0]);
    return hostTensor(dt, [tau.length], dt === 'float64' ? Float64Array.from(tau) : Float32Array.from(tau));
  }

  /** Whether the step graphs take tau per class ([K]); artifacts of earlier versions take one scalar. */
  private get tauPerClass(): boolean {
    const spec = this.art.manifest.graphs.train_step?.inputs.find((i) => i.name === 'tau');
    return !spec || spec.shape.length === 1;
  }

  private dropRate(): number { return arch(this.art.cfg.preset).dropPath; }

  /** Distribution alignment's factor per class: uniform prior / running mean of teacher predictions (ones: off). */
  private alignRatio(): HostTensor {
    const K = this.art.cfg.classes;
    const r = this.teacherMean.map((m) => (this.cfg.distAlign ? 1 / K / Math.max(m, 1e-6) : 1));
    return hostTensor(this.art.cfg.dtype, [K], this.art.cfg.dtype === 'float64' ? Float64Array.from(r) : Float32Array.from(r));
  }

  async close(): Promise<void> {
    await this.chunk?.release();
    await this.supervisedChunk?.release();
    await this.supervised?.release();
    await this.closedStep?.release();
    await this.closedChunk?.release();
    await this.pseudoStep?.release();
    await this.session?.release();
    await this.classifier?.release();
  }
}
