// The validation-driven gate: pseudo-labels are used only once the model is good enough on a validation split
// carved from the labeled training data, so early, wrong pseudo-labels cannot poison training.
//
// Two rules (GateMetric):
// - 'confident-acc', the SSMAE paper's: the accuracy of the validation predictions whose confidence (max softmax
//   probability) is ≥ `confidence` must reach `threshold`. It asks "would the pseudo-labels I made now be right?",
//   which is what the gate is for, and it does not depend on the number of classes. At least `minConfident` such
//   predictions are required, so that 2 right out of 2 cannot open it.
// - 'acc', plain top-1 validation accuracy ≥ `threshold` (this project's first rule): on 100 classes 0.5 may never
//   be reached although the confident predictions are right.
// Either way no decision opens the gate before step `minStep` (the paper waits 10 epochs).

export type GateMetric = 'confident-acc' | 'acc';
export const GATE_METRICS: readonly GateMetric[] = ['confident-acc', 'acc'];

export interface GateConfig {
  /** Which validation figure the gate reads (see above). */
  metric: GateMetric;
  /** Opens when the figure is ≥ this. */
  threshold: number;
  /** confident-acc: a validation prediction counts as confident when its max probability is ≥ this. */
  confidence: number;
  /** confident-acc: fewer confident validation predictions than this keep the gate closed. */
  minConfident: number;
  /** No decision before this step opens the gate. */
  minStep: number;
  /** Consecutive evaluations at or above the threshold needed to open (and below it to close). */
  patience: number;
  /** Whether a drop below the threshold may close the gate again. */
  canClose: boolean;
  /** Open from the first step, ignoring validation (the "no gate" ablation). */
  alwaysOpen: boolean;
}

export const GATE_DEFAULTS: GateConfig = {
  metric: 'confident-acc',
  threshold: 0.7,     // the paper's 70% high-confidence accuracy
  confidence: 0.95,   // the paper's (and FixMatch's) 0.95
  minConfident: 10,   // 10 of the default 10 per class × classes: a rate of 1 right in 10 cannot open it on its own
  minStep: 0,
  patience: 1,
  canClose: false,
  alwaysOpen: false,
};

/** What one validation pass measured; the gate reads one of these figures. */
export interface ValidationFigures {
  /** Top-1 accuracy over the validation split. */
  acc: number;
  /** Accuracy of the predictions with confidence ≥ the gate's confidence; null when there is none. */
  confidentAcc: number | null;
  /** Fraction of the validation split predicted with confidence ≥ the gate's confidence. */
  confidentRate: number;
  /** Number of those predictions. */
  confident: number;
  /** Size of the validation split. */
  n: number;
}

/** Validation figures from predictions (label, confidence) and the true labels; `confidence` as in GateConfig. */
export function validationFigures(pred: Int32Array, conf: ArrayLike<number>, labels: Int32Array, confidence: number): ValidationFigures {
  const n = pred.length;
  let hit = 0;
  let confident = 0;
  let confidentHit = 0;
  for (let i = 0; i < n; i++) {
    const right = pred[i] === labels[i];
    if (right) hit++;
    if (conf[i] >= confidence) {
      confident++;
      if (right) confidentHit++;
    }
  }
  return {
    acc: n ? hit / n : NaN,
    confidentAcc: confident ? confidentHit / confident : null,
    confidentRate: n ? confident / n : NaN,
    confident,
    n,
  };
}

export interface GateState { open: boolean; streak: number; openedAt: number | null; decisions: number }

export interface GateDecision {
  step: number;
  /** The rule's figure (val/acc or val/confident_acc; NaN as null in JSON when there was no confident prediction). */
  value: number | null;
  open: boolean;
  changed: boolean;
  reason: string;
  /** The rule and every figure of the evaluation, so a decision can be checked from gate.jsonl alone. */
  metric?: GateMetric;
  threshold?: number;
  figures?: ValidationFigures;
}

export class ValidationGate {
  state: GateState;

  constructor(readonly cfg: GateConfig, state?: GateState) {
    this.state = state ?? { open: cfg.alwaysOpen, streak: 0, openedAt: cfg.alwaysOpen ? 0 : null, decisions: 0 };
  }

  get open(): boolean { return this.state.open; }

  /** The rule in words, e.g. for the demo's summary. */
  describe(): string {
    const c = this.cfg;
    if (c.alwaysOpen) return 'no gate (always open)';
    const after = c.minStep > 0 ? `, not before step ${c.minStep}` : '';
    return c.metric === 'acc'
      ? `val/acc ≥ ${c.threshold}${after}`
      : `accuracy of validation predictions with confidence ≥ ${c.confidence} reaches ${c.threshold}, with ≥ ${c.minConfident} of them${after}`;
  }

  /** Reads one validation pass and decides; every decision says which figures made it. */
  update(step: number, f: ValidationFigures): GateDecision {
    const s = this.state;
    const c = this.cfg;
    s.decisions++;
    const value = c.metric === 'acc' ? f.acc : f.confidentAcc;
    const shown = value === null ? 'none' : value.toFixed(4);
    const fmt = c.metric === 'acc'
      ? `val/acc=${shown} vs threshold ${c.threshold}`
      : `val/confident_acc=${shown} (${f.confident} of ${f.n} predictions with confidence ≥ ${c.confidence}, ` +
        `${c.minConfident} needed) vs threshold ${c.threshold}`;
    const decide = (open: boolean, changed: boolean, reason: string): GateDecision =>
      ({ step, value, open, changed, reason, metric: c.metric, threshold: c.threshold, figures: f });
    if (c.alwaysOpen) return decide(true, false, `gate disabled (always open); ${fmt}`);
    const enough = c.metric === 'acc' || f.confident >= c.minConfident;
    const above = value !== null && enough && value >= c.threshold;
    if (!s.open) {
      if (step < c.minStep) {
        s.streak = 0;
        return decide(false, false, `stays closed: step ${step} < --gate-min-step ${c.minStep}; ${fmt}`);
      }
      s.streak = above ? s.streak + 1 : 0;
      if (s.streak >= c.patience) {
        s.open = true;
        s.openedAt = step;
        s.streak = 0;
        return decide(true, true, `opened: ${fmt} (${c.patience} evaluation(s) in a row)`);
      }
      const why = enough ? '' : 'too few confident predictions; ';
      return decide(false, false, `stays closed: ${why}${fmt} (${s.streak}/${c.patience})`);
    }
    if (!c.canClose) return decide(true, false, `stays open (cannot close): ${fmt}`);
    s.streak = above ? 0 : s.streak + 1;
    if (s.streak >= c.patience) {
      s.open = false;
      s.streak = 0;
      return decide(false, true, `closed: ${fmt} (${c.patience} evaluation(s) in a row below)`);
    }
    return decide(true, false, `stays open: ${fmt}`);
  }
}
