// The decoded-image cache: one file per (source, size, channels, file list) so later runs skip decoding, and the
// file itself is the training set's image store, read by offset (store.ts FileStore): a set larger than memory
// trains with the images on disk.
//
// Layout (v3): a 64-byte prefix — magic "SSMAEIC3", uint32 LE JSON length, uint32 0, uint64 LE offset of the JSON,
// zeros — then the images (uint8, [n, C, S, S], from byte 64), labels (int32 LE × n), hidden labels (int32 LE × n,
// only when present), the JSON header, and last the sha256 of (prefix ‖ sha256 of everything between the prefix and
// this digest). The images are written as they are decoded, so building a cache holds one chunk of images, not the
// set; the prefix and the digest are written at the end. All of it goes to a temporary file that is synced and
// renamed, so a crash leaves the old cache or none. Opening checks the magic, the size against the header, and the
// sha256 (read in chunks): a damaged file is reported, never trained on, and rebuilt.

import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { asWriteError } from '../artifacts/files.js';
import { FileStore } from './store.js';
import type { ImageSet } from './types.js';

const MAGIC = 'SSMAEIC3';
// Bump when decoding changes in a way that alters pixels, so old caches stop matching.
export const DECODER_VERSION = 2;
const PREFIX = 64;
const DIGEST = 32;
const CHUNK = 1 << 24; // bytes per read while checking the sha256

/** What the header records besides the images. */
export interface CacheMeta {
  n: number;
  channels: number;
  size: number;
  classes: string[];
  paths: string[];
  skipped: { path: string; reason: string }[];
  labels: Int32Array;
  hiddenLabels?: Int32Array;
}

/** The header's JSON: the metadata without its label arrays (stored after the images), and whether hidden labels follow. */
type Header = Omit<CacheMeta, 'labels' | 'hiddenLabels'> & { hidden: boolean };

export function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ v: DECODER_VERSION, parts })).digest('hex');
}

/** `<cacheDir>/<readable stem>-<key prefix>.u8cache`. */
export function cacheFile(cacheDir: string, spec: string, key: string): string {
  const stem = spec.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-48).replace(/^_+/, '');
  return join(cacheDir, `${stem}-${key.slice(0, 20)}.u8cache`);
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

function prefixBytes(jsonOffset: number, jsonLength: number): Buffer {
  const p = Buffer.alloc(PREFIX);
  p.write(MAGIC, 0, 'latin1');
  p.writeUInt32LE(jsonLength, 8);
  p.writeBigUInt64LE(BigInt(jsonOffset), 16);
  return p;
}

function finalDigest(prefix: Uint8Array, body: Hash): Buffer {
  return createHash('sha256').update(prefix).update(body.digest()).digest();
}

/**
 * A cache file being written: images are appended in order as they are decoded, then `finish` writes the rest and
 * renames it into place. Any failure removes the temporary file and throws a WriteError naming the cache file.
 */
export class CacheWriter {
  private readonly tmp: string;
  private fd: number | undefined;
  private pos = 0;
  private readonly hash = createHash('sha256');
  private images = 0;

  constructor(readonly file: string, private readonly channels: number, private readonly size: number) {
    this.tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      mkdirSync(dirname(file), { recursive: true });
      this.fd = openSync(this.tmp, 'w');
      this.write(Buffer.alloc(PREFIX), false);
    } catch (e) {
      this.abort();
      throw asWriteError(file, e);
    }
  }

  /** Appends whole images [k, C, S, S]. */
  append(images: Uint8Array): void {
    const per = this.channels * this.size * this.size;
    if (images.length % per !== 0) throw new RangeError(`${images.length} bytes are not whole images of ${per} bytes`);
    this.guard(() => this.write(images));
    this.images += images.length / per;
  }

  /** Writes labels and header, syncs, renames; returns the file's image store (already checked: just written). */
  finish(meta: CacheMeta): FileStore {
    if (meta.n !== this.images) throw new Error(`cache ${this.file}: ${this.images} images written, the header says ${meta.n}`);
    const header: Header = {
      n: meta.n, channels: meta.channels, size: meta.size, classes: meta.classes, paths: meta.paths, skipped: meta.skipped,
      hidden: meta.hiddenLabels !== undefined,
    };
    this.guard(() => {
      this.write(int32Bytes(meta.labels));
      if (meta.hiddenLabels) this.write(int32Bytes(meta.hiddenLabels));
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      const jsonOffset = this.pos;
      this.write(json);
      const prefix = prefixBytes(jsonOffset, json.length);
      this.write(finalDigest(prefix, this.hash), false);
      writeAllAt(this.fd!, prefix, 0);
      fsyncSync(this.fd!);
      closeSync(this.fd!);
      this.fd = undefined;
      renameSync(this.tmp, this.file);
    });
    return new FileStore(this.file, openSync(this.file, 'r'), PREFIX, meta.n, meta.channels, meta.size);
  }

  /** Removes the temporary file (after a failure elsewhere). */
  abort(): void {
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* already failing */ }
      this.fd = undefined;
    }
    rmSync(this.tmp, { force: true });
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.abort();
      throw asWriteError(this.file, e);
    }
  }

  private write(b: Uint8Array, hashed = true): void {
    writeAllAt(this.fd!, b, this.pos);
    if (hashed) this.hash.update(b);
    this.pos += b.length;
  }
}

