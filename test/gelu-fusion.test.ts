// GELU is written in the form ONNX Runtime's Gelu fusion recognizes, so inference graphs (eval, pseudo-label, the
// teacher's pass) run one fused kernel per GELU. Pinned here against ORT's own optimized model: if a change of the
// builder, or of ORT, loses the fusion, this fails. The values are checked against erf computed in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Graph } from '../src/graph/builder.js';
import { allNodes, decodeModel, serialize } from '../src/graph/serialize.js';
import { gradients } from '../src/autodiff/index.js';

/** ORT's graph after its optimizations, as op types. */
async function optimizedOps(g: Graph): Promise<string[]> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-gelu-')), 'opt.onnx');
  await ort.InferenceSession.create(serialize(g), { graphOptimizationLevel: 'extended', optimizedModelFilePath: file, logSeverityLevel: 3 });
  return allNodes(decodeModel(fs.readFileSync(file)).graph!).map((n) => n.opType!);
}

// erf by its Maclaurin series in float64 (|x| ≤ 3 here: 60 terms are exact to double precision)
function erf(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 60; n++) { term *= -x * x / n; sum += term / (2 * n + 1); }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test('inference: each GELU runs as ORT\'s one fused Gelu kernel, with exact-GELU values', async () => {
  const g = new Graph('gelu');
  const x = g.input('x', 'float32', [4, 8]);
  g.output(g.gelu(x), 'y');
  assert.deepEqual(await optimizedOps(g), ['Gelu']);
  const xs = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 5.3);
  const s = await ort.InferenceSession.create(serialize(g));
  const y = (await s.run({ x: new ort.Tensor('float32', xs, [4, 8]) })).y.data as Float32Array;
  for (let i = 0; i < 32; i++) {
    const ref = 0.5 * xs[i] * (1 + erf(xs[i] / Math.SQRT2));
    assert.ok(Math.abs(y[i] - ref) <= 2e-7 * Math.max(1, Math.abs(ref)), `x=${xs[i]}: ${y[i]} vs ${ref}`);
  }
});

test('training: a GELU whose 2Φ the backward pass reads keeps its nodes (and its gradient rule)', async () => {
  const g = new Graph('gelu-train');
  const x = g.input('x', 'float32', [4, 8]);
  const loss = g.reduceSum(g.gelu(x), [0, 1], false);
  const [dx] = gradients(g, loss, [x]);
  g.output(loss, 'loss');
  g.output(dx, 'dx');
  const ops = await optimizedOps(g);
  assert.ok(ops.includes('Erf') && !ops.includes('Gelu'), ops.join(','));
});
