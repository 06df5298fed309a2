// The CIFAR-10 hour's summary: per-set mean ± sample std and the gated run's gain paired by seed, checked against
// figures worked out by hand (the two seeds of 2026-12-07: 61.29/63.03 against 60.00/61.05).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hourSummary } from '../bench/hour-summary.js';
import type { RunResult } from '../bench/label-results.js';

const run = (method: string, seed: number, acc: number | null, extra: Partial<RunResult> = {}): RunResult => ({
  method, seed, run: `${method}-seed${seed}`, status: acc === null ? 'failed' : 'ok', error: acc === null ? 'train exited 1' : null,
  steps: 24000, test_acc: acc, test_n: 10000, val_acc: null, pseudo_labels: method === 'ssmae', gate_open_step: method === 'ssmae' ? 1700 : null,
  gate_always_open: false, pseudo_precision: method === 'ssmae' ? 0.862 : null, pseudo_mask_rate: method === 'ssmae' ? 0.333 : null,
  train_s: 2634, eval_s: 10, resumed: false, ...extra,
});

test('means, sample std and paired gains', () => {
  const lines = hourSummary([
    { name: 'ssmae', results: [run('ssmae', 1, 0.6303), run('ssmae', 0, 0.6129)] },
    { name: 'labels-only-same-steps', results: [run('labels-only', 0, 0.6), run('labels-only', 1, 0.6105)] },
  ]);
  // runs are listed seed by seed, with the gate only where pseudo-labels are trained
  assert.equal(lines[0], 'ssmae, seed 0: 24000 steps, test 61.29% of 10000, train 43.9 min, ' +
    'gate opened at 1700, pseudo-labels 86.20% right at mask rate 33.30%');
  assert.equal(lines[2], 'labels-only-same-steps, seed 0: 24000 steps, test 60.00% of 10000, train 43.9 min');
  // mean 62.16 (labels-only 60.525, printed 60.53), sample std |63.03 − 61.29| / √2 = 1.2304; gains +1.29 and +1.98, mean +1.635, std 0.69/√2 = 0.4879
  assert.equal(lines[5], 'ssmae: test 62.16 ± 1.23% over seeds 0, 1');
  assert.equal(lines[6], 'labels-only-same-steps: test 60.53 ± 0.74% over seeds 0, 1');
  assert.equal(lines[7], 'gain of ssmae over labels-only-same-steps, paired by seed: +1.64 ± 0.49 points (seed 0: +1.29, seed 1: +1.98)');
});

test('a failed run is listed and left out of the mean and the pairs; one seed has no std', () => {
  const lines = hourSummary([
    { name: 'ssmae', results: [run('ssmae', 0, 0.61), run('ssmae', 1, null)] },
    { name: 'labels-only-same-time', results: [run('labels-only', 0, 0.6), run('labels-only', 1, 0.62)] },
  ]);
  assert.equal(lines[1], 'ssmae, seed 1: failed (train exited 1)');
  assert.ok(lines.includes('ssmae: test 61.00% over seed 0'));
  assert.ok(lines.includes('labels-only-same-time: test 61.00 ± 1.41% over seeds 0, 1'));
  assert.equal(lines.at(-1), 'gain of ssmae over labels-only-same-time, paired by seed: +1.00 points (seed 0: +1.00)');
});
