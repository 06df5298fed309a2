// Classification with trained weights through eval.onnx: uint8 images in, logits out, in chunks (the graph's batch
// dimension is symbolic), so evaluation, the gate and pseudo-labeling share one code path.
import { Artifacts } from '../artifacts/load.js';
import { Device, Session } from '../runtime/session.js';
import { HostTensor, hostTensor } from '../runtime/tensor.js';
import { type ImageStore, readRange } from '../data/store.js';
import type { Float } from './checkpoint.js';

export class Classifier {
  private constructor(private readonly session: Session, private readonly params: Record<string, HostTensor>,
    readonly channels: number, readonly size: number, readonly classes: number) {}

  static async create(a: Artifacts, weights: Map<string, Float>, opts: { device?: Device; threads?: number } = {}): Promise<Classifier> {
    const session = await Session.create(a.path(a.manifest.graphs.eval.file), { device: opts.device, threads: opts.threads ?? undefined });
    const c = new Classifier(session, {}, a.cfg.channels, a.cfg.imageSize, a.cfg.classes);
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

  /** Logits [n, K] for the first n images of a store, read `chunk` at a time (only one chunk is held). */
  async logits(images: ImageStore, n: number, chunk = 256, onProgress?: (done: number) => void): Promise<Float32Array> {
    if (images.n < n) throw new Error(`expected ${n} images, the store has ${images.n}`);
    if (images.channels !== this.channels || images.size !== this.size) {
      throw new Error(`images are ${images.channels}×${images.size}×${images.size}, the model takes ${this.channels}×${this.size}×${this.size}`);
    }
    const out = new Float32Array(n * this.classes);
    for (let i = 0; i < n; i += chunk) {
      const b = Math.min(chunk, n - i);
      const x = hostTensor('uint8', [b, this.channels, this.size, this.size], readRange(images, i, i + b));
      const r = await this.session.run({ ...this.params, images: x });
      out.set(Float32Array.from(r.logits.data as Float32Array | Float64Array), i * this.classes);
      onProgress?.(i + b);
    }
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }
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
