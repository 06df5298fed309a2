// Sources that already hold raw pixels (IDX, CIFAR binary): every record becomes one image of the target shape.

import { convertRaw, forEachBounded, rawNeedsSharp, type Target } from './decode.js';

export interface RawRecords {
  n: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Writes record i as HWC into `hwc` (height*width*channels bytes). */
  read(i: number, hwc: Uint8Array): void;
}

/** [n, channels, size, size] for all records; through sharp only when the shape must change. */
export async function rawImages(
  records: RawRecords,
  target: Target,
  concurrency: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Uint8Array> {
  const { n, height, width, channels } = records;
  const per = target.channels * target.size * target.size;
  const out = new Uint8Array(n * per);
  const recordBytes = height * width * channels;
  if (!rawNeedsSharp(height, width, channels, target)) {
    const hwc = new Uint8Array(recordBytes);
    for (let i = 0; i < n; i++) {
      records.read(i, hwc);
      await convertRaw(hwc, height, width, channels, target, out, i * per);
      if (onProgress && (i % 1000 === 999 || i === n - 1)) onProgress(i + 1, n);
    }
    return out;
  }
  await forEachBounded(
    n,
    concurrency,
    async (i) => {
      // sharp keeps a reference to its input until it finishes, so each call needs its own buffer.
      const hwc = new Uint8Array(recordBytes);
      records.read(i, hwc);
      await convertRaw(hwc, height, width, channels, target, out, i * per);
    },
    onProgress,
  );
  return out;
}
