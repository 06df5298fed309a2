// The gate's rules against hand-worked answers: which figures one validation pass yields, and what each rule decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GATE_DEFAULTS, GateConfig, ValidationGate, validationFigures } from '../src/algorithm/gate.js';
import { resolveConfig } from '../src/algorithm/config.js';
import { UsageError } from '../src/artifacts/files.js';

// 10 validation predictions: labels, predicted labels, confidences.
const labels = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
const pred = Int32Array.from([0, 1, 2, 1, 1, 0, 0, 2, 2, 0]);   // right: 0 1 2 . 4 . 6 . 8 9 → 7 of 10
const conf = Float64Array.from([0.99, 0.96, 0.5, 0.97, 0.95, 0.6, 0.3, 0.99, 0.94, 0.951]);
// confidence ≥ 0.95: indices 0 1 3 4 7 9 (6 of 10); right among them: 0 1 4 9 → 4 of 6.

test('validationFigures: accuracy, confident accuracy and rate, worked by hand', () => {
  const f = validationFigures(pred, conf, labels, 0.95);
  assert.equal(f.acc, 0.7);
  assert.equal(f.confident, 6);
  assert.equal(f.confidentAcc, 4 / 6);
  assert.equal(f.confidentRate, 0.6);
  assert.equal(f.n, 10);
  const none = validationFigures(pred, conf, labels, 0.999);
  assert.equal(none.confident, 0);
  assert.equal(none.confidentAcc, null, 'no confident prediction: no confident accuracy (not 0, not NaN)');
});

const fig = (acc: number, confidentAcc: number | null, confident: number, n = 100) =>
  ({ acc, confidentAcc, confident, confidentRate: confident / n, n });

test('confident-acc: opens at the threshold only with enough confident predictions, and not before --gate-min-step', () => {
  const cfg: GateConfig = { ...GATE_DEFAULTS, minConfident: 10, minStep: 200 };
  const g = new ValidationGate(cfg);
  // Enough confident predictions and above 0.70, but before the minimum step.
  let d = g.update(150, fig(0.4, 0.9, 40));
  assert.equal(d.open, false);
  assert.match(d.reason, /< --gate-min-step 200/);
  // 2 right out of 2: 100% confident accuracy, but too few to count.
  d = g.update(200, fig(0.3, 1, 2));
  assert.equal(d.open, false);
  assert.match(d.reason, /too few confident predictions/);
  // Just below the threshold: closed; exactly at it: opens.
  assert.equal(g.update(220, fig(0.6, 0.69, 40)).open, false);
  d = g.update(250, fig(0.2, 0.7, 10));
  assert.deepEqual([d.open, d.changed, d.value, d.metric, d.threshold], [true, true, 0.7, 'confident-acc', 0.7]);
  assert.deepEqual(d.figures, fig(0.2, 0.7, 10), 'every figure of the evaluation is in the decision');
  assert.equal(g.state.openedAt, 250);
  // Cannot close by default.
  assert.equal(g.update(300, fig(0.1, 0.1, 50)).open, true);
});

test('acc: today\'s rule reads plain accuracy and ignores the confident figures', () => {
  const g = new ValidationGate({ ...GATE_DEFAULTS, metric: 'acc', threshold: 0.5 });
  assert.equal(g.update(50, fig(0.49, 1, 100)).open, false);
  const d = g.update(100, fig(0.5, null, 0));
  assert.deepEqual([d.open, d.changed, d.value], [true, true, 0.5]);
  assert.match(d.reason, /^opened: val\/acc=0\.5000 vs threshold 0\.5/);
});

test('patience and closing count evaluations in a row', () => {
  const g = new ValidationGate({ ...GATE_DEFAULTS, patience: 2, canClose: true });
  const hi = fig(0.5, 0.8, 20);
  const lo = fig(0.5, 0.6, 20);
  assert.deepEqual([hi, lo, hi, hi].map((f, i) => g.update(i + 1, f).open), [false, false, false, true]);
  assert.equal(g.state.openedAt, 4);
  assert.deepEqual([lo, hi, lo, lo].map((f, i) => g.update(i + 5, f).open), [true, true, true, false]);
});

test('the gate\'s options are validated where they are given', () => {
  const base = { artifacts: 'a', labeled: 'b', out: 'c' };
  assert.equal(resolveConfig(base).gate.metric, 'confident-acc', 'the paper\'s rule is the default');
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ metric: 'val/acc' }, /--gate-metric must be one of confident-acc, acc, got val\/acc/],
    [{ confidence: 0 }, /--gate-confidence must be in \(0, 1\]/],
    [{ minConfident: 0 }, /--gate-min-confident must be a positive integer/],
    [{ minStep: -1 }, /--gate-min-step must be an integer ≥ 0/],
    [{ minStep: 2.5 }, /--gate-min-step must be an integer ≥ 0/],
  ];
  for (const [gate, msg] of bad) assert.throws(() => resolveConfig({ ...base, gate }), (e: Error) => e instanceof UsageError && msg.test(e.message));
});
