// Which unlabeled images bench/hidden-accuracy scores when it scores fewer than all of them. The split keeps the
// unlabeled images in their source's order, and a folder source is ordered by class (DIR/<class>/*), so "the first
// N" of CIFAR-10's folder are its first few classes. A seeded sample (the run's seed, its own stream) draws from every
// class in proportion, and two runs with the same seed are scored on the same images, so their figures pair.
import { Rng } from '../src/data/rng.js';

/** Ascending indices into `total` unlabeled images: all of them when `max` ≥ `total` (or `max` is 0), else `max` drawn without replacement. */
export function hiddenSample(total: number, max: number, seed: number): Int32Array {
  if (!Number.isInteger(max) || max < 0) throw new RangeError(`--max must be an integer ≥ 0, got ${max}`);
  const all = Int32Array.from({ length: total }, (_, i) => i);
  if (max === 0 || max >= total) return all;
  const ids = Array.from(all);
  Rng.derive(seed, 'hidden-accuracy').shuffle(ids);
  return Int32Array.from(ids.slice(0, max)).sort();
}

/** Images per class among `labels` (the hidden labels of the scored images). */
export function perClass(labels: ArrayLike<number>, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]]++;
  return c;
}
