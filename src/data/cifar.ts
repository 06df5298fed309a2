// CIFAR binary batches. CIFAR-10 records are 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
// each row-major 32×32); CIFAR-100 records carry 2 label bytes (coarse, fine) and we use the fine label.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RawRecords } from './raw.js';
import { DataError } from './types.js';

export type CifarKind = 10 | 100;

const PIXELS = 3 * 32 * 32;

/** The batch files a spec names: a file, comma-separated files, or a directory (its training batches). */
export function cifarFiles(target: string, kind: CifarKind): string[] {
  const parts = target.split(',').filter((p) => p.length > 0);
  if (parts.length === 0) throw new DataError(`cifar${kind}-bin: no file or directory given`);
  const files: string[] = [];
  for (const p of parts) {
    if (!existsSync(p)) {
      throw new DataError(
        `cifar${kind}-bin: ${p} does not exist; give the folder of the extracted "CIFAR-${kind} binary version" or one batch file`,
      );
    }
    if (statSync(p).isDirectory()) {
      const pattern = kind === 10 ? /^data_batch_\d+\.bin$/ : /^train\.bin$/;
      const found = readdirSync(p).filter((f) => pattern.test(f)).sort();
      if (found.length === 0) {
        throw new DataError(
          `cifar${kind}-bin: ${p} holds no ${kind === 10 ? 'data_batch_*.bin' : 'train.bin'}; for the test split name the file (${kind === 10 ? 'test_batch.bin' : 'test.bin'})`,
        );
      }
      files.push(...found.map((f) => join(p, f)));
    } else {
      files.push(p);
    }
  }
  return files;
}

/** Class names from the meta file beside the batches, or undefined when there is none. */
export function cifarClasses(files: string[], kind: CifarKind): string[] | undefined {
  const meta = join(dirname(files[0]), kind === 10 ? 'batches.meta.txt' : 'fine_label_names.txt');
  if (existsSync(meta)) {
    const names = readFileSync(meta, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === kind) return names;
  }
  return undefined;
}

export interface CifarData {
  records: RawRecords;
  labels: Int32Array;
  paths: string[];
}

export function readCifar(files: string[], kind: CifarKind): CifarData {
  const labelBytes = kind === 10 ? 1 : 2;
  const recordSize = labelBytes + PIXELS;
  const buffers = files.map((f) => {
    const b = readFileSync(f);
    if (b.length === 0 || b.length % recordSize !== 0) {
      throw new DataError(
        `${f}: ${b.length} bytes is not a whole number of CIFAR-${kind} records (${recordSize} bytes each); the file is truncated or is not a CIFAR-${kind} binary batch`,
      );
    }
    return b;
  });
  const n = buffers.reduce((s, b) => s + b.length / recordSize, 0);
  const labels = new Int32Array(n);
  const paths = new Array<string>(n);
  const where: { buf: Uint8Array; offset: number }[] = [];
  let i = 0;
  for (let f = 0; f < files.length; f++) {
    const b = buffers[f];
    const count = b.length / recordSize;
    for (let k = 0; k < count; k++, i++) {
      const offset = k * recordSize;
      const label = b[offset + labelBytes - 1];
      if (label >= kind) throw new DataError(`${files[f]}: record ${k} has label ${label}, outside 0..${kind - 1}`);
      labels[i] = label;
      paths[i] = `${files[f]}#${k}`;
      where.push({ buf: b, offset: offset + labelBytes });
    }
  }
  const records: RawRecords = {
    n,
    height: 32,
    width: 32,
    channels: 3,
    read(idx, hwc) {
      const { buf, offset } = where[idx];
      const plane = 1024;
      for (let p = 0; p < plane; p++) {
        hwc[3 * p] = buf[offset + p];
        hwc[3 * p + 1] = buf[offset + plane + p];
        hwc[3 * p + 2] = buf[offset + 2 * plane + p];
      }
    },
  };
  return { records, labels, paths };
}
