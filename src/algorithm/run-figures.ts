// Figures read back from a run's logs: where the gate opened and how right the pseudo-labels it let through were.
import type { GateDecision } from './gate.js';
import type { Row } from './metrics.js';

/** The step of the first decision that opened the gate (gate.jsonl); null when it never opened. */
export function gateOpenedAt(decisions: readonly GateDecision[]): number | null {
  return decisions.find((d) => d.changed && d.open)?.step ?? null;
}

/**
 * Pseudo-label precision over the whole run, measured on the hidden labels of the unlabeled images: the mean of each
 * logged interval's precision, weighted by its mask rate (how many pseudo-labels the interval used), over the
 * intervals with the gate open. Null when the source hid no labels or no pseudo-label was used.
 */
export function pseudoLabelPrecision(rows: readonly Row[]): { precision: number | null; maskRate: number | null } {
  const open = rows.filter((r) => r['gate/open'] === 1 && r['train/pseudo_precision'] !== null && r['train/pseudo_precision'] !== undefined);
  if (!open.length) return { precision: null, maskRate: null };
  const w = open.map((r) => r['train/pseudo_mask_rate'] ?? 0);
  const total = w.reduce((s, v) => s + v, 0);
  return {
    precision: total ? open.reduce((s, r, i) => s + w[i] * (r['train/pseudo_precision'] as number), 0) / total : null,
    maskRate: total / open.length,
  };
}
