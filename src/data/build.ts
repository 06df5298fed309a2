// Building a planned set: into the decoded-image cache file, whose images the set then reads by offset, or into
// memory (no cache folder, or a disk that refuses the cache).

import { WriteError } from '../artifacts/files.js';
import { CacheWriter } from './cache.js';
import type { Plan, SetMeta } from './plan.js';
import { MemoryStore } from './store.js';
import type { ImageSet, Logger } from './types.js';

/** Unlabeled use of a labeled source: the labels become hidden, kept only to score pseudo-labels. */
export function hideLabels(set: SetMeta): void {
  if (set.labels.some((l) => l >= 0)) {
    set.hiddenLabels = set.labels;
    set.labels = new Int32Array(set.n).fill(-1);
  }
}

export interface BuildOptions { size: number; channels: 1 | 3; labeled: boolean }

export async function buildInMemory(plan: Plan, { size, channels, labeled }: BuildOptions): Promise<ImageSet> {
  const chunks: Uint8Array[] = [];
  const meta = await plan.build({ append: (b) => chunks.push(b) });
  const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  const set = { ...meta, images: new MemoryStore(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), channels, size) };
  if (!labeled) hideLabels(set);
  return set;
}

/**
 * Decodes into the cache file, a chunk at a time, and returns the set reading it: memory holds one chunk while
 * decoding. When the disk refuses the file (full, read-only) the set is decoded into memory instead, with a warning.
 */
export async function buildCached(plan: Plan, file: string, options: BuildOptions, log: Logger): Promise<ImageSet> {
  const fallBack = (e: unknown): Promise<ImageSet> => {
    if (!(e instanceof WriteError)) throw e;
    log(`warning: ${e.message}; continuing without the decoded-image cache (the images are decoded into memory now, and again next time)`);
    return buildInMemory(plan, options);
  };
  let writer: CacheWriter;
  try {
    writer = new CacheWriter(file, options.channels, options.size);
  } catch (e) {
    return fallBack(e);
  }
  let meta: SetMeta;
  try {
    meta = await plan.build(writer);
  } catch (e) {
    writer.abort();
    return fallBack(e);
  }
  // The cache holds the labels as the set uses them (unlabeled use: hidden).
  if (!options.labeled) hideLabels(meta);
  try {
    return { ...meta, images: writer.finish(meta) };
  } catch (e) {
    return fallBack(e);
  }
}