function writeAllAt(fd: number, b: Uint8Array, position: number): void {
  for (let off = 0; off < b.length;) {
    const n = writeSync(fd, b, off, Math.min(1 << 28, b.length - off), position + off);
    if (n <= 0) throw Object.assign(new Error('short write'), { code: 'SHORT' });
    off += n;
  }
}

class DamagedCache extends Error {}

function readExactly(fd: number, into: Uint8Array, position: number): void {
  for (let off = 0; off < into.length;) {
    const got = readSync(fd, into, off, into.length - off, position + off);
    if (got === 0) throw new DamagedCache('shorter than its header says');
    off += got;
  }
}

export type CacheRead = { set: ImageSet } | { damaged: string } | undefined;

/**
 * The cached set, its images a FileStore on the cache file; `damaged` (why) when the file is there but fails a check
 * (then it must be rebuilt); undefined when there is none, or it is a cache of another format version (rebuilt
 * silently).
 */
export function readCache(file: string): CacheRead {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  let fd: number | undefined;
  let keep = false;
  try {
    fd = openSync(file, 'r');
    if (st.size < PREFIX + DIGEST) return { damaged: `it is ${st.size} bytes, shorter than any cache file` };
    const prefix = Buffer.alloc(PREFIX);
    readExactly(fd, prefix, 0);
    const magic = prefix.subarray(0, MAGIC.length).toString('latin1');
    if (magic !== MAGIC) return magic.startsWith('SSMAEIC') ? undefined : { damaged: 'it does not start like a cache file' };
    const jsonLength = prefix.readUInt32LE(8);
    const jsonOffset = Number(prefix.readBigUInt64LE(16));
    if (jsonOffset + jsonLength + DIGEST !== st.size) {
      return { damaged: `it is ${st.size} bytes, its prefix says ${jsonOffset + jsonLength + DIGEST}` };
    }
    // The whole body goes through the sha256, a chunk at a time (the images are not kept: they stay on disk).
    const body = createHash('sha256');
    const buf = new Uint8Array(CHUNK);
    for (let pos = PREFIX; pos < st.size - DIGEST;) {
      const len = Math.min(CHUNK, st.size - DIGEST - pos);
      const part = buf.subarray(0, len);
      readExactly(fd, part, pos);
      body.update(part);
      pos += len;
    }
    const want = Buffer.alloc(DIGEST);
    readExactly(fd, want, st.size - DIGEST);
    if (!finalDigest(prefix, body).equals(want)) return { damaged: 'its contents do not match the sha256 it was written with' };
    const json = Buffer.alloc(jsonLength);
    readExactly(fd, json, jsonOffset);
    let h: Header;
    try {
      h = JSON.parse(json.toString('utf8')) as Header;
    } catch {
      return { damaged: 'its header is not valid JSON' };
    }
    const imageBytes = h.n * h.channels * h.size * h.size;
    if (PREFIX + imageBytes + 4 * h.n * (h.hidden ? 2 : 1) !== jsonOffset) return { damaged: 'its header does not match its layout' };
    const labels = Buffer.alloc(4 * h.n);
    readExactly(fd, labels, PREFIX + imageBytes);
    const set: ImageSet = {
      images: new FileStore(file, fd, PREFIX, h.n, h.channels, h.size),
      labels: fromInt32Bytes(labels),
      n: h.n,
      channels: h.channels,
      size: h.size,
      classes: h.classes,
      paths: h.paths,
      skipped: h.skipped,
    };
    if (h.hidden) {
      const hb = Buffer.alloc(4 * h.n);
      readExactly(fd, hb, PREFIX + imageBytes + 4 * h.n);
      set.hiddenLabels = fromInt32Bytes(hb);
    }
    keep = true;
    return { set };
  } catch (e) {
    return { damaged: e instanceof DamagedCache ? e.message : `it cannot be read (${(e as Error).message})` };
  } finally {
    if (fd !== undefined && !keep) closeSync(fd);
  }
}
