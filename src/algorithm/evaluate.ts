// A run's figures on a labeled set: accuracy, per-class accuracy and the confusion matrix. One code path for
// `eval`, `check` and `report`, so the numbers a CI gate compares are the ones `eval` prints.
import type { ImageSet } from '../data/types.js';
import type { Device } from '../runtime/session.js';
import { Classifier, predictions, type Tta } from './classifier.js';
import type { Run } from './run.js';

export interface Evaluation {
  accuracy: number;
  n: number;
  /** Files of the source that could not be read (not counted in n). */
  skipped: number;
  /** Accuracy per class name; null for a class with no image in the set. */
  per_class: Record<string, number | null>;
  /** [true class][predicted class] counts, classes in the run's order. */
  confusion: number[][];
  /** The run's step the weights come from. */
  step: number;
  /** Test-time augmentation the predictions were made with. */
  tta: Tta;
}

export async function evaluateRun(run: Run, set: ImageSet,
  opts: { device?: Device; threads?: number; tta?: Tta; onProgress?: (done: number, total: number) => void } = {}): Promise<Evaluation> {
  const m = run.artifacts.manifest;
  const clf = await Classifier.create(run.artifacts, run.weights, opts);
  let label: Int32Array;
  try {
    label = predictions(await clf.logits(set.images, set.n, 256, (done) => opts.onProgress?.(done, set.n)), m.classes).label;
  } finally {
    await clf.release();
  }
  return { ...evaluationOf(run.classes, set.labels, label, set.skipped.length, run.step), tta: opts.tta ?? 'none' };
}

/** The figures from true and predicted labels (both class indices into `classes`). */
export function evaluationOf(classes: string[], truth: Int32Array, predicted: Int32Array, skipped: number, step: number): Omit<Evaluation, 'tta'> {
  const K = classes.length;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < truth.length; i++) confusion[truth[i]][predicted[i]]++;
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  const perClass = Object.fromEntries(classes.map((c, i) => {
    const total = confusion[i].reduce((s, v) => s + v, 0);
    return [c, total ? confusion[i][i] / total : null];
  }));
  return { accuracy: truth.length ? correct / truth.length : NaN, n: truth.length, skipped, per_class: perClass, confusion, step };
}
