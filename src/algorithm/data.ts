// Turning the user's sources into the three sets training needs: labeled (for ceL), validation (for the gate,
// carved from the labeled training data — never the test split) and unlabeled (labels hidden, kept only to
// report pseudo-label precision).
import { loadSource, LoadOptions } from '../data/source.js';
import { splitLabeled } from '../data/splits.js';
import { ConcatStore } from '../data/store.js';
import { DataError, ImageSet, Logger, classCounts } from '../data/types.js';

export interface SplitData { labeled: ImageSet; val: ImageSet; unlabeled: ImageSet }

export interface DataRequest {
  labeled: string;
  unlabeled: string | null;
  labelsPerClass: number | null;
  valPerClass: number;
  seed: number;
  size: number;
  channels: 1 | 3;
  classes: number;
  /** false: an empty unlabeled set is fine (labels-only trains on the labels alone). Default true. */
  unlabeledRequired?: boolean;
  cacheDir?: string;
  log?: Logger;
  /** Makes a progress callback for one source (by its spec). */
  progress?: (spec: string) => LoadOptions['onProgress'];
}

export async function loadTrainingData(r: DataRequest): Promise<SplitData> {
  const common = { size: r.size, channels: r.channels, cacheDir: r.cacheDir, log: r.log };
  const source = await loadSource(r.labeled, { ...common, labeled: true, onProgress: r.progress?.(r.labeled) });
  if (source.classes.length !== r.classes) {
    throw new DataError(`${r.labeled} has ${source.classes.length} classes (${source.classes.slice(0, 12).join(', ')}) ` +
      `but the artifacts were exported with --classes ${r.classes}; re-export with --classes ${source.classes.length}`);
  }
  // Without --labels-per-class every labeled image keeps its label, up to the smallest class's count (the
  // split draws the same number per class; extra images of larger classes join the unlabeled set).
  const labelsPerClass = r.labelsPerClass ?? Math.min(...classCounts(source)) - r.valPerClass;
  if (labelsPerClass < 1) {
    throw new DataError(`${r.labeled}: its smallest class has ${Math.min(...classCounts(source))} images, all taken by ` +
      `--val-per-class ${r.valPerClass}; add labeled images or lower --val-per-class`);
  }
  const split = splitLabeled(source, { labelsPerClass, valPerClass: r.valPerClass, seed: r.seed });
  let unlabeled: ImageSet = split.unlabeled;
  if (r.unlabeled) {
    const extra = await loadSource(r.unlabeled, { ...common, labeled: false, classes: source.classes, onProgress: r.progress?.(r.unlabeled) });
    unlabeled = unlabeled && unlabeled.n > 0 ? concatSets([unlabeled, extra]) : extra;
  }
  if (r.unlabeledRequired !== false && (!unlabeled || unlabeled.n === 0)) {
    throw new DataError(`no unlabeled images: give --unlabeled DIR, or --labels-per-class N to treat the rest of ${r.labeled} as unlabeled` +
      ' (--method labels-only trains on the labels alone and needs none)');
  }
  return { labeled: split.labeled, val: split.val, unlabeled };
}

/** Several sets with the same size, channels and classes, one after another: a view, no image is copied. */
export function concatSets(sets: ImageSet[]): ImageSet {
  const n = sets.reduce((k, s) => k + s.n, 0);
  const labels = new Int32Array(n);
  const hiddenLabels = new Int32Array(n).fill(-1);
  let i = 0;
  for (const s of sets) {
    labels.set(s.labels, i);
    if (s.hiddenLabels) hiddenLabels.set(s.hiddenLabels, i);
    i += s.n;
  }
  const first = sets[0];
  return {
    images: new ConcatStore(sets.map((s) => s.images)), labels, hiddenLabels, n, channels: first.channels, size: first.size,
    classes: first.classes, paths: sets.flatMap((s) => s.paths), skipped: sets.flatMap((s) => s.skipped),
  };
}
