// A source plan: what identifies a source's content (the cache key's fingerprint) and how to decode it, in order, a
// chunk at a time, into a sink (the cache file, or memory). Each format makes its plan beside its reader (folder.ts,
// manifest.ts, idx.ts, cifar.ts, builtin.ts) from the two builders here: a listing of image files, or raw records.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DECODE_CONCURRENCY, decodeFile, forEachBounded, type DecodeFile, type Target } from './decode.js';
import { DECODE_CHUNK, rawImages, type ImageSink, type RawRecords } from './raw.js';
import { shardRange, type Shard } from './spec.js';
import { DataError, type ImageSet } from './types.js';

/** One image file of a listing (folders, manifests). */
export interface FileEntry {
  path: string;
  label: number; // -1 when unlabeled
  bytes: number;
  mtimeMs: number;
}

/** What listing a folder or a manifest gives: its image files in order, the class names, what was skipped and why. */
export interface Listing {
  files: FileEntry[];
  classes: string[];
  skipped: { path: string; reason: string }[];
}

/** A set's labels, paths and provenance: everything but its images. */
export type SetMeta = Omit<ImageSet, 'images'>;

export interface Plan {
  fingerprint: unknown;
  /** Decodes every image, in order, into `sink`; returns the rest of the set. */
  build(sink: ImageSink): Promise<SetMeta>;
  /** Sources of raw records (IDX, CIFAR): the records themselves, read by index (pseudo-label streams them). */
  open?(): RawSource;
}

export interface PlanOptions {
  size: number;
  channels: 1 | 3;
  /** true: the source must provide a label for every image; false: images are unlabeled (labels -1). */
  labeled: boolean;
  /** The class list to use (e.g. the training set's, when loading its test set); discovered when absent. */
  classes?: string[];
  onProgress?: (done: number, total: number) => void;
  /** Decodes in flight at once (default DECODE_CONCURRENCY: two per core). */
  concurrency?: number;
  /** Only this slice of a listed source: shard `index` of `count` contiguous, near-equal parts in listing order. */
  shard?: Shard;
  /** The file decoder; replaceable so tests can count or fake decodes. */
  decode?: DecodeFile;
}

/** Raw records with their labels (-1: none), class names and the id of each record ('mnist:test#12'). */
export interface RawSource {
  records: RawRecords;
  labels: Int32Array;
  classes: string[];
  id(i: number): string;
}

export function targetOf(o: PlanOptions): Target {
  return { size: o.size, channels: o.channels };
}

/** Path, size and mtime of each file: what a single-file source's cache entry depends on. */
export function statFingerprint(paths: string[]): unknown {
  return paths.map((p) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) throw new DataError(`${p} does not exist`);
    return [resolve(p), st.size, st.mtimeMs];
  });
}

/** A source whose classes are fixed must agree with the class list the caller expects. */
export function checkClasses(source: string, own: string[] | undefined, wanted: string[] | undefined, labelCount: number): string[] {
  if (own && wanted && (own.length !== wanted.length || own.some((c, i) => c !== wanted[i]))) {
    throw new DataError(`${source} has classes (${own.join(', ')}) but (${wanted.join(', ')}) were expected`);
  }
  const names = own ?? wanted ?? Array.from({ length: labelCount }, (_, i) => String(i));
  if (labelCount > names.length) {
    throw new DataError(`${source}: labels go up to ${labelCount - 1} but there are only ${names.length} classes`);
  }
  return names.slice();
}

/** A plan over raw records, opened only when built (`open` reads labels and positions, not the pixels). */
export function rawPlan(fingerprint: unknown, open: () => RawSource, options: PlanOptions): Plan {
  return {
    fingerprint,
    open,
    async build(sink) {
      const src = open();
      try {
        await rawImages(src.records, targetOf(options), options.concurrency ?? DECODE_CONCURRENCY, sink, options.onProgress);
      } finally {
        src.records.close?.();
      }
      const n = src.records.n;
      return {
        labels: src.labels, n, channels: options.channels, size: options.size, classes: src.classes,
        paths: Array.from({ length: n }, (_, i) => src.id(i)), skipped: [],
      };
    },
  };
}

/** A plan over a listing of image files (folders, manifests): decoded a chunk at a time, failures skipped with why. */
export function filesPlan(whole: Listing, options: PlanOptions): Plan {
  const listing = options.shard ? shardListing(whole, options.shard) : whole;
  const target = targetOf(options);
  const decode = options.decode ?? decodeFile;
  const { files } = listing;
  return {
    fingerprint: {
      files: files.map((f) => [resolve(f.path), f.bytes, f.mtimeMs, f.label]),
      classes: listing.classes,
      skipped: listing.skipped.map((s) => s.path),
    },
    async build(sink) {
      const per = target.channels * target.size * target.size;
      const concurrency = options.concurrency ?? DECODE_CONCURRENCY;
      const chunk = Math.max(DECODE_CHUNK, 16 * concurrency);
      const failure = new Array<string | undefined>(files.length);
      // A chunk at a time, in listing order: the decoded images of one chunk are all this holds.
      for (let c0 = 0; c0 < files.length; c0 += chunk) {
        const count = Math.min(chunk, files.length - c0);
        const decoded = new Uint8Array(count * per);
        await forEachBounded(count, concurrency, async (k) => {
          const f = files[c0 + k];
          if (f.bytes === 0) {
            failure[c0 + k] = 'empty file (0 bytes)';
            return;
          }
          try {
            decoded.set(await decode(f.path, target), k * per);
          } catch (e) {
            failure[c0 + k] = `cannot decode: ${(e as Error).message.split('\n')[0]}`;
          }
        }, options.onProgress && ((done) => options.onProgress!(c0 + done, files.length)));
        let ok = 0;
        for (let k = 0; k < count; k++) if (failure[c0 + k] === undefined) decoded.copyWithin(ok++ * per, k * per, (k + 1) * per);
        sink.append(ok === count ? decoded : decoded.subarray(0, ok * per));
      }
      const keep: number[] = [];
      const skipped = listing.skipped.slice();
      for (let i = 0; i < files.length; i++) {
        if (failure[i] === undefined) keep.push(i);
        else skipped.push({ path: files[i].path, reason: failure[i]! });
      }
      return {
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

function shardListing(listing: Listing, shard: Shard): Listing {
  const [a, b] = shardRange(listing.files.length, shard);
  return { ...listing, files: listing.files.slice(a, b) };
}
