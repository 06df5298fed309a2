// Per-class confidence thresholds for pseudo-labels, updated in TypeScript from the teacher's outputs after each run
// and fed to the step graphs as their [K] input `tau` (fixed within a chunk, so ONNX Loop chunks keep working).
//   fixed     — τ for every class (FixMatch).
//   flexmatch — Curriculum Pseudo Labeling (FlexMatch, Zhang et al., NeurIPS 2021): each class's learning effect
//               σ(c) = how many unlabeled images were last predicted as c with confidence ≥ τ; with threshold warmup
//               β(c) = σ(c) / max(max_c σ, unused), unused = images never predicted confidently; T(c) = M(β(c))·τ with
//               the convex M(x) = x / (2 − x). Classes the model is still learning get lower thresholds.
//   freematch — Self-adaptive thresholding (FreeMatch, Wang et al., ICLR 2023): a global τ_t, the EMA of the mean
//               max confidence, starting at 1/K; class-wise p̃_t(c), the EMA of the mean predicted probability of c,
//               starting at 1/K; T(c) = p̃_t(c) / max_c p̃_t(c) · τ_t. It does not use --tau.
// The teacher's figures are only seen while it runs: with --skip-closed, from the gate's opening.

export type ThresholdMode = 'fixed' | 'flexmatch' | 'freematch';
export const THRESHOLD_MODES: readonly ThresholdMode[] = ['fixed', 'flexmatch', 'freematch'];

/** What a checkpoint keeps, so a resumed run gets the same thresholds. */
export interface ThresholdState {
  /** flexmatch: per unlabeled image, the class it was last confidently predicted as (−1: never). */
  selected?: number[];
  /** freematch: τ_t and p̃_t. */
  global?: number;
  classwise?: number[];
}

/** One step's teacher outputs over the unlabeled batch. */
export interface TeacherStep {
  conf: ArrayLike<number>;      // [Bu] max probability (after distribution alignment): what the graph thresholds
  label: ArrayLike<bigint>;     // [Bu] argmax
  index: ArrayLike<number>;     // [Bu] each image's index in the unlabeled set
  meanProbs: ArrayLike<number>; // [K] mean teacher probabilities over the batch
}

export class Thresholds {
  private selected: Int32Array;
  private global: number;
  private classwise: number[];

  /** `momentum`: freematch's EMA factor λ; `unlabeled`: the size of the unlabeled set (flexmatch). */
  constructor(readonly mode: ThresholdMode, readonly tau: number, readonly classes: number, unlabeled: number,
    readonly momentum: number, state?: ThresholdState) {
    this.selected = new Int32Array(mode === 'flexmatch' ? unlabeled : 0).fill(-1);
    if (state?.selected) {
      if (state.selected.length !== this.selected.length) {
        throw new Error(`flexmatch state holds ${state.selected.length} unlabeled images, this run has ${this.selected.length}`);
      }
      this.selected.set(state.selected);
    }
    this.global = state?.global ?? 1 / classes;
    this.classwise = state?.classwise ? [...state.classwise] : new Array<number>(classes).fill(1 / classes);
  }

  /** The per-class thresholds to feed now, [K]. */
  current(): number[] {
    const K = this.classes;
    switch (this.mode) {
      case 'fixed': return new Array<number>(K).fill(this.tau);
      case 'flexmatch': {
        const sigma = new Array<number>(K).fill(0);
        let unused = 0;
        for (const c of this.selected) { if (c < 0) unused++; else sigma[c]++; }
        const denom = Math.max(unused, ...sigma);
        return sigma.map((s) => {
          const beta = denom > 0 ? s / denom : 1;
          return (beta / (2 - beta)) * this.tau;
        });
      }
      case 'freematch': {
        const top = Math.max(...this.classwise);
        return this.classwise.map((p) => (p / top) * this.global);
      }
    }
  }

  /** Takes in one step's teacher outputs (in step order; a chunk's steps one after another). */
  update(s: TeacherStep): void {
    const n = s.conf.length;
    if (this.mode === 'flexmatch') {
      for (let i = 0; i < n; i++) if (s.conf[i] >= this.tau) this.selected[s.index[i]] = Number(s.label[i]);
    } else if (this.mode === 'freematch') {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += s.conf[i];
      mean /= n;
      const m = this.momentum;
      this.global = m * this.global + (1 - m) * mean;
      for (let c = 0; c < this.classes; c++) this.classwise[c] = m * this.classwise[c] + (1 - m) * s.meanProbs[c];
    }
  }

  state(): ThresholdState {
    switch (this.mode) {
      case 'fixed': return {};
      case 'flexmatch': return { selected: Array.from(this.selected) };
      case 'freematch': return { global: this.global, classwise: [...this.classwise] };
    }
  }
}
