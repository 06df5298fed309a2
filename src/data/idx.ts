// IDX files (the MNIST family's format): a 4-byte magic (0, 0, type, number of dimensions), one big-endian uint32
// per dimension, then the data. Only unsigned bytes (type 0x08) occur in image datasets, so only they are read.
// Files may be gzipped (Debian ships them so); that is detected from the content, not the name.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from './types.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array; // row-major, product(dims) bytes
}

export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`${name}: not an IDX file (bad magic number)`);
  }
  if (bytes[2] !== 0x08) {
    throw new DataError(`${name}: IDX element type 0x${bytes[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  }
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = 4 + 4 * rank;
  if (rank < 1 || bytes.length < header) throw new DataError(`${name}: truncated IDX header`);
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < header + count) {
    throw new DataError(`${name}: truncated IDX file (${bytes.length - header} data bytes, header promises ${count})`);
  }
  return { dims, data: bytes.subarray(header, header + count) };
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
export function idxImages(arr: IdxArray, name: string): { n: number; height: number; width: number; channels: 1 | 3 } {
  const [n, height, width, channels = 1] = arr.dims;
  if ((arr.dims.length !== 3 && arr.dims.length !== 4) || (channels !== 1 && channels !== 3)) {
    throw new DataError(`${name}: IDX images must be [n, rows, cols] or [n, rows, cols, 3], got [${arr.dims.join(', ')}]`);
  }
  return { n, height, width, channels };
}
