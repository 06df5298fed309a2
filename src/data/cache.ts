// The decoded-image cache: one file per (source, size, channels, file list) so later runs skip decoding entirely.
// Layout: magic "SSMAEIC2", uint32 LE header length, the sha256 (32 bytes) of everything after it, JSON header,
// labels (int32 LE × n), hidden labels (int32 LE × n, only when present), images (uint8). Written whole to a
// temporary file, synced and renamed, so a crash leaves either the old cache or none. When opened it is checked
// (magic, size against its header, sha256): a damaged file is reported, never trained on, and rebuilt.

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../artifacts/files.js';
import type { ImageSet } from './types.js';

const MAGIC = 'SSMAEIC2';
// Bump when decoding changes in a way that alters pixels, so old caches stop matching.
export const DECODER_VERSION = 2;
const CHUNK = 1 << 28; // readSync moves at most 2 GiB per call
const DIGEST = 32;

interface Header {
  n: number;
  channels: number;
  size: number;
  classes: string[];
  paths: string[];
  skipped: { path: string; reason: string }[];
  hidden: boolean;
}

export function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ v: DECODER_VERSION, parts })).digest('hex');
}

/** `<cacheDir>/<readable stem>-<key prefix>.u8cache`. */
export function cacheFile(cacheDir: string, spec: string, key: string): string {
  const stem = spec.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-48).replace(/^_+/, '');
  return join(cacheDir, `${stem}-${key.slice(0, 20)}.u8cache`);
}

function readAll(fd: number, into: Uint8Array, position: number): void {
  for (let off = 0; off < into.length; ) {
    const got = readSync(fd, into, off, Math.min(CHUNK, into.length - off), position + off);
    if (got === 0) throw new DamagedCache('shorter than its header says');
    off += got;
  }
}

function int32Bytes(a: Int32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setInt32(4 * i, a[i], true);
  return out;
}

function fromInt32Bytes(b: Uint8Array): Int32Array {
  const out = new Int32Array(b.length / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
  return out;
}

class DamagedCache extends Error {}

/** Writes the cache file whole or not at all (a WriteError names it when the disk refuses). */
export function writeCache(file: string, set: ImageSet): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const header: Header = {
    n: set.n,
    channels: set.channels,
    size: set.size,
    classes: set.classes,
    paths: set.paths,
    skipped: set.skipped,
    hidden: set.hiddenLabels !== undefined,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const body = [json, int32Bytes(set.labels), ...(set.hiddenLabels ? [int32Bytes(set.hiddenLabels)] : []), set.images];
  const hash = createHash('sha256');
  for (const b of body) hash.update(b);
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, MAGIC.length);
  writeFileAtomic(file, [prefix, hash.digest(), ...body]);
}

export type CacheRead = { set: ImageSet } | { damaged: string } | undefined;

/**
 * The cached set; `damaged` (why) when the file is there but fails a check (then it must be rebuilt); undefined
 * when there is none, or it is a cache of another format version (rebuilt silently).
 */
export function readCache(file: string): CacheRead {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const prefix = new Uint8Array(MAGIC.length + 4 + DIGEST);
    readAll(fd, prefix, 0);
    const magic = Buffer.from(prefix.subarray(0, MAGIC.length)).toString('latin1');
    if (magic !== MAGIC) return magic.startsWith('SSMAEIC') ? undefined : { damaged: 'it does not start like a cache file' };
    const jsonLength = Buffer.from(prefix).readUInt32LE(MAGIC.length);
    const want = Buffer.from(prefix.subarray(MAGIC.length + 4));
    if (prefix.length + jsonLength > st.size) return { damaged: `its header runs past the end of the file (${st.size} bytes)` };
    const json = new Uint8Array(jsonLength);
    readAll(fd, json, prefix.length);
    const hash = createHash('sha256').update(json);
    let h: Header;
    try {
      h = JSON.parse(Buffer.from(json).toString('utf8')) as Header;
    } catch {
      return { damaged: 'its header is not valid JSON' };
    }
    let pos = prefix.length + jsonLength;
    const imageBytes = h.n * h.channels * h.size * h.size;
    const expected = pos + 4 * h.n * (h.hidden ? 2 : 1) + imageBytes;
    if (!Number.isFinite(expected) || st.size !== expected) return { damaged: `it is ${st.size} bytes, its header says ${expected}` };
    const labelBytes = new Uint8Array(4 * h.n);
    readAll(fd, labelBytes, pos);
    hash.update(labelBytes);
    pos += labelBytes.length;
    const set: ImageSet = {
      images: new Uint8Array(imageBytes),
      labels: fromInt32Bytes(labelBytes),
      n: h.n,
      channels: h.channels,
      size: h.size,
      classes: h.classes,
      paths: h.paths,
      skipped: h.skipped,
    };
    if (h.hidden) {
      const hb = new Uint8Array(4 * h.n);
      readAll(fd, hb, pos);
      hash.update(hb);
      pos += hb.length;
      set.hiddenLabels = fromInt32Bytes(hb);
    }
    readAll(fd, set.images, pos);
    hash.update(set.images);
    if (!hash.digest().equals(want)) return { damaged: 'its contents do not match the sha256 it was written with' };
    return { set };
  } catch (e) {
    return { damaged: e instanceof DamagedCache ? e.message : `it cannot be read (${(e as Error).message})` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
