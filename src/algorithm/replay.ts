// Pseudo-label replay (`train --pseudo-replay F`): the unlabeled images that the teacher pseudo-labeled at their
// last joint step, with those labels, for the cheap steps on the labels between joint steps (--labeled-steps) to
// train on too. A joint step pays for the teacher's forward pass over 48 weak views and selects a fraction of them;
// replay reuses each selection in several of the ~7× cheaper supervised steps, which is self-training (Lee 2013,
// "Pseudo-Label"; Xie et al. 2020, "Noisy Student") with the FixMatch step's own selections as its label source.
//
// An image enters the pool when a joint step selects it (pseudo-label weight > 0, i.e. confident and, with a strong
// capacity, among those the student classified) and leaves it when a later joint step sees it and does not select
// it: the pool holds only labels that the teacher, the last time it looked, stood behind. Members are kept in a dense
// array so that a uniform draw is one random index; the order of that array is part of the state (checkpoints).
import type { Rng } from '../data/rng.js';

export interface ReplayState {
  /** Pool members in the order of the dense array (indices into the unlabeled set). */
  members: number[];
  /** Pseudo-label of each member, in the same order. */
  labels: number[];
}

export class ReplayPool {
  private readonly label: Int32Array; // per unlabeled image: its pseudo-label, -1 outside the pool
  private readonly pos: Int32Array;   // per unlabeled image: its place in `members`, -1 outside the pool
  private members: number[] = [];

  constructor(readonly n: number, state?: ReplayState) {
    this.label = new Int32Array(n).fill(-1);
    this.pos = new Int32Array(n).fill(-1);
    if (state) {
      if (state.members.length !== state.labels.length) throw new RangeError('replay state: members and labels differ in length');
      state.members.forEach((i, k) => this.set(i, state.labels[k]));
    }
  }

  get size(): number { return this.members.length; }

  /** The pseudo-label of unlabeled image i, or -1 when it is not in the pool. */
  labelOf(i: number): number { return this.label[i]; }

  /**
   * One joint step's verdicts: image index[j] got pseudo-label label[j] with weight weight[j]; weight > 0 puts it in
   * the pool (or updates its label), weight 0 takes it out.
   */
  update(index: ArrayLike<number>, label: ArrayLike<bigint | number>, weight: ArrayLike<number>): void {
    if (index.length !== label.length || index.length !== weight.length) {
      throw new RangeError(`replay update: ${index.length} indices, ${label.length} labels, ${weight.length} weights`);
    }
    for (let j = 0; j < index.length; j++) {
      if (weight[j] > 0) this.set(index[j], Number(label[j]));
      else this.remove(index[j]);
    }
  }

  /** `count` members drawn uniformly with replacement (none when the pool is empty): their indices and labels. */
  draw(rng: Rng, count: number): { index: Int32Array; label: Int32Array } {
    const k = this.size === 0 ? 0 : count;
    const index = new Int32Array(k);
    const label = new Int32Array(k);
    for (let j = 0; j < k; j++) {
      index[j] = this.members[rng.int(this.size)];
      label[j] = this.label[index[j]];
    }
    return { index, label };
  }

  /** Share of the pool whose pseudo-label equals the hidden label, over the members whose label is known; null: none. */
  precision(hidden: Int32Array | null): number | null {
    if (!hidden) return null;
    let n = 0;
    let hit = 0;
    for (const i of this.members) {
      if (hidden[i] < 0) continue;
      n++;
      if (hidden[i] === this.label[i]) hit++;
    }
    return n ? hit / n : null;
  }

  state(): ReplayState {
    return { members: this.members.slice(), labels: this.members.map((i) => this.label[i]) };
  }

  private check(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.n)) throw new RangeError(`replay: image index ${i} is outside the unlabeled set (0..${this.n - 1})`);
  }

  private set(i: number, label: number): void {
    this.check(i);
    if (this.pos[i] < 0) {
      this.pos[i] = this.members.length;
      this.members.push(i);
    }
    this.label[i] = label;
  }

  private remove(i: number): void {
    this.check(i);
    const p = this.pos[i];
    if (p < 0) return;
    const last = this.members.pop()!;
    if (last !== i) {
      this.members[p] = last;
      this.pos[last] = p;
    }
    this.pos[i] = -1;
    this.label[i] = -1;
  }
}
