// Seeded augmentations on uint8 CHW images, FixMatch-style:
//   weak   = pad-and-random-crop (+ horizontal flip when the data allows it; never for digits or text),
//   strong = RandAugment (n ops at one magnitude, each op's sign drawn at random) followed by cutout.
// Every random choice comes from the caller's Rng, so a batch is a pure function of (images, generator state).
// The hot loop allocates nothing: multi-op work ping-pongs between two module-level scratch buffers.

import type { Rng } from './rng.js';
import { pixelsPerImage, type ImageSet } from './types.js';

export interface Shape {
  channels: number;
  size: number;
}

export interface WeakOptions {
  /** Horizontal flip with probability 1/2; false for data whose mirror image is another class (digits). */
  flip: boolean;
  /** Pixels of padding before the random crop, i.e. the largest shift (default 4, must be < size). */
  pad?: number;
  /** 'reflect' mirrors the border (default); 'zero' fills with black. */
  padMode?: 'reflect' | 'zero';
}

export interface StrongOptions {
  /** Ops applied per image (default 2). */
  n?: number;
  /** Strength on RandAugment's 0..10 scale, 10 = each op's largest setting below (default 10). */
  magnitude?: number;
  /** Cutout square side as a fraction of the image size (default 0.5; 0 disables). */
  cutout?: number;
}

// The largest setting of each op, reached at magnitude 10 (FixMatch's RandAugment ranges).
const MAX_ROTATE_DEG = 30;
const MAX_SHEAR = 0.3;
const MAX_TRANSLATE = 0.3; // fraction of the image size
const MAX_ENHANCE = 0.9; // contrast, brightness, sharpness factors span 1 ± this
const CUTOUT_FILL = 128;

export const STRONG_OPS = [
  'identity',
  'autocontrast',
  'equalize',
  'rotate',
  'solarize',
  'posterize',
  'contrast',
  'brightness',
  'sharpness',
  'shear-x',
  'shear-y',
  'translate-x',
  'translate-y',
] as const;
export type StrongOp = (typeof STRONG_OPS)[number];

function checkShape(src: Uint8Array, dst: Uint8Array, { channels, size }: Shape): number {
  const per = channels * size * size;
  if (src.length !== per || dst.length !== per) {
    throw new RangeError(`image buffers must hold ${channels}×${size}×${size} = ${per} bytes, got ${src.length} and ${dst.length}`);
  }
  return per;
}

/** Weak augmentation from `src` into `dst` (distinct buffers). */
export function weak(src: Uint8Array, dst: Uint8Array, shape: Shape, rng: Rng, opts: WeakOptions): void {
  checkShape(src, dst, shape);
  if (src === dst) throw new RangeError('weak() needs distinct source and destination buffers');
  const { channels: C, size: S } = shape;
  const pad = opts.pad ?? 4;
  if (!Number.isInteger(pad) || pad < 0 || pad >= S) throw new RangeError(`pad must be an integer in [0, ${S}), got ${pad}`);
  const reflect = (opts.padMode ?? 'reflect') === 'reflect';
  const dx = rng.int(2 * pad + 1) - pad;
  const dy = rng.int(2 * pad + 1) - pad;
  const flip = opts.flip && rng.next() < 0.5;
  for (let c = 0; c < C; c++) {
    const plane = c * S * S;
    for (let y = 0; y < S; y++) {
      let sy = y + dy;
      if (sy < 0 || sy >= S) {
        if (!reflect) {
          dst.fill(0, plane + y * S, plane + (y + 1) * S);
          continue;
        }
        sy = sy < 0 ? -sy : 2 * S - 2 - sy;
      }
      const row = plane + sy * S;
      const out = plane + y * S;
      for (let x = 0; x < S; x++) {
        let sx = (flip ? S - 1 - x : x) + dx;
        if (sx < 0 || sx >= S) {
          if (!reflect) {
            dst[out + x] = 0;
            continue;
          }
          sx = sx < 0 ? -sx : 2 * S - 2 - sx;
        }
        dst[out + x] = src[row + sx];
      }
    }
  }
}

let scratchA = new Uint8Array(0);
let scratchB = new Uint8Array(0);
const hist = new Int32Array(256);
const lut = new Uint8Array(256);

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Strong augmentation (RandAugment, then cutout) from `src` into `dst`; they may be the same buffer. */
export function strong(src: Uint8Array, dst: Uint8Array, shape: Shape, rng: Rng, opts: StrongOptions = {}): void {
  const per = checkShape(src, dst, shape);
  const n = opts.n ?? 2;
  const magnitude = opts.magnitude ?? 10;
  const cutout = opts.cutout ?? 0.5;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`strong: n must be a non-negative integer, got ${n}`);
  if (!(magnitude >= 0 && magnitude <= 10)) throw new RangeError(`strong: magnitude must be in [0, 10], got ${magnitude}`);
  if (!(cutout >= 0 && cutout <= 1)) throw new RangeError(`strong: cutout must be in [0, 1], got ${cutout}`);
  if (scratchA.length < per) {
    scratchA = new Uint8Array(per);
    scratchB = new Uint8Array(per);
  }
  let a = scratchA.subarray(0, per);
  let b = scratchB.subarray(0, per);
  a.set(src);
  const f = magnitude / 10;
  for (let k = 0; k < n; k++) {
    const op = STRONG_OPS[rng.int(STRONG_OPS.length)];
    const sign = rng.next() < 0.5 ? -1 : 1;
    if (applyOp(op, f * sign, a, b, shape)) [a, b] = [b, a];
  }
  if (cutout > 0) cut(a, shape, Math.max(1, Math.round(cutout * shape.size)), rng);
  dst.set(a);
}

