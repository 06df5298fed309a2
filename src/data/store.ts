// Image stores: a set's decoded images, read by index. Every consumer (training batches, validation, evaluation,
// pseudo-labeling, embeddings, reports) asks a store for the images of one batch and never holds the whole set, so
// the memory images take is what a few batches need when the store is a file.
//
//   MemoryStore  one Uint8Array [n, C, S, S] (no cache folder, or images decoded on the fly)
//   FileStore    a region of a file read by offset (the decoded-image cache, cache.ts): positional reads on one fd;
//                the kernel's page cache, not this process, keeps what is read often
//   views        a subset by index list, and a concatenation: index arithmetic over other stores, no copies

import { closeSync, readSync } from 'node:fs';

export interface ImageStore {
  readonly n: number;
  readonly channels: number;
  readonly size: number;
  /** The images at `indices`, in that order, as [indices.length, C, S, S] (into `out` when given). */
  read(indices: ArrayLike<number>, out?: Uint8Array): Uint8Array;
}

export function bytesPerImage(s: Pick<ImageStore, 'channels' | 'size'>): number {
  return s.channels * s.size * s.size;
}

/** Images [start, end) of a store, in order. */
export function readRange(store: ImageStore, start: number, end: number, out?: Uint8Array): Uint8Array {
  const idx = new Int32Array(end - start);
  for (let k = 0; k < idx.length; k++) idx[k] = start + k;
  return store.read(idx, out);
}

/** Every image of a store in one array (small sets and tests only: this is the whole set in memory). */
export function readAll(store: ImageStore): Uint8Array {
  return readRange(store, 0, store.n);
}

function output(store: ImageStore, count: number, out: Uint8Array | undefined): Uint8Array {
  const bytes = count * bytesPerImage(store);
  if (out && out.length < bytes) throw new RangeError(`out holds ${out.length} bytes, ${count} images need ${bytes}`);
  return out ?? new Uint8Array(bytes);
}

function checkIndex(i: number, n: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`image index ${i} outside [0, ${n})`);
}

/**
 * Runs of consecutive indices: calls `copy(from, count, at)` once per run, so a range (evaluation reads images in
 * order) is one read and a shuffled batch is one read per image.
 */
function forEachRun(indices: ArrayLike<number>, n: number, copy: (from: number, count: number, at: number) => void): void {
  for (let k = 0; k < indices.length;) {
    const first = indices[k];
    checkIndex(first, n);
    let len = 1;
    while (k + len < indices.length && indices[k + len] === first + len) len++;
    checkIndex(first + len - 1, n);
    copy(first, len, k);
    k += len;
  }
}

export class MemoryStore implements ImageStore {
  readonly n: number;
  constructor(readonly bytes: Uint8Array, readonly channels: number, readonly size: number) {
    const per = bytesPerImage(this);
    if (bytes.length % per !== 0) throw new RangeError(`${bytes.length} bytes are not whole images of ${per} bytes`);
    this.n = bytes.length / per;
  }

  read(indices: ArrayLike<number>, out?: Uint8Array): Uint8Array {
    const per = bytesPerImage(this);
    const dst = output(this, indices.length, out);
    forEachRun(indices, this.n, (from, count, at) => dst.set(this.bytes.subarray(from * per, (from + count) * per), at * per));
    return dst;
  }
}

/** readSync moves at most 2 GiB per call. */
const MAX_READ = 1 << 30;

/** n images stored back to back in `file` from byte `offset`. The fd stays open until close(). */
export class FileStore implements ImageStore {
  #fd: number | undefined;

  constructor(readonly file: string, fd: number, readonly offset: number, readonly n: number, readonly channels: number, readonly size: number) {
    this.#fd = fd;
  }

  read(indices: ArrayLike<number>, out?: Uint8Array): Uint8Array {
    const fd = this.#fd;
    if (fd === undefined) throw new Error(`the image store of ${this.file} is closed`);
    const per = bytesPerImage(this);
    const dst = output(this, indices.length, out);
    forEachRun(indices, this.n, (from, count, at) => {
      const want = count * per;
      for (let done = 0; done < want;) {
        const got = readSync(fd, dst, at * per + done, Math.min(MAX_READ, want - done), this.offset + from * per + done);
        if (got === 0) throw new Error(`${this.file} ended before image ${from + Math.floor(done / per)}; it was cut short while in use`);
        done += got;
      }
    });
    return dst;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** The images of `base` at `indices` (a view: reads go to `base`). */
export class SubsetStore implements ImageStore {
  readonly channels: number;
  readonly size: number;
  readonly base: ImageStore;
  private readonly map: Int32Array;
  private scratch = new Int32Array(0);

  constructor(base: ImageStore, indices: ArrayLike<number>) {
    for (let k = 0; k < indices.length; k++) checkIndex(indices[k], base.n);
    // A subset of a subset maps straight to the store below.
    if (base instanceof SubsetStore) {
      this.base = base.base;
      this.map = Int32Array.from(indices, (i) => base.map[i]);
    } else {
      this.base = base;
      this.map = Int32Array.from(indices);
    }
    this.channels = base.channels;
    this.size = base.size;
  }

  get n(): number { return this.map.length; }

  read(indices: ArrayLike<number>, out?: Uint8Array): Uint8Array {
    if (this.scratch.length < indices.length) this.scratch = new Int32Array(indices.length);
    const mapped = this.scratch.subarray(0, indices.length);
    for (let k = 0; k < indices.length; k++) {
      checkIndex(indices[k], this.map.length);
      mapped[k] = this.map[indices[k]];
    }
    return this.base.read(mapped, out);
  }
}

/** Stores of the same image shape, one after another (a view). */
export class ConcatStore implements ImageStore {
  readonly n: number;
  readonly channels: number;
  readonly size: number;
  private readonly starts: number[];

  constructor(readonly parts: ImageStore[]) {
    if (parts.length === 0) throw new RangeError('a concatenation needs at least one store');
    const { channels, size } = parts[0];
    for (const p of parts) {
      if (p.channels !== channels || p.size !== size) {
        throw new RangeError(`cannot join images of ${p.channels}×${p.size}×${p.size} to ${channels}×${size}×${size}`);
      }
    }
    this.channels = channels;
    this.size = size;
    this.starts = [];
    let n = 0;
    for (const p of parts) { this.starts.push(n); n += p.n; }
    this.n = n;
  }

  read(indices: ArrayLike<number>, out?: Uint8Array): Uint8Array {
    const per = bytesPerImage(this);
    const dst = output(this, indices.length, out);
    // Consecutive indices that fall in one part go to it in one call.
    for (let k = 0; k < indices.length;) {
      checkIndex(indices[k], this.n);
      const p = this.partOf(indices[k]);
      const lo = this.starts[p];
      const hi = lo + this.parts[p].n;
      let len = 1;
      while (k + len < indices.length && indices[k + len] >= lo && indices[k + len] < hi) len++;
      const local = new Int32Array(len);
      for (let j = 0; j < len; j++) local[j] = indices[k + j] - lo;
      this.parts[p].read(local, dst.subarray(k * per, (k + len) * per));
      k += len;
    }
    return dst;
  }

  private partOf(i: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
