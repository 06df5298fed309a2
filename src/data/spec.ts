// Naming a source: one string says which format and where (the table in source.ts), and shards slice its items.

import { resolve } from 'node:path';
import { DataError } from './types.js';

const SCHEMES = new Set(['mnist', 'fashion-mnist', 'idx', 'cifar10-bin', 'cifar100-bin', 'csv', 'folder']);

/** The format and the rest of a spec: `scheme:rest`, a path ending in .csv (a manifest), or any other path (a folder). */
export function splitSpec(spec: string): { scheme: string; rest: string } {
  const m = /^([a-z0-9-]+):(.*)$/.exec(spec);
  if (m && SCHEMES.has(m[1])) return { scheme: m[1], rest: m[2] };
  if (spec.toLowerCase().endsWith('.csv')) return { scheme: 'csv', rest: spec };
  return { scheme: 'folder', rest: spec };
}

/** The spec with any path made absolute, so the same data named from two folders shares a cache entry. */
export function canonicalSpec(spec: string): string {
  const { scheme, rest } = splitSpec(spec);
  if (scheme === 'mnist' || scheme === 'fashion-mnist') return spec;
  return `${scheme}:${rest.split(',').map((p) => resolve(p)).join(',')}`;
}

export interface Shard { index: number; count: number }

/** [start, end) of shard `index` of `count` over n items: contiguous, sizes differ by at most one. */
export function shardRange(n: number, shard: Shard): [number, number] {
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new DataError(`shard ${index}/${count} is not valid; use i/N with 0 ≤ i < N, e.g. --shard 0/4`);
  }
  return [Math.floor((n * index) / count), Math.floor((n * (index + 1)) / count)];
}
