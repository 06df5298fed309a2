// The one dataset shape every consumer sees: images decoded once to uint8, channel-first, in a store read by index
// (store.ts: in memory, or the decoded-image cache on disk), with labels and the provenance of every image (so
// pseudo-label CSVs can name files) and of every file that could not be used. Labels and paths are small and stay
// in memory.

import { SubsetStore, type ImageStore } from './store.js';

export interface ImageSet {
  images: ImageStore; // n images [channels, size, size], values 0..255
  labels: Int32Array; // [n], class index, -1 = unknown (unlabeled)
  n: number;
  channels: number;
  size: number;
  classes: string[]; // class names, index = label
  paths: string[]; // [n] file path, or an id such as 'mnist:train#123'
  skipped: { path: string; reason: string }[]; // files (or folders) that could not be used, with why
  /** [n] true labels of images whose `labels` entry is -1, where the source knew them (-1 otherwise); used only
   * to measure pseudo-label precision, never for training. */
  hiddenLabels?: Int32Array;
}

/** Bad or missing input the user can fix; the CLI maps it to exit code 2. */
export class DataError extends Error {
  override name = 'DataError';
}

/** Receives one warning line at a time (default: console.error). */
export type Logger = (line: string) => void;

export const defaultLogger: Logger = (line) => console.error(line);

export function pixelsPerImage(set: Pick<ImageSet, 'channels' | 'size'>): number {
  return set.channels * set.size * set.size;
}

/** A copy of one image ([channels, size, size]). */
export function imageAt(set: ImageSet, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= set.n) throw new RangeError(`image index ${i} outside [0, ${set.n})`);
  return set.images.read([i]);
}

/**
 * The given images, in the given order: a view of the set's store (no image is copied) with copies of their labels
 * and paths. `skipped` is carried over unchanged.
 */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const n = indices.length;
  const images = new SubsetStore(set.images, indices);
  const labels = new Int32Array(n);
  const hidden = set.hiddenLabels ? new Int32Array(n) : undefined;
  const paths = new Array<string>(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.n) throw new RangeError(`subset index ${i} outside [0, ${set.n})`);
    labels[k] = set.labels[i];
    if (hidden) hidden[k] = set.hiddenLabels![i];
    paths[k] = set.paths[i];
  }
  const out: ImageSet = {
    images,
    labels,
    n,
    channels: set.channels,
    size: set.size,
    classes: set.classes.slice(),
    paths,
    skipped: set.skipped.slice(),
  };
  if (hidden) out.hiddenLabels = hidden;
  return out;
}

/** Images per class (index = label); unlabeled images are not counted. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.classes.length).fill(0);
  for (let i = 0; i < set.n; i++) if (set.labels[i] >= 0) counts[set.labels[i]]++;
  return counts;
}

/** Class-name order used wherever classes are discovered (folders, CSV labels): numbers numerically, then text. */
export function compareClassNames(a: string, b: string): number {
  const na = /^-?\d+$/.test(a);
  const nb = /^-?\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
