// IDX files (the MNIST family's format): a 4-byte magic (0, 0, type, number of dimensions), one big-endian uint32
// per dimension, then the data. Only unsigned bytes (type 0x08) occur in image datasets, so only they are read.
// Files may be gzipped (Debian ships them so); that is detected from the content, not the name. Plain image files
// are read by offset, a record at a time; a gzipped one is decompressed into memory first (gzip has no offsets).

import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { checkClasses, rawPlan, statFingerprint, type Plan, type PlanOptions } from './plan.js';
import type { RawRecords } from './raw.js';
import { DataError } from './types.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array; // row-major, product(dims) bytes
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The dimensions and the data's offset from an IDX header; `size` is the whole file's (or decompressed) length. */
function parseHeader(head: Uint8Array, size: number, name: string): { dims: number[]; offset: number } {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) throw new DataError(`${name}: not an IDX file (bad magic number)`);
  if (head[2] !== 0x08) {
    throw new DataError(`${name}: IDX element type 0x${head[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  }
  const rank = head[3];
  const offset = 4 + 4 * rank;
  if (rank < 1 || head.length < offset) throw new DataError(`${name}: truncated IDX header`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (size < offset + count) {
    throw new DataError(`${name}: truncated IDX file (${size - offset} data bytes, header promises ${count})`);
  }
  return { dims, offset };
}

export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (isGzip(bytes)) bytes = gunzipSync(bytes);
  const { dims, offset } = parseHeader(bytes, bytes.length, name);
  return { dims, data: bytes.subarray(offset, offset + dims.reduce((a, b) => a * b, 1)) };
}

export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read IDX file ${path}: ${(e as Error).message}`);
  }
  return parseIdx(bytes, path);
}

/** Image tensor [n, rows, cols] (gray) or [n, rows, cols, 3] (colour, channels last) from an IDX file. */
export function idxImages(dims: number[], name: string): { n: number; height: number; width: number; channels: 1 | 3 } {
  const [n, height, width, channels = 1] = dims;
  if ((dims.length !== 3 && dims.length !== 4) || (channels !== 1 && channels !== 3)) {
    throw new DataError(`${name}: IDX images must be [n, rows, cols] or [n, rows, cols, 3], got [${dims.join(', ')}]`);
  }
  return { n, height, width, channels };
}

/** The images of an IDX file as records: read by offset from a plain file, from memory when it is gzipped. */
export function idxRecords(path: string): RawRecords {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new DataError(`cannot read IDX file ${path}: ${(e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(size, 4 + 4 * 255));
    readSync(fd, head, 0, head.length, 0);
    if (isGzip(head)) {
      closeSync(fd);
      const arr = readIdx(path);
      const shape = idxImages(arr.dims, path);
      const bytes = shape.height * shape.width * shape.channels;
      return { ...shape, read: (i, hwc) => hwc.set(arr.data.subarray(i * bytes, (i + 1) * bytes)) };
    }
    const { dims, offset } = parseHeader(head, size, path);
    const shape = idxImages(dims, path);
    const bytes = shape.height * shape.width * shape.channels;
    let open: number | undefined = fd;
    return {
      ...shape,
      read(i, hwc) {
        if (open === undefined) throw new Error(`${path} is closed`);
        if (readSync(open, hwc, 0, bytes, offset + i * bytes) !== bytes) throw new DataError(`${path}: record ${i} cannot be read whole`);
      },
      close() { if (open !== undefined) closeSync(open); open = undefined; },
    };
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed (gzipped) */ }
    throw e;
  }
}

/** An IDX pair (images, optional labels) as a source; `classes` when the format fixes them (MNIST's digits). */
export function idxPlan(imagesFile: string, labelsFile: string | undefined, classes: string[] | undefined, idPrefix: string,
  options: PlanOptions): Plan {
  if (options.labeled && !labelsFile) {
    throw new DataError(`idx:${imagesFile} has no labels file; use idx:IMAGES,LABELS for a labeled source`);
  }
  return rawPlan(statFingerprint(labelsFile ? [imagesFile, labelsFile] : [imagesFile]), () => {
    const records = idxRecords(imagesFile);
    try {
      const labels = new Int32Array(records.n).fill(-1);
      let maxLabel = -1;
      if (labelsFile) {
        const lab = readIdx(labelsFile);
        if (lab.dims.length !== 1 || lab.dims[0] !== records.n) {
          throw new DataError(`${labelsFile}: expected ${records.n} labels to match ${imagesFile}, got shape [${lab.dims.join(', ')}]`);
        }
        for (let i = 0; i < records.n; i++) {
          labels[i] = lab.data[i];
          if (lab.data[i] > maxLabel) maxLabel = lab.data[i];
        }
      }
      return { records, labels, classes: checkClasses(idPrefix, classes, options.classes, maxLabel + 1), id: (i) => `${idPrefix}#${i}` };
    } catch (e) {
      records.close?.();
      throw e;
    }
  }, options);
}
