// Checkpoints hold everything needed to continue exactly: parameters, moments, EMA (safetensors), step, gate,
// generator and sampler states (JSON metadata in the same file), and a sha256 of all of it, so a file damaged after
// it was written (a bad disk, a copy cut short, an edit) is refused by name instead of trained on. Written to a
// temporary file, synced and renamed, so a crash while writing leaves the previous checkpoint loadable.
//
// The checkpoint being replaced is kept as checkpoint.prev.safetensors (a hard link: no bytes are copied). Atomic
// writes already rule out a torn checkpoint; the previous one is for damage that happens later, to a file that was
// whole. Resuming from it loses nothing but time: runs are deterministic, so training again from the earlier step
// reaches the same state. The cost is the disk space of one more checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { AtomicOptions, UsageError, writeFileAtomic } from '../artifacts/files.js';
import type { NamedTensor } from '../artifacts/safetensors.js';
import { encodeSealed, readSealed } from '../artifacts/sealed.js';
import { FloatDType } from '../graph/types.js';
import type { GateState } from './gate.js';
import type { ThresholdState } from './thresholds.js';
import type { ReplayState } from './replay.js';
import type { BestRecord } from './best.js';
import { STATE_KINDS } from '../models/step.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.safetensors';

export type Float = Float32Array | Float64Array;

export interface ModelState {
  p: Map<string, Float>;
  m: Map<string, Float>;
  v: Map<string, Float>;
  ema: Map<string, Float>;
}

export interface LoopState {
  step: number;
  gate: GateState;
  rngs: Record<string, [number, number, number, number]>;
  samplers: Record<string, unknown>;
  /** Running mean of the teacher's predictions (distribution alignment). */
  teacherMean: number[];
  /** Adaptive pseudo-label thresholds (thresholds.ts); absent in checkpoints of earlier versions and for --threshold fixed. */
  thresholds?: ThresholdState;
  /** The pseudo-label replay pool; only where --pseudo-replay is on. */
  replay?: ReplayState;
  /** The best evaluation so far, where --keep-best writes its weights to best.safetensors. */
  best?: BestRecord;
  /** The resolved config the run was started with. */
  config: unknown;
  /**
   * The open metrics interval, when the checkpoint was written inside one (a stop on a signal): the resumed run
   * continues it and writes the rows an uninterrupted run writes. Absent at regular checkpoints, which end one.
   */
  interval?: unknown;
}

export interface Checkpoint { model: ModelState; loop: LoopState }

/** A checkpoint that cannot be used: torn, damaged, not a checkpoint, or another model's. The CLI exits 2. */
export class CheckpointError extends UsageError {}

export function encodeCheckpoint(c: Checkpoint, shapes: Map<string, number[]>, dtype: FloatDType): Buffer {
  const tensors = new Map<string, NamedTensor>();
  for (const kind of STATE_KINDS) {
    for (const [name, data] of c.model[kind]) tensors.set(`${kind}.${name}`, { dtype, shape: shapes.get(name)!, data });
  }
  return encodeSealed(tensors, 'ssmae_loop_state', JSON.stringify(c.loop));
}

export function saveCheckpoint(runDir: string, c: Checkpoint, shapes: Map<string, number[]>, dtype: FloatDType,
  write: (file: string, data: Uint8Array, opts: AtomicOptions) => void = writeFileAtomic): string {
  const file = path.join(runDir, CHECKPOINT_FILE);
  write(file, encodeCheckpoint(c, shapes, dtype), { keepPrevious: path.join(runDir, PREVIOUS_CHECKPOINT_FILE) });
  return file;
}

/** Reads and verifies a checkpoint; anything wrong with the file is a CheckpointError that names it. */
export function loadCheckpoint(file: string): Checkpoint {
  if (!fs.existsSync(file)) throw new CheckpointError(`${file} does not exist`);
  // Checkpoints written before checksums were added have none; they load as before.
  const { record: raw, tensors } = readSealed(file, 'ssmae_loop_state', 'not an ssmae checkpoint (no loop state in its metadata)',
    (m) => new CheckpointError(m), { unsealedOk: true });
  const model: ModelState = { p: new Map(), m: new Map(), v: new Map(), ema: new Map() };
  for (const [key, t] of tensors) {
    const dot = key.indexOf('.');
    const kind = key.slice(0, dot) as keyof ModelState;
    if (!(STATE_KINDS as readonly string[]).includes(kind)) throw new CheckpointError(`${file} is not an ssmae checkpoint (tensor ${key})`);
    model[kind].set(key.slice(dot + 1), t.data as Float);
  }
  return { model, loop: JSON.parse(raw) as LoopState };
}

/**
 * The checkpoint --resume continues from: the latest, or the previous one when the latest is damaged or missing
 * (`fellBack` says why). Null when the run has neither. Both unusable: a CheckpointError naming both.
 */
export function loadLatestCheckpoint(runDir: string): { checkpoint: Checkpoint; file: string; fellBack: string | null } | null {
  const latest = path.join(runDir, CHECKPOINT_FILE);
  const prev = path.join(runDir, PREVIOUS_CHECKPOINT_FILE);
  if (!fs.existsSync(latest) && !fs.existsSync(prev)) return null;
  let why: string;
  try {
    return { checkpoint: loadCheckpoint(latest), file: latest, fellBack: null };
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    why = e.message;
  }
  if (!fs.existsSync(prev)) throw new CheckpointError(`${why}; there is no previous checkpoint to fall back to. Start the run again with --overwrite`);
  try {
    return { checkpoint: loadCheckpoint(prev), file: prev, fellBack: why };
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    throw new CheckpointError(`${why}; the previous checkpoint cannot be used either: ${e.message}. Start the run again with --overwrite`);
  }
}

/** Refuses a checkpoint whose tensors are not exactly this model's parameters (another preset, size or dtype). */
export function checkCheckpointMatches(file: string, c: Checkpoint, shapes: Map<string, number[]>, dtype: FloatDType, what: string): void {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const fix = 'use the artifacts the run was trained with (its config.json names them), or start a new run with --overwrite';
  for (const kind of STATE_KINDS) {
    const got = c.model[kind];
    for (const [name, shape] of shapes) {
      const t = got.get(name);
      if (!t) throw new CheckpointError(`${file} was written for another model: it has no ${kind}.${name}, which ${what} has; ${fix}`);
      if (t.length !== size(shape)) {
        throw new CheckpointError(`${file} was written for another model: ${kind}.${name} holds ${t.length} values, ${what} has ${size(shape)} ([${shape.join(', ')}]); ${fix}`);
      }
      if ((t instanceof Float64Array ? 'float64' : 'float32') !== dtype) {
        throw new CheckpointError(`${file} was written for another model: ${kind}.${name} is ${t instanceof Float64Array ? 'float64' : 'float32'}, ${what} is ${dtype}; ${fix}`);
      }
    }
    for (const name of got.keys()) {
      if (!shapes.has(name)) throw new CheckpointError(`${file} was written for another model: it has ${kind}.${name}, which ${what} has not; ${fix}`);
    }
  }
}
