// Epoch-based shuffling sampler with an exact, serializable position. Each epoch is a fresh Fisher–Yates shuffle
// of 0..n-1 drawn from the generator state saved at the epoch's start, so (that state, epoch, cursor) rebuilds the
// very same order after a resume. A batch that runs past the end of an epoch continues into the next one.

import { Rng, type RngState } from './rng.js';

export interface SamplerState {
  n: number;
  epochRng: RngState; // generator state just before this epoch's shuffle
  epoch: number; // completed epochs
  cursor: number; // position inside the current epoch's order
}

export class Sampler {
  private rng: Rng;
  private epochRng: RngState;
  private order: Int32Array;
  private epochCount: number;
  private cursor: number;

  /** `seed` starts a new sequence; a `SamplerState` continues a saved one exactly. */
  constructor(n: number, seed: number | SamplerState) {
    if (typeof seed === 'number') {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`sampler needs at least one item, got ${n}`);
      this.rng = Rng.derive(seed, 'sampler');
      this.epochCount = 0;
      this.cursor = 0;
    } else {
      if (seed.n !== n) throw new RangeError(`sampler state is for ${seed.n} items, this set has ${n}`);
      if (!(seed.cursor >= 0 && seed.cursor <= n)) throw new RangeError(`sampler cursor ${seed.cursor} outside [0, ${n}]`);
      this.rng = new Rng(seed.epochRng);
      this.epochCount = seed.epoch;
      this.cursor = seed.cursor;
    }
    this.order = new Int32Array(n);
    this.epochRng = this.rng.state();
    this.shuffle();
  }

  get n(): number {
    return this.order.length;
  }

  /** Completed epochs plus the fraction of the current one. */
  get epoch(): number {
    return this.epochCount + this.cursor / this.order.length;
  }

  /** The next `batch` indices into the set. */
  next(batch: number): Int32Array {
    const out = new Int32Array(batch);
    for (let k = 0; k < batch; k++) {
      if (this.cursor === this.order.length) {
        this.epochCount++;
        this.cursor = 0;
        this.epochRng = this.rng.state();
        this.shuffle();
      }
      out[k] = this.order[this.cursor++];
    }
    return out;
  }

  state(): SamplerState {
    return { n: this.order.length, epochRng: this.epochRng, epoch: this.epochCount, cursor: this.cursor };
  }

  private shuffle(): void {
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    this.rng.shuffle(this.order);
  }
}
