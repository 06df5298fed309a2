// Embeddings through the encoder: uint8 images in, one vector per image out (the last hidden state after the final
// norm, on the whole unmasked image; its CLS token or the mean of its patch tokens), in chunks.
import { Artifacts } from '../artifacts/load.js';
import { serialize } from '../graph/serialize.js';
import { buildEmbed, encoderSpecs } from '../models/inference.js';
import { Device, Session } from '../runtime/session.js';
import { HostTensor, hostTensor } from '../runtime/tensor.js';
import { type ImageStore, readRange } from '../data/store.js';
import type { Float } from './checkpoint.js';

export class Embedder {
  private constructor(private readonly session: Session, private readonly params: Record<string, HostTensor>,
    private readonly a: Artifacts, readonly dim: number) {}

  static async create(a: Artifacts, weights: Map<string, Float>, opts: { device?: Device; threads?: number } = {}): Promise<Embedder> {
    const specs = a.manifest.parameters;
    const session = await Session.create(serialize(buildEmbed(a.cfg, specs), 'ssmae embed'), opts);
    const params: Record<string, HostTensor> = {};
    for (const s of encoderSpecs(specs)) params[`p.${s.name}`] = hostTensor(a.cfg.dtype, s.shape, weights.get(s.name)!);
    return new Embedder(session, params, a, a.cfg.preset.dim);
  }

  /** Embeddings [n, D] (float32) of the first n images of a store, read `chunk` at a time. */
  async embed(images: ImageStore, n: number, pool: 'mean' | 'cls', chunk = 256, onProgress?: (done: number) => void): Promise<Float32Array> {
    const { channels: c, imageSize: s } = this.a.cfg;
    const out = new Float32Array(n * this.dim);
    const key = pool === 'cls' ? 'embedding_cls' : 'embedding_mean';
    for (let i = 0; i < n; i += chunk) {
      const b = Math.min(chunk, n - i);
      const r = await this.session.run({ ...this.params, images: hostTensor('uint8', [b, c, s, s], readRange(images, i, i + b)) }, [key]);
      const d = r[key].data as Float32Array | Float64Array;
      for (let j = 0; j < d.length; j++) out[i * this.dim + j] = d[j];
      onProgress?.(i + b);
    }
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }
}