/**
 * Applies one op at signed strength `s` in [-1, 1] (unsigned ops use |s|) from `a` into `b`.
 * Returns false when it changed `a` in place (or nothing), true when the result is in `b`.
 */
export function applyOp(op: StrongOp, s: number, a: Uint8Array, b: Uint8Array, shape: Shape): boolean {
  const { channels: C, size: S } = shape;
  const m = Math.abs(s);
  switch (op) {
    case 'identity':
      return false;
    case 'autocontrast':
      perChannel(a, C, S, autocontrastLut);
      return false;
    case 'equalize':
      perChannel(a, C, S, equalizeLut);
      return false;
    case 'solarize': {
      const t = 256 - Math.round(256 * m);
      for (let i = 0; i < a.length; i++) if (a[i] >= t) a[i] = 255 - a[i];
      return false;
    }
    case 'posterize': {
      const mask = (0xff << Math.round(4 * m)) & 0xff;
      for (let i = 0; i < a.length; i++) a[i] &= mask;
      return false;
    }
    case 'brightness': {
      const factor = 1 + MAX_ENHANCE * s;
      for (let i = 0; i < a.length; i++) a[i] = clamp255(a[i] * factor);
      return false;
    }
    case 'contrast': {
      const factor = 1 + MAX_ENHANCE * s;
      const mean = meanLuma(a, C, S);
      for (let i = 0; i < a.length; i++) a[i] = clamp255(mean + factor * (a[i] - mean));
      return false;
    }
    case 'sharpness':
      sharpen(a, b, C, S, 1 + MAX_ENHANCE * s);
      return true;
    case 'rotate': {
      const t = (s * MAX_ROTATE_DEG * Math.PI) / 180;
      warp(a, b, C, S, Math.cos(t), Math.sin(t), 0, -Math.sin(t), Math.cos(t), 0);
      return true;
    }
    case 'shear-x':
      warp(a, b, C, S, 1, s * MAX_SHEAR, 0, 0, 1, 0);
      return true;
    case 'shear-y':
      warp(a, b, C, S, 1, 0, 0, s * MAX_SHEAR, 1, 0);
      return true;
    case 'translate-x':
      warp(a, b, C, S, 1, 0, -Math.round(s * MAX_TRANSLATE * S), 0, 1, 0);
      return true;
    case 'translate-y':
      warp(a, b, C, S, 1, 0, 0, 0, 1, -Math.round(s * MAX_TRANSLATE * S));
      return true;
  }
}

/** Builds a 256-entry table from one channel's histogram (in `hist`) into `lut`. */
type LutBuilder = (count: number) => void;

function perChannel(a: Uint8Array, C: number, S: number, build: LutBuilder): void {
  const plane = S * S;
  for (let c = 0; c < C; c++) {
    hist.fill(0);
    for (let i = c * plane; i < (c + 1) * plane; i++) hist[a[i]]++;
    build(plane);
    for (let i = c * plane; i < (c + 1) * plane; i++) a[i] = lut[a[i]];
  }
}

function autocontrastLut(): void {
  let lo = 0;
  let hi = 255;
  while (lo < 255 && hist[lo] === 0) lo++;
  while (hi > 0 && hist[hi] === 0) hi--;
  for (let v = 0; v < 256; v++) lut[v] = hi > lo ? clamp255(((v - lo) * 255) / (hi - lo)) : v;
}

/** PIL's ImageOps.equalize: spread the cumulative histogram, ignoring the last occupied level. */
function equalizeLut(count: number): void {
  let last = 255;
  while (last > 0 && hist[last] === 0) last--;
  const step = Math.floor((count - hist[last]) / 255);
  if (step === 0) {
    for (let v = 0; v < 256; v++) lut[v] = v;
    return;
  }
  let cum = Math.floor(step / 2);
  for (let v = 0; v < 256; v++) {
    lut[v] = Math.min(255, Math.floor(cum / step));
    cum += hist[v];
  }
}

function meanLuma(a: Uint8Array, C: number, S: number): number {
  const plane = S * S;
  let sum = 0;
  if (C === 3) {
    for (let p = 0; p < plane; p++) sum += 0.299 * a[p] + 0.587 * a[plane + p] + 0.114 * a[2 * plane + p];
  } else {
    for (let i = 0; i < a.length; i++) sum += a[i];
    return sum / a.length;
  }
  return sum / plane;
}

