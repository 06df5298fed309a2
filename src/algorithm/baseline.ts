// The regression gate behind `ssmae check`: a run's figures (accuracy and per-class accuracy on a labeled source,
// pseudo-label precision on the hidden labels, the step the validation gate opened) against a baseline JSON, each
// with a tolerance. Only a move in the bad direction beyond its tolerance fails; a gain is reported, not failed.
import fs from 'node:fs';
import { UsageError } from '../artifacts/files.js';
import { TOOL_VERSION } from '../artifacts/version.js';
import { TTAS, type Tta } from './classifier.js';

export const BASELINE_FORMAT = 1;

export interface Figures {
  accuracy: number;
  per_class: Record<string, number | null>;
  /** Share of the pseudo-labels used that were right (hidden labels); null when not measured. */
  pseudo_precision: number | null;
  /** First step at which the gate opened; null when it never did. */
  gate_opened_at: number | null;
}

export interface Baseline {
  format: number;
  tool: string;
  created: string;
  /** What was measured: the labeled source and its image count (a check on other data is refused). */
  data: string;
  n: number;
  run: { dir: string; step: number };
  /** Test-time augmentation of the measured accuracy (absent in baselines written before it existed: 'none'). */
  tta?: Tta;
  /** Which weights of the run were measured: its last checkpoint's, or its best validation's (train --keep-best). Absent: 'last'. */
  weights?: RunWeights;
  figures: Figures;
}

/** Which weights of a run a figure was measured on (`--best`: the best validation's). */
export const RUN_WEIGHTS = ['last', 'best'] as const;
export type RunWeights = typeof RUN_WEIGHTS[number];

export interface Tolerance {
  accuracy: number;   // absolute, as a fraction: 0.01 = one percentage point
  perClass: number;
  precision: number;
  gateSteps: number;  // steps later than the baseline the gate may open
}

export const TOLERANCE_KEYS: Record<string, keyof Tolerance> = {
  accuracy: 'accuracy', 'per-class': 'perClass', precision: 'precision', 'gate-steps': 'gateSteps',
};

/** Defaults: one point of accuracy and two of precision (seeds and machines move them less on the same data),
 * five per class (a class has a tenth of the images, so its figure is noisier), and one evaluation interval for the
 * gate (the gate can only open on an evaluation step). */
export function defaultTolerance(evalEvery: number): Tolerance {
  return { accuracy: 0.01, perClass: 0.05, precision: 0.02, gateSteps: evalEvery };
}

/**
 * `0.02` (accuracy, per-class and precision all 0.02) or `accuracy=0.01,per-class=0.05,precision=0.02,gate-steps=100`;
 * keys not given keep their defaults.
 */
export function parseTolerance(spec: string | undefined, defaults: Tolerance): Tolerance {
  const t = { ...defaults };
  if (spec === undefined) return t;
  const bad = (why: string) => new UsageError(`--tolerance ${spec}: ${why}; write e.g. --tolerance 0.02 or ` +
    `--tolerance accuracy=0.01,per-class=0.05,precision=0.02,gate-steps=100 (fractions: 0.01 is one point)`);
  const num = (s: string) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v) || v < 0) throw bad(`'${s}' is not a number ≥ 0`);
    return v;
  };
  if (!spec.includes('=')) {
    const v = num(spec);
    if (v >= 1) throw bad('a fraction below 1 was expected (0.05 is five points)');
    return { ...t, accuracy: v, perClass: v, precision: v };
  }
  for (const part of spec.split(',')) {
    const [k, v, ...rest] = part.split('=');
    const key = TOLERANCE_KEYS[k?.trim()];
    if (!key || v === undefined || rest.length) throw bad(`'${part}' is not one of ${Object.keys(TOLERANCE_KEYS).map((x) => `${x}=…`).join(', ')}`);
    t[key] = num(v);
    if (key !== 'gateSteps' && t[key] >= 1) throw bad(`${k} needs a fraction below 1 (0.05 is five points)`);
  }
  return t;
}

export type Status = 'ok' | 'regressed' | 'improved' | 'not measured';

export interface Comparison {
  metric: string;
  baseline: number | null;
  current: number | null;
  tolerance: number;
  status: Status;
  /** One sentence: what moved and by how much, or why there was nothing to compare. */
  detail: string;
  /** Steps (gate) or fractions (the others). */
  unit: 'fraction' | 'steps';
}

const pts = (v: number) => `${(v * 100).toFixed(2)}%`;

