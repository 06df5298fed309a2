// The validation-driven gate: pseudo-labels are used only once the model is good enough on a validation split
// carved from the labeled training data, so early, wrong pseudo-labels cannot poison training.

export interface GateConfig {
  /** Validation metric the gate reads (val/acc: top-1 accuracy on the validation split). */
  metric: 'val/acc';
  /** Opens when the metric is ≥ this. */
  threshold: number;
  /** Consecutive evaluations at or above the threshold needed to open (and below it to close). */
  patience: number;
  /** Whether a drop below the threshold may close the gate again. */
  canClose: boolean;
  /** Open from the first step, ignoring validation (the "no gate" ablation). */
  alwaysOpen: boolean;
}

export const GATE_DEFAULTS: GateConfig = { metric: 'val/acc', threshold: 0.5, patience: 1, canClose: false, alwaysOpen: false };

export interface GateState { open: boolean; streak: number; openedAt: number | null; decisions: number }

export interface GateDecision {
  step: number;
  value: number;
  open: boolean;
  changed: boolean;
  reason: string;
}

export class ValidationGate {
  state: GateState;

  constructor(readonly cfg: GateConfig, state?: GateState) {
    this.state = state ?? { open: cfg.alwaysOpen, streak: 0, openedAt: cfg.alwaysOpen ? 0 : null, decisions: 0 };
  }

  get open(): boolean { return this.state.open; }

  /** Reads one validation figure and decides; every decision says which figure made it. */
  update(step: number, value: number): GateDecision {
    const s = this.state;
    const c = this.cfg;
    s.decisions++;
    const fmt = `${c.metric}=${value.toFixed(4)} vs threshold ${c.threshold}`;
    if (c.alwaysOpen) return { step, value, open: true, changed: false, reason: `gate disabled (always open); ${fmt}` };
    const above = value >= c.threshold;
    if (!s.open) {
      s.streak = above ? s.streak + 1 : 0;
      if (s.streak >= c.patience) {
        s.open = true;
        s.openedAt = step;
        s.streak = 0;
        return { step, value, open: true, changed: true, reason: `opened: ${fmt} (${c.patience} evaluation(s) in a row)` };
      }
      return { step, value, open: false, changed: false, reason: `stays closed: ${fmt} (${s.streak}/${c.patience})` };
    }
    if (!c.canClose) return { step, value, open: true, changed: false, reason: `stays open (cannot close): ${fmt}` };
    s.streak = above ? 0 : s.streak + 1;
    if (s.streak >= c.patience) {
      s.open = false;
      s.streak = 0;
      return { step, value, open: false, changed: true, reason: `closed: ${fmt} (${c.patience} evaluation(s) in a row below)` };
    }
    return { step, value, open: true, changed: false, reason: `stays open: ${fmt}` };
  }
}
