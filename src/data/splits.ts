// Carving a labeled source into the three sets semi-supervised training needs. Per class, a seeded shuffle
// draws `valPerClass` images for validation (the gate's data — never the test set), then `labelsPerClass`
// for training with labels; everything else is unlabeled, its true labels kept aside in `hiddenLabels`
// so pseudo-label precision can be measured without ever training on them.

import { Rng } from './rng.js';
import { DataError, subset, type ImageSet } from './types.js';

export interface SplitOptions {
  labelsPerClass: number;
  valPerClass: number;
  seed: number;
}

export interface Split {
  labeled: ImageSet;
  val: ImageSet;
  unlabeled: ImageSet & { hiddenLabels: Int32Array };
  /** Indices into the source set of each part (ascending), e.g. to record the split beside a run. */
  indices: { labeled: Int32Array; val: Int32Array; unlabeled: Int32Array };
}

export function splitLabeled(set: ImageSet, { labelsPerClass, valPerClass, seed }: SplitOptions): Split {
  for (const [name, v] of [['labelsPerClass', labelsPerClass], ['valPerClass', valPerClass]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new DataError(`${name} must be a non-negative integer, got ${v}`);
  }
  const byClass: number[][] = set.classes.map(() => []);
  const unlabeled: number[] = [];
  for (let i = 0; i < set.n; i++) {
    const l = set.labels[i];
    if (l >= 0) byClass[l].push(i);
    else unlabeled.push(i); // images that came without a label stay unlabeled
  }
  const need = labelsPerClass + valPerClass;
  const short = byClass
    .map((ids, c) => ({ c, have: ids.length }))
    .filter(({ have }) => have < need)
    .map(({ c, have }) => `"${set.classes[c]}" has ${have}`);
  if (short.length > 0) {
    throw new DataError(
      `too few labeled images: ${labelsPerClass} labeled + ${valPerClass} validation per class need ${need} per class, ` +
        `but ${short.join(', ')}; lower labelsPerClass/valPerClass or add images`,
    );
  }

  const rng = Rng.derive(seed, 'split');
  const val: number[] = [];
  const labeled: number[] = [];
  for (const ids of byClass) {
    rng.shuffle(ids);
    val.push(...ids.slice(0, valPerClass));
    labeled.push(...ids.slice(valPerClass, need));
    unlabeled.push(...ids.slice(need));
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  const idx = { labeled: sorted(labeled), val: sorted(val), unlabeled: sorted(unlabeled) };

  const u = subset(set, idx.unlabeled);
  const hiddenLabels = Int32Array.from(idx.unlabeled, (i) => set.labels[i]);
  u.labels.fill(-1);
  return {
    labeled: subset(set, idx.labeled),
    val: subset(set, idx.val),
    unlabeled: Object.assign(u, { hiddenLabels }),
    indices: idx,
  };
}
