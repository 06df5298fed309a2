// Reading a finished (or running) run back: its config, artifacts, class names and the weights that classify.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../artifacts/files.js';
import { Artifacts, loadArtifacts } from '../artifacts/load.js';
import { CHECKPOINT_FILE, Float, loadCheckpoint } from './checkpoint.js';
import { TrainConfig } from './config.js';

export interface Run {
  dir: string;
  config: TrainConfig;
  artifacts: Artifacts;
  classes: string[];
  step: number;
  /** The EMA teacher's weights (or the student's, when it was its own teacher). */
  weights: Map<string, Float>;
}

export function loadRun(dir: string): Run {
  const cfgFile = path.join(dir, 'config.json');
  const ckpt = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(cfgFile) || !fs.existsSync(ckpt)) {
    throw new UsageError(`${dir} is not a finished run (needs config.json and ${CHECKPOINT_FILE}); train one with: ssmae train ... --out ${dir}`);
  }
  const config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as TrainConfig;
  const artifacts = loadArtifacts(config.artifacts);
  const classes = JSON.parse(fs.readFileSync(path.join(dir, 'classes.json'), 'utf8')) as string[];
  const c = loadCheckpoint(ckpt);
  return { dir, config, artifacts, classes, step: c.loop.step, weights: config.teacher === 'ema' ? c.model.ema : c.model.p };
}
