// Checkpoints hold everything needed to continue exactly: parameters, moments, EMA (safetensors), step, gate,
// generator and sampler states (JSON metadata in the same file). Written to a temporary file, synced and renamed,
// so a crash while writing leaves the previous checkpoint loadable.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../artifacts/files.js';
import { NamedTensor, decodeSafetensors, encodeSafetensors } from '../artifacts/safetensors.js';
import { FloatDType } from '../graph/types.js';
import type { GateState } from './gate.js';
import { STATE_KINDS } from '../models/step.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

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
  /** The resolved config the run was started with. */
  config: unknown;
}

export interface Checkpoint { model: ModelState; loop: LoopState }

export function encodeCheckpoint(c: Checkpoint, shapes: Map<string, number[]>, dtype: FloatDType): Buffer {
  const tensors = new Map<string, NamedTensor>();
  for (const kind of STATE_KINDS) {
    for (const [name, data] of c.model[kind]) tensors.set(`${kind}.${name}`, { dtype, shape: shapes.get(name)!, data });
  }
  return encodeSafetensors(tensors, { ssmae_loop_state: JSON.stringify(c.loop) });
}

export function saveCheckpoint(runDir: string, c: Checkpoint, shapes: Map<string, number[]>, dtype: FloatDType,
  write: (file: string, data: Uint8Array) => void = writeFileAtomic): string {
  const file = path.join(runDir, CHECKPOINT_FILE);
  write(file, encodeCheckpoint(c, shapes, dtype));
  return file;
}

export function loadCheckpoint(file: string): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  const model: ModelState = { p: new Map(), m: new Map(), v: new Map(), ema: new Map() };
  for (const [key, t] of tensors) {
    const dot = key.indexOf('.');
    const kind = key.slice(0, dot) as keyof ModelState;
    model[kind].set(key.slice(dot + 1), t.data as Float);
  }
  const raw = metadata.ssmae_loop_state;
  if (!raw) throw new Error(`${file}: not an ssmae checkpoint (no loop state)`);
  return { model, loop: JSON.parse(raw) as LoopState };
}