/** PIL's sharpness: blend with a 3×3 smoothed copy (centre weight 5, others 1); border pixels stay. */
function sharpen(a: Uint8Array, b: Uint8Array, C: number, S: number, factor: number): void {
  b.set(a);
  for (let c = 0; c < C; c++) {
    const o = c * S * S;
    for (let y = 1; y < S - 1; y++) {
      for (let x = 1; x < S - 1; x++) {
        const i = o + y * S + x;
        let sum = 4 * a[i];
        for (let ky = -1; ky <= 1; ky++) for (let kx = -1; kx <= 1; kx++) sum += a[i + ky * S + kx];
        const smooth = sum / 13;
        b[i] = clamp255(smooth + factor * (a[i] - smooth));
      }
    }
  }
}

/**
 * Inverse-mapped affine warp about the image centre with bilinear sampling; outside is black.
 * Source point for output (x, y), with u = x - centre, v = y - centre:
 *   sx = m00·u + m01·v + m02 + centre,  sy = m10·u + m11·v + m12 + centre.
 */
function warp(a: Uint8Array, b: Uint8Array, C: number, S: number, m00: number, m01: number, m02: number, m10: number, m11: number, m12: number): void {
  const ctr = (S - 1) / 2;
  const plane = S * S;
  for (let y = 0; y < S; y++) {
    const v = y - ctr;
    for (let x = 0; x < S; x++) {
      const u = x - ctr;
      const sx = m00 * u + m01 * v + m02 + ctr;
      const sy = m10 * u + m11 * v + m12 + ctr;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < C; c++) {
        const o = c * plane;
        const p00 = x0 >= 0 && x0 < S && y0 >= 0 && y0 < S ? a[o + y0 * S + x0] : 0;
        const p01 = x0 + 1 >= 0 && x0 + 1 < S && y0 >= 0 && y0 < S ? a[o + y0 * S + x0 + 1] : 0;
        const p10 = x0 >= 0 && x0 < S && y0 + 1 >= 0 && y0 + 1 < S ? a[o + (y0 + 1) * S + x0] : 0;
        const p11 = x0 + 1 >= 0 && x0 + 1 < S && y0 + 1 >= 0 && y0 + 1 < S ? a[o + (y0 + 1) * S + x0 + 1] : 0;
        const top = p00 + fx * (p01 - p00);
        const bottom = p10 + fx * (p11 - p10);
        b[o + y * S + x] = clamp255(top + fy * (bottom - top));
      }
    }
  }
}

/** A side×side gray square centred at a random pixel (clipped at the borders), as in FixMatch's cutout. */
function cut(a: Uint8Array, { channels: C, size: S }: Shape, side: number, rng: Rng): void {
  const cy = rng.int(S);
  const cx = rng.int(S);
  const y0 = Math.max(0, cy - (side >> 1));
  const x0 = Math.max(0, cx - (side >> 1));
  const y1 = Math.min(S, cy - (side >> 1) + side);
  const x1 = Math.min(S, cx - (side >> 1) + side);
  for (let c = 0; c < C; c++) {
    for (let y = y0; y < y1; y++) a.fill(CUTOUT_FILL, c * S * S + y * S + x0, c * S * S + y * S + x1);
  }
}

export type AugmentKind = 'none' | 'weak' | 'strong';

/** The gathered source images of the batch being augmented (reused, like the scratch buffers). */
let gathered = new Uint8Array(0);

export interface AugmentOptions {
  weak: WeakOptions;
  strong?: StrongOptions;
}

/**
 * The images at `indices`, augmented, as one [b, C, H, W] buffer (into `out` when given, to reuse it).
 * 'strong' is weak followed by RandAugment + cutout, the strong view of FixMatch-style training.
 */
export function augmentBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  kind: AugmentKind,
  rng: Rng,
  opts: AugmentOptions,
  out?: Uint8Array,
): Uint8Array {
  const per = pixelsPerImage(set);
  const b = indices.length;
  if (out && out.length !== b * per) throw new RangeError(`out must hold ${b * per} bytes, got ${out.length}`);
  const dst = out ?? new Uint8Array(b * per);
  const shape: Shape = { channels: set.channels, size: set.size };
  for (let k = 0; k < b; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.n) throw new RangeError(`batch index ${i} outside [0, ${set.n})`);
  }
  if (kind === 'none') return set.images.read(indices, dst);
  // The batch's images in one read from the store (a file: one positional read per run of indices), then each is
  // augmented from there into `dst`.
  if (gathered.length < b * per) gathered = new Uint8Array(b * per);
  set.images.read(indices, gathered);
  for (let k = 0; k < b; k++) {
    const src = gathered.subarray(k * per, (k + 1) * per);
    const d = dst.subarray(k * per, (k + 1) * per);
    weak(src, d, shape, rng, opts.weak);
    if (kind === 'strong') strong(d, d, shape, rng, opts.strong);
  }
  return dst;
}