/** Higher is better (accuracies, precision). */
function higherBetter(metric: string, b: number | null, c: number | null, tol: number): Comparison {
  const row = { metric, baseline: b, current: c, tolerance: tol, unit: 'fraction' as const };
  if (b === null && c === null) return { ...row, status: 'not measured', detail: 'measured in neither' };
  if (b === null) return { ...row, status: 'not measured', detail: `not in the baseline; now ${pts(c!)}` };
  if (c === null) return { ...row, status: 'regressed', detail: `${pts(b)} in the baseline, not measured now` };
  const d = c - b;
  const moved = `${pts(b)} → ${pts(c)} (${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} points, tolerance ${(tol * 100).toFixed(2)})`;
  // A small epsilon keeps a figure that equals baseline − tolerance (as written in the JSON) from failing on rounding.
  if (d < -tol - 1e-12) return { ...row, status: 'regressed', detail: moved };
  if (d > tol + 1e-12) return { ...row, status: 'improved', detail: moved };
  return { ...row, status: 'ok', detail: moved };
}

/** Earlier is better; never opening is the worst. */
function gateStep(b: number | null, c: number | null, tol: number): Comparison {
  const row = { metric: 'gate opened at step', baseline: b, current: c, tolerance: tol, unit: 'steps' as const };
  const say = (v: number | null) => (v === null ? 'never' : `step ${v}`);
  const moved = `${say(b)} → ${say(c)} (tolerance ${tol} steps)`;
  if (b === null && c === null) return { ...row, status: 'ok', detail: 'never opened, as in the baseline' };
  if (c === null) return { ...row, status: 'regressed', detail: moved };
  if (b === null) return { ...row, status: 'improved', detail: moved };
  if (c > b + tol) return { ...row, status: 'regressed', detail: moved };
  if (c < b - tol) return { ...row, status: 'improved', detail: moved };
  return { ...row, status: 'ok', detail: moved };
}

export function compare(base: Figures, now: Figures, tol: Tolerance): Comparison[] {
  const classes = [...new Set([...Object.keys(base.per_class), ...Object.keys(now.per_class)])];
  return [
    higherBetter('accuracy', base.accuracy, now.accuracy, tol.accuracy),
    ...classes.map((c) => higherBetter(`accuracy of class ${c}`, base.per_class[c] ?? null, now.per_class[c] ?? null, tol.perClass)),
    higherBetter('pseudo-label precision', base.pseudo_precision, now.pseudo_precision, tol.precision),
    gateStep(base.gate_opened_at, now.gate_opened_at, tol.gateSteps),
  ];
}

export function makeBaseline(figures: Figures, data: string, n: number, run: { dir: string; step: number },
  tta: Tta = 'none', weights: RunWeights = 'last'): Baseline {
  return { format: BASELINE_FORMAT, tool: `ssmae ${TOOL_VERSION}`, created: new Date().toISOString(), data, n, run, tta, weights, figures };
}

/** Reads and checks a baseline file; every problem is a UsageError naming the file and the field. */
export function readBaseline(file: string): Baseline {
  if (!fs.existsSync(file)) {
    throw new UsageError(`baseline ${file} not found; create it from a run you trust with: ssmae check --run RUN --data SOURCE --baseline ${file} --write-baseline`);
  }
  let b: Baseline;
  try {
    b = JSON.parse(fs.readFileSync(file, 'utf8')) as Baseline;
  } catch (e) {
    throw new UsageError(`baseline ${file} is not valid JSON (${(e as Error).message}); recreate it with --write-baseline`);
  }
  const field = (name: string, ok: boolean, expected: string) => {
    if (!ok) throw new UsageError(`baseline ${file}: field ${name} should be ${expected}; recreate it with --write-baseline`);
  };
  field('format', b?.format === BASELINE_FORMAT, `${BASELINE_FORMAT}`);
  field('data', typeof b.data === 'string', 'a source string');
  field('n', Number.isInteger(b.n) && b.n > 0, 'a positive image count');
  field('tta', b.tta === undefined || TTAS.includes(b.tta), TTAS.map((t) => `"${t}"`).join(' or '));
  field('weights', b.weights === undefined || RUN_WEIGHTS.includes(b.weights), RUN_WEIGHTS.map((w) => `"${w}"`).join(' or '));
  const f = b.figures;
  field('figures', typeof f === 'object' && f !== null, 'an object');
  const fraction = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
  field('figures.accuracy', fraction(f.accuracy), 'a fraction in [0, 1]');
  field('figures.per_class', typeof f.per_class === 'object' && f.per_class !== null &&
    Object.values(f.per_class).every((v) => v === null || fraction(v)), 'an object of class → fraction in [0, 1] or null');
  field('figures.pseudo_precision', f.pseudo_precision === null || fraction(f.pseudo_precision), 'a fraction in [0, 1] or null');
  field('figures.gate_opened_at', f.gate_opened_at === null || (Number.isInteger(f.gate_opened_at) && f.gate_opened_at >= 0), 'a step or null');
  return b;
}
