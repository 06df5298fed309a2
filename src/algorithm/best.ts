// The best-validation weights of a run (train --keep-best): the weights that classify (the EMA teacher's, or the
// student's when it is its own teacher) at the evaluation with the highest validation accuracy so far, in
// OUT/best.safetensors with the step and the figures that made it the best, and a sha256 of all of it. Written
// atomically at that evaluation, so a crash leaves the previous best whole. Read by eval, pseudo-label, check,
// export-model, embed and export-weights with --best.
//
// A run is deterministic, so a resumed run that replays the steps after its checkpoint writes the same file again:
// the best record (step, accuracy) travels in the checkpoint's loop state, and the file on disk is the same bytes an
// uninterrupted run ends with.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../artifacts/files.js';
import type { NamedTensor } from '../artifacts/safetensors.js';
import { encodeSealed, readSealed } from '../artifacts/sealed.js';
import { FloatDType } from '../graph/types.js';
import { CheckpointError, Float } from './checkpoint.js';

export const BEST_FILE = 'best.safetensors';

/** What made these weights the best: the step of the evaluation and its validation figures. */
export interface BestRecord {
  step: number;
  valAcc: number;
  valConfidentAcc: number | null;
  valConfidentRate: number;
}

/** Whether an evaluation beats the best so far: strictly higher validation accuracy (a tie keeps the earlier step). */
export function improves(best: BestRecord | null, valAcc: number): boolean {
  return best === null || valAcc > best.valAcc;
}

export function encodeBest(record: BestRecord, weights: Map<string, Float>, shapes: Map<string, number[]>, dtype: FloatDType): Buffer {
  const tensors = new Map<string, NamedTensor>();
  for (const [name, data] of weights) tensors.set(name, { dtype, shape: shapes.get(name)!, data });
  return encodeSealed(tensors, 'ssmae_best', JSON.stringify(record));
}

export function saveBest(runDir: string, record: BestRecord, weights: Map<string, Float>, shapes: Map<string, number[]>, dtype: FloatDType): string {
  const file = path.join(runDir, BEST_FILE);
  writeFileAtomic(file, encodeBest(record, weights, shapes, dtype));
  return file;
}

/** Reads and verifies best.safetensors; a missing, damaged or foreign file is a CheckpointError that names it. */
export function loadBest(file: string): { record: BestRecord; weights: Map<string, Float> } {
  if (!fs.existsSync(file)) {
    const dir = path.dirname(file);
    throw new CheckpointError(`${file} does not exist: run ${dir} kept no best-validation weights. Train it with --keep-best ` +
      `(ssmae train ... --out ${dir} --keep-best), or leave out --best to use its last checkpoint`);
  }
  const { record: raw, tensors } = readSealed(file, 'ssmae_best', 'not an ssmae best-weights file (no best record in its metadata)',
    (m) => new CheckpointError(m));
  const weights = new Map<string, Float>();
  for (const [name, t] of tensors) weights.set(name, t.data as Float);
  return { record: JSON.parse(raw) as BestRecord, weights };
}
