// Classification with trained weights through eval.onnx: uint8 images in, logits out, in chunks (the graph's batch
// dimension is symbolic), so evaluation, the gate and pseudo-labeling share one code path.
import { Artifacts } from '../artifacts/load.js';
import { Device, Session } from '../runtime/session.js';
import { HostTensor, hostTensor } from '../runtime/tensor.js';
import { type ImageStore, readRange } from '../data/store.js';
import type { Float } from './checkpoint.js';

/**
 * Test-time augmentation: 'none' classifies each image as it is; 'flip' also classifies its mirror image and averages
 * the two softmax distributions (for data whose mirror image is the same class: photos, not digits or text).
 */
export type Tta = 'none' | 'flip';
export const TTAS: readonly Tta[] = ['none', 'flip'];

export class Classifier {
  private constructor(private readonly session: Session, private readonly params: Record<string, HostTensor>,
    readonly channels: number, readonly size: number, readonly classes: number, readonly tta: Tta) {}

  static async create(a: Artifacts, weights: Map<string, Float>,
    opts: { device?: Device; threads?: number; tta?: Tta } = {}): Promise<Classifier> {
    const session = await Session.create(a.path(a.manifest.graphs.eval.file), { device: opts.device, threads: opts.threads ?? undefined });
    const c = new Classifier(session, {}, a.cfg.channels, a.cfg.imageSize, a.cfg.classes, opts.tta ?? 'none');
    const shapes = new Map(a.manifest.parameters.map((s) => [s.name, s.shape]));
    for (const input of a.manifest.graphs.eval.inputs) {
      if (!input.name.startsWith('p.')) continue;
      const name = input.name.slice(2);
      c.params[input.name] = hostTensor(a.cfg.dtype, shapes.get(name)!, weights.get(name));
    }
    return c;
  }

  /** Replaces the weights (same shapes) without rebuilding the session. */
  setWeights(weights: Map<string, Float>): void {
    for (const key of Object.keys(this.params)) {
      const t = this.params[key];
      this.params[key] = { dtype: t.dtype, dims: t.dims, data: weights.get(key.slice(2))! };
    }
  }

  /**
   * Logits [n, K] for the first n images of a store, read `chunk` at a time (only one chunk is held). With tta 'flip'
   * they are the log of the mean of the image's and its mirror image's softmax, so a softmax of them is that mean.
   */
  async logits(images: ImageStore, n: number, chunk = 256, onProgress?: (done: number) => void): Promise<Float32Array> {
    if (images.n < n) throw new Error(`expected ${n} images, the store has ${images.n}`);
    if (images.channels !== this.channels || images.size !== this.size) {
      throw new Error(`images are ${images.channels}×${images.size}×${images.size}, the model takes ${this.channels}×${this.size}×${this.size}`);
    }
    const out = new Float32Array(n * this.classes);
    for (let i = 0; i < n; i += chunk) {
      const b = Math.min(chunk, n - i);
      const pixels = readRange(images, i, i + b);
      const dims = [b, this.channels, this.size, this.size];
      const r = await this.session.run({ ...this.params, images: hostTensor('uint8', dims, pixels) });
      let l: Float32Array = Float32Array.from(r.logits.data as Float32Array | Float64Array);
      if (this.tta === 'flip') {
        const f = await this.session.run({ ...this.params, images: hostTensor('uint8', dims, mirrored(pixels, this.size)) });
        l = meanSoftmaxLog(l, Float32Array.from(f.logits.data as Float32Array | Float64Array), this.classes);
      }
      out.set(l, i * this.classes);
      onProgress?.(i + b);
    }
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }
}

/** Images [.., S, S] (rows of S pixels) mirrored left to right. */
export function mirrored(pixels: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let row = 0; row < pixels.length; row += size) {
    for (let x = 0; x < size; x++) out[row + x] = pixels[row + size - 1 - x];
  }
  return out;
}

/** Per row of two logit arrays [n, K]: log((softmax(a) + softmax(b)) / 2). */
export function meanSoftmaxLog(a: Float32Array, b: Float32Array, k: number): Float32Array {
  const out = new Float32Array(a.length);
  const p = new Float64Array(k);
  for (let r = 0; r < a.length; r += k) {
    p.fill(0);
    for (const l of [a, b]) {
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, l[r + j]);
      let z = 0;
      for (let j = 0; j < k; j++) z += Math.exp(l[r + j] - max);
      for (let j = 0; j < k; j++) p[j] += Math.exp(l[r + j] - max) / z / 2;
    }
    for (let j = 0; j < k; j++) out[r + j] = Math.log(p[j]);
  }
  return out;
}

/** Argmax and softmax confidence per row of logits [n, K]. */
export function predictions(logits: Float32Array, k: number): { label: Int32Array; conf: Float32Array } {
  const n = logits.length / k;
  const label = new Int32Array(n);
  const conf = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (logits[i * k + j] > max) { max = logits[i * k + j]; best = j; }
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(logits[i * k + j] - max);
    label[i] = best;
    conf[i] = 1 / z;
  }
  return { label, conf };
}

export function accuracyOf(pred: Int32Array, labels: Int32Array): number {
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
  return pred.length ? hit / pred.length : NaN;
}
