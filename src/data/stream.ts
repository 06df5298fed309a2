// Streaming a source for pseudo-labeling: the listing is held (paths only), images are decoded one bounded batch at
// a time, on a worker thread for image files so that decoding the next batch overlaps inference on this one.
//
// Image folders and CSV manifests stream through a decoding worker; IDX and CIFAR sources are read by record offset
// (a gzipped IDX file is decompressed into memory first) and converted batch by batch the same way.

import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { DECODE_CONCURRENCY, type Target } from './decode.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { PathList } from './folder.js';
import type { ListReply } from './list-worker.js';
import { listManifest } from './manifest.js';
import type { Plan } from './plan.js';
import { rawImages, rawRange } from './raw.js';
import { planSource } from './source.js';
import { canonicalSpec, splitSpec } from './spec.js';
import { DataError } from './types.js';

/** One batch of items [start, end): the images that decoded, in order, and why the others did not. */
export interface DecodedBatch {
  start: number;
  end: number;
  images: Uint8Array; // [decoded, channels, size, size]
  /** Per item of the range: null when decoded, else the reason it could not be. */
  failures: (string | null)[];
}

export interface ItemSource {
  spec: string;
  /** The spec with paths made absolute. */
  resolved: string;
  /** Items in the whole input (every shard's). */
  total: number;
  /** sha256 of the whole listing (folders: relative paths, sizes, mtimes; single-file sources: the decoded pixels). */
  fingerprint: string;
  /** Warning lines from listing (empty folders). */
  warnings: string[];
  /** What a row calls item i: its path, or an id such as 'mnist:test#12'. */
  id(i: number): string;
  /** Decodes items [start, end). At most one call is in flight per source. */
  read(start: number, end: number): Promise<DecodedBatch>;
  close(): Promise<void>;
}

export async function openItems(spec: string, target: Target): Promise<ItemSource> {
  const { scheme, rest } = splitSpec(spec);
  if (scheme === 'folder' || scheme === 'csv') {
    let paths: { length: number; get(i: number): string };
    let known: Map<number, string>;
    let fingerprint: string;
    let warnings: string[] = [];
    if (scheme === 'folder') {
      if (!statSync(rest, { throwIfNoEntry: false })) {
        throw new DataError(`--input ${spec} not found; give a folder of images, a .csv manifest with a path column, or a built-in source such as mnist:test`);
      }
      const l = await listInWorker(rest);
      paths = new PathList(rest, l.bytes, l.offsets);
      fingerprint = l.fingerprint;
      known = new Map(l.reasons);
      warnings = l.warnings;
    } else {
      const l = await listManifest(rest, false);
      const list = l.files.map((f) => f.path);
      paths = { length: list.length, get: (i) => list[i] };
      known = new Map();
      const h = createHash('sha256');
      l.files.forEach((f, i) => {
        if (f.bytes === 0) known.set(i, 'empty file (0 bytes)');
        h.update(`${f.path}\0${f.bytes}\0${Math.floor(f.mtimeMs)}\n`);
      });
      fingerprint = h.digest('hex');
    }
    return fileItems(spec, paths, known, fingerprint, warnings, target);
  }
  return rawItems(spec, await planSource(spec, { ...target, labeled: false }), target);
}

/**
 * Single-file sources (IDX, CIFAR): their records read by index and converted batch by batch. The fingerprint is
 * the sha256 of every converted image, as before streaming: one pass over the records, a chunk at a time.
 */
async function rawItems(spec: string, plan: Plan, target: Target): Promise<ItemSource> {
  if (!plan.open) throw new DataError(`--input ${spec}: this source cannot be read by index`);
  const src = plan.open();
  const { records } = src;
  try {
    const h = createHash('sha256').update(`${records.n}\0`);
    await rawImages(records, target, DECODE_CONCURRENCY, { append: (b) => h.update(b) });
    const fingerprint = h.digest('hex');
    return {
      spec, resolved: canonicalSpec(spec), total: records.n, fingerprint, warnings: [],
      id: (i) => src.id(i),
      read: async (start, end) => ({ start, end, images: await rawRange(records, target, start, end, DECODE_CONCURRENCY),
        failures: new Array(end - start).fill(null) }),
      close: async () => { records.close?.(); },
    };
  } catch (e) {
    records.close?.();
    throw e;
  }
}

/** listDumpFolder on a thread of its own (list-worker.ts), so its garbage leaves with the thread. */
function listInWorker(dir: string): Promise<Extract<ListReply, { bytes: Uint8Array }>> {
  return new Promise((done, fail) => {
    const w = new Worker(new URL('./list-worker.js', import.meta.url), { workerData: dir });
    w.once('message', (r: ListReply) => {
      void w.terminate();
      if ('error' in r) fail(new DataError(r.error));
      else done(r);
    });
    w.once('error', fail);
  });
}

function fileItems(spec: string, paths: { length: number; get(i: number): string }, known: Map<number, string>, fingerprint: string, warnings: string[],
  target: Target): ItemSource {
  let worker: Worker | undefined;
  let next = 0;
  const pending = new Map<number, { done: (r: DecodeReply) => void; fail: (e: Error) => void }>();
  const start = (): Worker => {
    const w = new Worker(new URL('./decode-worker.js', import.meta.url));
    w.on('message', (r: DecodeReply) => { pending.get(r.id)?.done(r); pending.delete(r.id); });
    w.on('error', (e) => { for (const p of pending.values()) p.fail(e); pending.clear(); });
    return w;
  };
  return {
    spec, resolved: canonicalSpec(spec), total: paths.length, fingerprint, warnings,
    id: (i) => paths.get(i),
    read(s, e) {
      worker ??= start();
      const id = next++;
      const req: DecodeRequest = {
        id, paths: Array.from({ length: e - s }, (_, k) => paths.get(s + k)), target, concurrency: DECODE_CONCURRENCY,
        known: Array.from({ length: e - s }, (_, k) => known.get(s + k) ?? null),
      };
      return new Promise((done, fail) => {
        pending.set(id, { done: (r) => done({ start: s, end: e, images: r.images, failures: r.failures }), fail });
        worker!.postMessage(req);
      });
    },
    close: async () => { await worker?.terminate(); worker = undefined; },
  };
}

