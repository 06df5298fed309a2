// Label smoothing and CutMix targets of the labeled cross-entropy: values against a direct computation in
// JavaScript, gradients against central finite differences in float64, and the neutral settings (ε = 0, no mixing)
// against the plain and the smoothed cross-entropy bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../src/autodiff/index.js';
import { Graph } from '../src/graph/builder.js';
import { Tensor } from '../src/graph/types.js';
import { crossEntropy, mixedCrossEntropy, smoothedCrossEntropy } from '../src/models/losses.js';
import { hostTensor, scalarTensor, toNumbers } from '../src/runtime/tensor.js';
import { gradcheck, runGraph } from './helpers/gradcheck.js';

const LOGITS = [1.5, -0.3, 0.2, 0.7, 2.1, -1.0, -0.4, 0.0, 0.9, 3.0, -2.0, 0.1]; // [4, 3]
const LABELS = [0, 1, 2, 1];

/**
 * PyTorch's label_smoothing written out: mean over rows of −Σ_k t_k·log p_k with t = (1 − ε)·target + ε/K, where
 * the target is onehot(y), or with CutMix (1 − w)·onehot(y) + w·onehot(y′).
 */
function reference(logits: number[], labels: number[], k: number, eps: number, mix?: { labels: number[]; w: number[] }): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = logits.slice(i * k, (i + 1) * k);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const w = mix ? mix.w[i] : 0;
    for (let j = 0; j < k; j++) {
      const target = (j === labels[i] ? 1 - w : 0) + (mix && j === mix.labels[i] ? w : 0);
      total -= ((1 - eps) * target + eps / k) * (row[j] - lse);
    }
  }
  return total / labels.length;
}

const MIX_LABELS = [2, 1, 0, 0];
const MIX_W = [0.25, 0.5, 0, 0.9];

test('smoothed cross-entropy equals (1 − ε)·onehot + ε/K targets written out', async () => {
  for (const eps of [0, 0.1, 0.5]) {
    const g = new Graph('ls');
    const x = g.input('x', 'float64', [4, 3]);
    const e = g.input('eps', 'float64', []);
    g.output(smoothedCrossEntropy(g, x, g.constant('int64', [4], LABELS), e), 'loss');
    const out = await runGraph(g, { x: hostTensor('float64', [4, 3], Float64Array.from(LOGITS)), eps: scalarTensor('float64', eps) });
    const got = toNumbers(out.loss)[0];
    assert.ok(Math.abs(got - reference(LOGITS, LABELS, 3, eps)) < 1e-12, `ε ${eps}: ${got} vs ${reference(LOGITS, LABELS, 3, eps)}`);
  }
});

test('smoothed cross-entropy: gradient in logits and ε matches finite differences (float64)', async () => {
  const r = await gradcheck({
    inputs: [{ name: 'x', shape: [4, 3], data: LOGITS }, { name: 'eps', shape: [], data: [0.1] }],
    build: (g, [x, e]) => smoothedCrossEntropy(g, x, g.constant('int64', [4], LABELS), e),
  });
  assert.ok(r.worst < 1e-7, JSON.stringify(r.errors));
});

/**
 * Builds two losses of the same float32 logits, `a` the one to check and `b` its reference, and asserts that their
 * values and their gradients in the logits are equal bit for bit.
 */
async function assertBitIdentical(name: string, a: (g: Graph, x: Tensor) => Tensor, b: (g: Graph, x: Tensor) => Tensor): Promise<void> {
  const g = new Graph(name);
  const x = g.input('x', 'float32', [4, 3]);
  const la = a(g, x);
  const lb = b(g, x);
  const [ga] = gradients(g, la, [x]);
  const [gb] = gradients(g, lb, [x]);
  g.output(la, 'a'); g.output(lb, 'b'); g.output(ga, 'g_a'); g.output(gb, 'g_b');
  const out = await runGraph(g, { x: hostTensor('float32', [4, 3], Float32Array.from(LOGITS)) });
  assert.deepEqual(toNumbers(out.a), toNumbers(out.b));
  assert.deepEqual(toNumbers(out.g_a), toNumbers(out.g_b));
}

test('ε = 0 gives the plain cross-entropy and its gradient bit for bit (float32)', () => assertBitIdentical('ls0',
  (g, x) => smoothedCrossEntropy(g, x, g.constant('int64', [4], LABELS), g.scalar('float32', 0)),
  (g, x) => crossEntropy(g, x, g.constant('int64', [4], LABELS))));

test('CutMix cross-entropy equals the mixed, smoothed targets written out', async () => {
  for (const eps of [0, 0.1]) {
    const g = new Graph('mix');
    const x = g.input('x', 'float64', [4, 3]);
    const e = g.input('eps', 'float64', []);
    const w = g.input('w', 'float64', [4]);
    g.output(mixedCrossEntropy(g, x, { labels: g.constant('int64', [4], LABELS), labelsMix: g.constant('int64', [4], MIX_LABELS), mixWeight: w }, e), 'loss');
    const out = await runGraph(g, { x: hostTensor('float64', [4, 3], Float64Array.from(LOGITS)), eps: scalarTensor('float64', eps), w: hostTensor('float64', [4], Float64Array.from(MIX_W)) });
    const want = reference(LOGITS, LABELS, 3, eps, { labels: MIX_LABELS, w: MIX_W });
    const got = toNumbers(out.loss)[0];
    assert.ok(Math.abs(got - want) < 1e-12, `ε ${eps}: ${got} vs ${want}`);
    assert.ok(Math.abs(want - reference(LOGITS, LABELS, 3, eps)) > 0.05, 'the mixed targets must change the loss');
  }
});

test('CutMix cross-entropy: gradient in logits, the shares and ε matches finite differences (float64)', async () => {
  const r = await gradcheck({
    inputs: [{ name: 'x', shape: [4, 3], data: LOGITS }, { name: 'w', shape: [4], data: MIX_W.map((v) => v + 0.05) }, { name: 'eps', shape: [], data: [0.1] }],
    build: (g, [x, w, e]) => mixedCrossEntropy(g, x, { labels: g.constant('int64', [4], LABELS), labelsMix: g.constant('int64', [4], MIX_LABELS), mixWeight: w }, e),
  });
  assert.ok(r.worst < 1e-7, JSON.stringify(r.errors));
});

test('CutMix cross-entropy with all shares 0 is the smoothed cross-entropy and its gradient bit for bit (float32)', () => assertBitIdentical('mix0',
  (g, x) => mixedCrossEntropy(g, x, { labels: g.constant('int64', [4], LABELS), labelsMix: g.constant('int64', [4], MIX_LABELS),
    mixWeight: g.constant('float32', [4], [0, 0, 0, 0]) }, g.scalar('float32', 0.1)),
  (g, x) => smoothedCrossEntropy(g, x, g.constant('int64', [4], LABELS), g.scalar('float32', 0.1))));
