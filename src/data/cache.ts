// The decoded-image cache: one file per (source, size, channels, file list) so later runs skip decoding entirely.
// Layout: magic "SSMAEIC1", uint32 LE header length, JSON header, labels (int32 LE × n), hidden labels (int32 LE
// × n, only when present), images (uint8). Written to a temporary file, synced and renamed, so a crash leaves
// either the old cache or none, never a torn one; a file that fails to parse is treated as absent.

import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSet } from './types.js';

const MAGIC = 'SSMAEIC1';
// Bump when decoding changes in a way that alters pixels, so old caches stop matching.
export const DECODER_VERSION = 2;
const CHUNK = 1 << 28; // readSync/writeSync move at most 2 GiB per call

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

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) {
    off += writeSync(fd, bytes, off, Math.min(CHUNK, bytes.length - off));
  }
}

function readAll(fd: number, into: Uint8Array, position: number): void {
  for (let off = 0; off < into.length; ) {
    const got = readSync(fd, into, off, Math.min(CHUNK, into.length - off), position + off);
    if (got === 0) throw new Error('cache file shorter than its header says');
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
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, MAGIC.length);
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, prefix);
    writeAll(fd, json);
    writeAll(fd, int32Bytes(set.labels));
    if (set.hiddenLabels) writeAll(fd, int32Bytes(set.hiddenLabels));
    writeAll(fd, set.images);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  // Sync the folder too, so the rename itself survives a crash.
  try {
    const dfd = openSync(join(file, '..'), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some filesystems refuse to fsync a directory; the file itself is already durable.
  }
}

/** The cached set, or undefined when the file is absent or unreadable (then it is rebuilt). */
export function readCache(file: string): ImageSet | undefined {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const prefix = new Uint8Array(MAGIC.length + 4);
    readAll(fd, prefix, 0);
    if (Buffer.from(prefix.subarray(0, MAGIC.length)).toString('latin1') !== MAGIC) return undefined;
    const jsonLength = Buffer.from(prefix).readUInt32LE(MAGIC.length);
    const json = new Uint8Array(jsonLength);
    readAll(fd, json, prefix.length);
    const h = JSON.parse(Buffer.from(json).toString('utf8')) as Header;
    let pos = prefix.length + jsonLength;
    const imageBytes = h.n * h.channels * h.size * h.size;
    if (st.size !== pos + 4 * h.n * (h.hidden ? 2 : 1) + imageBytes) return undefined;
    const labelBytes = new Uint8Array(4 * h.n);
    readAll(fd, labelBytes, pos);
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
      pos += hb.length;
      set.hiddenLabels = fromInt32Bytes(hb);
    }
    readAll(fd, set.images, pos);
    return set;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
