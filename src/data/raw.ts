// Sources that already hold raw pixels (IDX, CIFAR binary): every record becomes one image of the target shape.
// Records are read by index (from the file, by offset, where the format allows), so converting a source holds one
// chunk of images, not the source.

import { convertRaw, forEachBounded, rawNeedsSharp, type Target } from './decode.js';

export interface RawRecords {
  n: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Writes record i as HWC into `hwc` (height*width*channels bytes). */
  read(i: number, hwc: Uint8Array): void;
  /** Releases the file it reads, if any. */
  close?(): void;
}

/** Receives decoded images in order, a chunk at a time ([k, channels, size, size]). */
export interface ImageSink {
  append(images: Uint8Array): void;
}

/** Images converted per chunk: one chunk of decoded images is what building a set holds at a time. */
export const DECODE_CHUNK = 256;

/** Records [start, end) as [end - start, channels, size, size]; through sharp only when the shape must change. */
export async function rawRange(records: RawRecords, target: Target, start: number, end: number, concurrency: number,
  onDone?: (done: number) => void): Promise<Uint8Array> {
  const { height, width, channels } = records;
  const per = target.channels * target.size * target.size;
  const recordBytes = height * width * channels;
  const out = new Uint8Array((end - start) * per);
  if (!rawNeedsSharp(height, width, channels, target)) {
    const hwc = new Uint8Array(recordBytes);
    for (let i = start; i < end; i++) {
      records.read(i, hwc);
      await convertRaw(hwc, height, width, channels, target, out, (i - start) * per);
    }
    onDone?.(end - start);
    return out;
  }
  await forEachBounded(end - start, concurrency, async (k) => {
    // sharp keeps a reference to its input until it finishes, so each call needs its own buffer.
    const hwc = new Uint8Array(recordBytes);
    records.read(start + k, hwc);
    await convertRaw(hwc, height, width, channels, target, out, k * per);
  }, onDone);
  return out;
}

/** Every record, as [channels, size, size], to `sink` in order, a chunk at a time. */
export async function rawImages(
  records: RawRecords,
  target: Target,
  concurrency: number,
  sink: ImageSink,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const { n } = records;
  for (let c0 = 0; c0 < n; c0 += DECODE_CHUNK) {
    const end = Math.min(n, c0 + DECODE_CHUNK);
    sink.append(await rawRange(records, target, c0, end, concurrency, onProgress && ((done) => onProgress(c0 + done, n))));
  }
}
