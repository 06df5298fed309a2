// Reading a finished (or running) run back: its config, artifacts, class names and the weights that classify.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../artifacts/files.js';
import { Artifacts, loadArtifacts, loadInitialWeights } from '../artifacts/load.js';
import { BEST_FILE, BestRecord, loadBest } from './best.js';
import { CHECKPOINT_FILE, CheckpointError, Float, PREVIOUS_CHECKPOINT_FILE, loadCheckpoint } from './checkpoint.js';
import { TrainConfig } from './config.js';

export interface Run {
  dir: string;
  config: TrainConfig;
  artifacts: Artifacts;
  classes: string[];
  step: number;
  /** The EMA teacher's weights (or the student's, when it was its own teacher). */
  weights: Map<string, Float>;
  /** The file they were read from: the last checkpoint, or best.safetensors. */
  weightsFile: string;
  /** With `best`: the evaluation that made them the best (train --keep-best). */
  best: BestRecord | null;
}

/**
 * A run's config, artifacts, classes and weights. `best`: the best-validation weights train --keep-best kept
 * (OUT/best.safetensors) instead of the last checkpoint's.
 */
export function loadRun(dir: string, opts: { best?: boolean } = {}): Run {
  const cfgFile = path.join(dir, 'config.json');
  const ckpt = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(cfgFile) || !fs.existsSync(ckpt)) {
    throw new UsageError(`${dir} is not a finished run (needs config.json and ${CHECKPOINT_FILE}); train one with: ssmae train ... --out ${dir}`);
  }
  const config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as TrainConfig;
  const artifacts = loadArtifacts(config.artifacts);
  const classes = JSON.parse(fs.readFileSync(path.join(dir, 'classes.json'), 'utf8')) as string[];
  if (opts.best) {
    const file = path.join(dir, BEST_FILE);
    const { record, weights } = loadBest(file);
    return { dir, config, artifacts, classes, step: record.step, weights, weightsFile: file, best: record };
  }
  let c;
  try {
    c = loadCheckpoint(ckpt);
  } catch (e) {
    // Never a silent fall-back here: this model is what gets evaluated or shipped. Training can go back a step.
    const prev = path.join(dir, PREVIOUS_CHECKPOINT_FILE);
    if (e instanceof CheckpointError && fs.existsSync(prev)) {
      throw new CheckpointError(`${e.message}. The previous checkpoint ${prev} is kept: ssmae train --out ${dir} --resume ` +
        '(with the run\'s other flags) continues from it and writes a new one');
    }
    throw e;
  }
  return {
    dir, config, artifacts, classes, step: c.loop.step, weights: config.teacher === 'ema' ? c.model.ema : c.model.p,
    weightsFile: ckpt, best: null,
  };
}

/** A model to use: a run's trained weights (and classes), or an artifact directory's initial weights (no classes). */
export interface ModelWeights { artifacts: Artifacts; weights: Map<string, Float>; classes: string[] | null; what: string }

export function loadModelWeights(run: string | undefined, artifacts: string | undefined, best = false): ModelWeights {
  if ((run === undefined) === (artifacts === undefined)) {
    throw new UsageError('give --run RUN (trained weights) or --artifacts ART (the initial weights, e.g. a pretrained checkpoint just exported), one of them');
  }
  if (run !== undefined) {
    const r = loadRun(run, { best });
    return { artifacts: r.artifacts, weights: r.weights, classes: r.classes, what: `${run} (${best ? 'best, ' : ''}step ${r.step})` };
  }
  if (best) throw new UsageError('--best takes the best-validation weights of a run: give --run RUN with it, not --artifacts');
  const a = loadArtifacts(artifacts!);
  const w = new Map<string, Float>();
  for (const [k, t] of loadInitialWeights(a)) w.set(k, t.data as Float);
  return { artifacts: a, weights: w, classes: null, what: `${artifacts} (initial weights)` };
}
