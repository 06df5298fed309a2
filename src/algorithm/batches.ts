// Assembles each step's batch: labeled images (weak view) with labels, and unlabeled images as a weak and a strong
// view, from seeded samplers and augmenters whose states go into checkpoints. Buffers are reused step to step.
import { augmentBatch } from '../data/augment.js';
import { cutmix } from '../data/cutmix.js';
import { Rng, RngState } from '../data/rng.js';
import { Sampler, SamplerState } from '../data/sampler.js';
import { Manifest } from '../artifacts/manifest.js';
import { HostTensor, hostTensor } from '../runtime/tensor.js';
import type { TrainConfig } from './config.js';
import type { SplitData } from './data.js';
import type { ReplayPool } from './replay.js';

export interface Batch {
  feeds: Record<string, HostTensor>;
  /** True labels of the unlabeled images in this batch (-1 unknown): for pseudo-label precision only. */
  hiddenLabels: Int32Array;
  /** Index of each unlabeled image of this batch in the unlabeled set (per-image pseudo-label state, FlexMatch). */
  unlabeledIndex: Int32Array;
}

export class BatchSource {
  private labeledSampler: Sampler;
  /** null when there are no unlabeled images (labels-only on every label): such runs never draw any. */
  private unlabeledSampler: Sampler | null;
  private augRng: Rng;
  private cutmixRng: Rng;
  private replayRng: Rng;
  private readonly bl: number;
  private readonly bu: number;
  private readonly dims: number[];
  private readonly float64: boolean;

  constructor(private readonly data: SplitData, m: Manifest, private readonly cfg: Pick<TrainConfig, 'seed' | 'flip' | 'cropPad' | 'cutmix' | 'pseudoReplay'>) {
    this.bl = m.labeledBatch;
    this.bu = m.unlabeledBatch;
    this.dims = [m.channels, m.imageSize, m.imageSize];
    this.labeledSampler = new Sampler(data.labeled.n, cfg.seed * 2 + 1);
    this.unlabeledSampler = this.unlabeledSamplerFrom(cfg.seed * 2 + 2);
    this.augRng = Rng.derive(cfg.seed, 'augment');
    this.cutmixRng = Rng.derive(cfg.seed, 'cutmix');
    this.replayRng = Rng.derive(cfg.seed, 'replay');
    this.float64 = m.dtype === 'float64';
  }

  /** The cutmix and replay streams only where they are on, so checkpoints of runs without them read as before. */
  rngStates(): Record<string, RngState> {
    return {
      augment: this.augRng.state(),
      ...(this.cfg.cutmix > 0 ? { cutmix: this.cutmixRng.state() } : {}),
      ...(this.cfg.pseudoReplay > 0 ? { replay: this.replayRng.state() } : {}),
    };
  }
  samplerStates(): Record<string, SamplerState> {
    return { labeled: this.labeledSampler.state(), ...(this.unlabeledSampler ? { unlabeled: this.unlabeledSampler.state() } : {}) };
  }
  restore(rngs: Record<string, RngState>, samplers: Record<string, unknown>): void {
    this.augRng = new Rng(rngs.augment);
    if (rngs.cutmix) this.cutmixRng = new Rng(rngs.cutmix);
    if (rngs.replay) this.replayRng = new Rng(rngs.replay);
    this.labeledSampler = new Sampler(this.data.labeled.n, samplers.labeled as SamplerState);
    this.unlabeledSampler = this.unlabeledSamplerFrom(samplers.unlabeled as SamplerState);
  }
  private unlabeledSamplerFrom(seed: number | SamplerState): Sampler | null {
    return this.data.unlabeled.n > 0 ? new Sampler(this.data.unlabeled.n, seed) : null;
  }

  private views(set: SplitData['labeled'], idx: Int32Array, kind: 'weak' | 'strong'): Uint8Array {
    const pad = this.cfg.cropPad ?? defaultCropPad(this.dims[1]);
    // Strong views at half of RandAugment's top magnitude and a smaller cutout: at full strength small images
    // (16–32 px) lose the object, and the pseudo-label loss turns into noise.
    return augmentBatch(set, idx, kind, this.augRng, { weak: { flip: this.cfg.flip, pad }, strong: { n: 2, magnitude: 5, cutout: 0.3 } });
  }

  /**
   * The next step's batch. With `replay` (a step on the labels under --pseudo-replay), the last round(share · Bl)
   * places of the labeled batch hold strong views of pool images with their pseudo-labels, drawn uniformly from the
   * pool, and the labeled sampler fills only the others; an empty pool leaves the batch as without replay.
   * `withUnlabeled` false (a step on the labels, whose graph takes no unlabeled images or weights them 0) draws no
   * unlabeled images and augments none, so the batch has only the labeled feeds.
   */
  next(replay?: ReplayPool, withUnlabeled = true): Batch {
    const { labeled, unlabeled } = this.data;
    const drawn = replay ? replay.draw(this.replayRng, Math.round(this.cfg.pseudoReplay * this.bl)) : null;
    const r = drawn ? drawn.index.length : 0;
    const li = this.labeledSampler.next(this.bl - r);
    const bu = withUnlabeled ? this.bu : 0;
    if (bu && !this.unlabeledSampler) throw new Error('this step draws unlabeled images, but the run has none');
    const ui = bu ? this.unlabeledSampler!.next(bu) : new Int32Array(0);
    const labels = new BigInt64Array(this.bl);
    for (let i = 0; i < this.bl - r; i++) labels[i] = BigInt(labeled.labels[li[i]]);
    for (let i = 0; i < r; i++) labels[this.bl - r + i] = BigInt(drawn!.label[i]);
    const hidden = new Int32Array(bu);
    for (let i = 0; i < bu; i++) hidden[i] = unlabeled.hiddenLabels ? unlabeled.hiddenLabels[ui[i]] : -1;
    let imagesL = this.views(labeled, li, 'weak');
    if (r > 0) {
      const all = new Uint8Array(this.bl * pixelsOf(this.dims));
      all.set(imagesL);
      all.set(this.views(unlabeled, drawn!.index, 'strong'), imagesL.length);
      imagesL = all;
    }
    const mix = cutmix(imagesL, labels, this.dims[0], this.dims[1], this.cutmixRng, this.cfg.cutmix);
    const feeds: Record<string, HostTensor> = {
      images_labeled: hostTensor('uint8', [this.bl, ...this.dims], imagesL),
      labels: hostTensor('int64', [this.bl], labels),
      labels_mix: hostTensor('int64', [this.bl], mix.labelsMix),
      mix_weight: this.float64 ? hostTensor('float64', [this.bl], mix.mixWeight) : hostTensor('float32', [this.bl], Float32Array.from(mix.mixWeight)),
    };
    if (bu) {
      feeds.images_weak = hostTensor('uint8', [bu, ...this.dims], this.views(unlabeled, ui, 'weak'));
      feeds.images_strong = hostTensor('uint8', [bu, ...this.dims], this.views(unlabeled, ui, 'strong'));
    }
    return { feeds, hiddenLabels: hidden, unlabeledIndex: Int32Array.from(ui) };
  }
}

function pixelsOf(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Pad-and-crop shift of the weak view: FixMatch's 4 pixels on 32×32, i.e. 1/8 of the side. */
export function defaultCropPad(size: number): number {
  return Math.max(1, Math.round(size / 8));
}
