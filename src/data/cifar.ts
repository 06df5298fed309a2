// CIFAR binary batches. CIFAR-10 records are 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
// each row-major 32×32); CIFAR-100 records carry 2 label bytes (coarse, fine) and we use the fine label. Records are
// read by offset from the batch files.

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkClasses, rawPlan, statFingerprint, type Plan, type PlanOptions } from './plan.js';
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

/**
 * The records of CIFAR batch files, read by offset: opening reads only the label bytes (a pass over the files in
 * chunks); pixels are read a record at a time when converted.
 */
export function cifarRecords(files: string[], kind: CifarKind): { records: RawRecords; labels: Int32Array; id(i: number): string } {
  const labelBytes = kind === 10 ? 1 : 2;
  const recordSize = labelBytes + PIXELS;
  const counts = files.map((f) => {
    const size = statSync(f).size;
    if (size === 0 || size % recordSize !== 0) {
      throw new DataError(
        `${f}: ${size} bytes is not a whole number of CIFAR-${kind} records (${recordSize} bytes each); the file is truncated or is not a CIFAR-${kind} binary batch`,
      );
    }
    return size / recordSize;
  });
  const n = counts.reduce((s, c) => s + c, 0);
  const fds = files.map((f) => openSync(f, 'r'));
  const labels = new Int32Array(n);
  const fileOf = new Uint16Array(n);
  const first: number[] = []; // index of each file's first record
  const chunk = Buffer.alloc(recordSize * 1024);
  try {
    let i = 0;
    for (let f = 0; f < files.length; f++) {
      first.push(i);
      for (let k0 = 0; k0 < counts[f]; k0 += 1024) {
        const k1 = Math.min(counts[f], k0 + 1024);
        const got = readSync(fds[f], chunk, 0, (k1 - k0) * recordSize, k0 * recordSize);
        if (got !== (k1 - k0) * recordSize) throw new DataError(`${files[f]}: cannot be read whole (it changed while being read)`);
        for (let k = k0; k < k1; k++, i++) {
          const label = chunk[(k - k0) * recordSize + labelBytes - 1];
          if (label >= kind) throw new DataError(`${files[f]}: record ${k} has label ${label}, outside 0..${kind - 1}`);
          labels[i] = label;
          fileOf[i] = f;
        }
      }
    }
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    throw e;
  }
  const pixels = Buffer.alloc(PIXELS);
  let open = true;
  const records: RawRecords = {
    n,
    height: 32,
    width: 32,
    channels: 3,
    read(idx, hwc) {
      if (!open) throw new Error(`${files.join(', ')}: closed`);
      const f = fileOf[idx];
      const k = idx - first[f];
      readSync(fds[f], pixels, 0, PIXELS, k * recordSize + labelBytes);
      // Planes (1024 red, 1024 green, 1024 blue) to interleaved HWC.
      const plane = 1024;
      for (let p = 0; p < plane; p++) {
        hwc[3 * p] = pixels[p];
        hwc[3 * p + 1] = pixels[plane + p];
        hwc[3 * p + 2] = pixels[2 * plane + p];
      }
    },
    close() {
      if (open) for (const fd of fds) closeSync(fd);
      open = false;
    },
  };
  return { records, labels, id: (i) => `${files[fileOf[i]]}#${i - first[fileOf[i]]}` };
}

/** CIFAR-10/100 binary batches as a source (`rest`: a folder, a file, or files separated by commas). */
export function cifarPlan(kind: CifarKind, rest: string, options: PlanOptions): Plan {
  const files = cifarFiles(rest, kind);
  return rawPlan(statFingerprint(files), () => {
    const names = checkClasses(`cifar${kind}-bin:${rest}`, cifarClasses(files, kind), options.classes, kind);
    return { ...cifarRecords(files, kind), classes: names };
  }, options);
}
