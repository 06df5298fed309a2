// Every gradient rule checked against central finite differences through ONNX Runtime, in float64 (Erf, which has
// no float64 kernel in ORT 1.29, in float32 with its own stated bound), plus the backward pass's bookkeeping:
// fan-out, stop sets, int paths, unreachable parameters, unknown operators and pruning.
//
// Error metric, per gradient tensor: max|analytic − numeric| / max(max|numeric|, 1e-8), a normwise relative error
// (a near-zero entry of a well-scaled gradient cannot blow it up). float64 bound: 1e-6.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../src/autodiff/index.js';
import { Graph } from '../src/graph/builder.js';
import { Rng } from '../src/data/rng.js';
import { Tensor, numel } from '../src/graph/types.js';
import { hostTensor, toNumbers } from '../src/runtime/tensor.js';
import { erfSeries } from '../src/models/vit.js';
import { GradInput, formatTable, gradcheck, relError, runGraph, uniform } from './helpers/gradcheck.js';

const BOUND = 1e-6;
const rng = new Rng(20240611);
const rows: { op: string; worst: number; bound: number }[] = [];
after(() => console.log('\n' + formatTable('autodiff gradient check: worst normwise relative error per op', rows) + '\n'));

// ---- input generators ----
const inp = (name: string, shape: number[], lo = -1, hi = 1): GradInput => ({ name, shape, data: uniform(rng, numel(shape), lo, hi) });
const positive = (name: string, shape: number[]) => inp(name, shape, 0.5, 2);
/** Values with |v| ∈ [0.2, 1]: away from the kink of Relu/Abs. */
const awayFromZero = (name: string, shape: number[]): GradInput => ({
  name, shape, data: uniform(rng, numel(shape), 0.2, 1).map((v) => (rng.next() < 0.5 ? -v : v)),
});

interface Case {
  op: string;
  inputs: GradInput[];
  build: (g: Graph, xs: Tensor[]) => Tensor;
  dtype?: 'float32' | 'float64';
  h?: number;
  bound?: number;
  /** Concrete output dims when the output shape is symbolic. */
  outDims?: number[];
}

async function check(c: Case): Promise<void> {
  const res = await gradcheck({ build: c.build, inputs: c.inputs, dtype: c.dtype, h: c.h, outDims: c.outDims });
  const bound = c.bound ?? BOUND;
  rows.push({ op: c.op, worst: res.worst, bound });
  assert.deepEqual(res.gradShapes, c.inputs.map((i) => i.shape), `${c.op}: gradient shapes differ from input shapes`);
  assert.ok(res.worst <= bound, `${c.op}: worst relative error ${res.worst} > ${bound} (${JSON.stringify(res.errors)})`);
}

// Max/Min operands a [2,3], b [3], every broadcast pair at least 0.2 apart (no ties, so the function is smooth).
const mmB = uniform(rng, 3);
const mmA = Array.from({ length: 6 }, (_, i) => mmB[i % 3] + (rng.next() < 0.5 ? -1 : 1) * (0.2 + 0.8 * rng.next()));

const cases: Case[] = [
  // elementwise, with broadcasting
  { op: 'Add [3,1,4]+[5,1]', inputs: [inp('a', [3, 1, 4]), inp('b', [5, 1])], build: (g, [a, b]) => g.add(a, b) },
  { op: 'Add [2,3]+scalar', inputs: [inp('a', [2, 3]), inp('b', [])], build: (g, [a, b]) => g.add(a, b) },
  { op: 'Sub [3,1,4]-[5,1]', inputs: [inp('a', [3, 1, 4]), inp('b', [5, 1])], build: (g, [a, b]) => g.sub(a, b) },
  { op: 'Sub scalar-[2,3]', inputs: [inp('a', []), inp('b', [2, 3])], build: (g, [a, b]) => g.sub(a, b) },
  { op: 'Mul [2,3]*[3]', inputs: [inp('a', [2, 3]), inp('b', [3])], build: (g, [a, b]) => g.mul(a, b) },
  { op: 'Mul scalar*[3,1,4]', inputs: [inp('a', []), inp('b', [3, 1, 4])], build: (g, [a, b]) => g.mul(a, b) },
  { op: 'Div [3,1,4]/[5,1]', inputs: [inp('a', [3, 1, 4]), positive('b', [5, 1])], build: (g, [a, b]) => g.div(a, b) },
  { op: 'Div scalar/[2,3]', inputs: [inp('a', []), positive('b', [2, 3])], build: (g, [a, b]) => g.div(a, b) },
  { op: 'Neg', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.neg(x) },
  { op: 'Identity', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.identity(x) },
  { op: 'Exp', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.exp(x) },
  { op: 'Log', inputs: [positive('x', [2, 3])], build: (g, [x]) => g.log(x) },
  { op: 'Sqrt', inputs: [positive('x', [2, 3])], build: (g, [x]) => g.sqrt(x) },
  { op: 'Pow x^3', inputs: [positive('x', [2, 3])], build: (g, [x]) => g.pow(x, 3) },
  { op: 'Pow x^2 (any sign)', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.pow(x, 2) },
  { op: 'Pow x^-1.5', inputs: [positive('x', [2, 3])], build: (g, [x]) => g.pow(x, -1.5) },
  { op: 'Pow x^0.5', inputs: [positive('x', [2, 3])], build: (g, [x]) => g.pow(x, 0.5) },
  { op: 'Tanh', inputs: [inp('x', [2, 3], -2, 2)], build: (g, [x]) => g.tanh(x) },
  { op: 'Sigmoid', inputs: [inp('x', [2, 3], -3, 3)], build: (g, [x]) => g.sigmoid(x) },
  { op: 'Relu', inputs: [awayFromZero('x', [3, 4])], build: (g, [x]) => g.relu(x) },
  { op: 'Abs', inputs: [awayFromZero('x', [3, 4])], build: (g, [x]) => g.abs(x) },
  { op: 'Max [2,3],[3]', inputs: [{ name: 'a', shape: [2, 3], data: mmA }, { name: 'b', shape: [3], data: mmB }], build: (g, [a, b]) => g.max(a, b) },
  { op: 'Min [2,3],[3]', inputs: [{ name: 'a', shape: [2, 3], data: mmA }, { name: 'b', shape: [3], data: mmB }], build: (g, [a, b]) => g.min(a, b) },
  {
    op: 'Where cond[4], [3,4], [3,1]', inputs: [inp('a', [3, 4]), inp('b', [3, 1])],
    build: (g, [a, b]) => g.where(g.constant('bool', [4], [1, 0, 0, 1]), a, b),
  },
  { op: 'Where scalar else', inputs: [inp('a', [2, 3]), inp('b', [])], build: (g, [a, b]) => g.where(g.constant('bool', [2, 1], [0, 1]), a, b) },
  { op: 'Cast f64→f64', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.mul(g.cast(x, 'float64'), x) },
  // float32 input, float64 computation: the gradient is cast back to float32 (h = 1e-3 is exact in float32 storage;
  // the loss is linear in cast(x) up to the exp, so the bound stays tight).
  {
    op: 'Cast f32→f64 (grad back to f32)', inputs: [{ ...inp('x', [2, 3]), dtype: 'float32' }], h: 1e-3,
    build: (g, [x]) => g.exp(g.cast(x, 'float64')),
  },
  // linear algebra
  { op: 'MatMul [2,3]x[3,4]', inputs: [inp('a', [2, 3]), inp('b', [3, 4])], build: (g, [a, b]) => g.matmul(a, b) },
  { op: 'MatMul [2,3,4]x[4,5]', inputs: [inp('a', [2, 3, 4]), inp('b', [4, 5])], build: (g, [a, b]) => g.matmul(a, b) },
  { op: 'MatMul [2,3,4]x[2,4,5]', inputs: [inp('a', [2, 3, 4]), inp('b', [2, 4, 5])], build: (g, [a, b]) => g.matmul(a, b) },
  { op: 'MatMul [2,1,3,4]x[3,4,2]', inputs: [inp('a', [2, 1, 3, 4]), inp('b', [3, 4, 2])], build: (g, [a, b]) => g.matmul(a, b) },
  { op: 'MatMul [3,4]x[2,4,5]', inputs: [inp('a', [3, 4]), inp('b', [2, 4, 5])], build: (g, [a, b]) => g.matmul(a, b) },
  // reductions and normalizations
  { op: 'ReduceSum axes[1] keepdims=1', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reduceSum(x, [1], true) },
  { op: 'ReduceSum axes[-1,0] keepdims=0', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reduceSum(x, [-1, 0], false) },
  { op: 'ReduceSum all keepdims=0', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.reduceSum(x, [0, 1], false) },
  { op: 'ReduceMean axes[1] keepdims=1', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reduceMean(x, [1], true) },
  { op: 'ReduceMean axes[-1] keepdims=0', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reduceMean(x, [-1], false) },
  { op: 'ReduceMean axes[0,2] keepdims=0', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reduceMean(x, [0, 2], false) },
  { op: 'Softmax axis 1 of [2,3,4]', inputs: [inp('x', [2, 3, 4], -2, 2)], build: (g, [x]) => g.softmax(x, 1) },
  { op: 'Softmax axis -1', inputs: [inp('x', [2, 5], -2, 2)], build: (g, [x]) => g.softmax(x, -1) },
  { op: 'LogSoftmax axis 1 of [2,3,4]', inputs: [inp('x', [2, 3, 4], -2, 2)], build: (g, [x]) => g.logSoftmax(x, 1) },
  { op: 'LogSoftmax axis -1', inputs: [inp('x', [2, 5], -2, 2)], build: (g, [x]) => g.logSoftmax(x, -1) },
  // ReduceMax passes no gradient; in a max-subtracted softmax that is exact, since the max cancels.
  {
    op: 'ReduceMax (stable softmax)', inputs: [inp('x', [3, 4], -2, 2)],
    build: (g, [x]) => {
      const e = g.exp(g.sub(x, g.reduceMax(x, [1], true)));
      return g.div(e, g.reduceSum(e, [1], true));
    },
  },
  {
    op: 'LayerNorm [2,3,5] scale+bias', inputs: [inp('x', [2, 3, 5], -2, 2), inp('scale', [5], 0.5, 1.5), inp('bias', [5])],
    build: (g, [x, s, b]) => g.layerNorm(x, s, b, 1e-5),
  },
  // Gemm, each transpose combination (the MatMul rule emits these for linear layers)
  ...[[false, false], [true, false], [false, true], [true, true]].map(([ta, tb]): Case => ({
    op: `Gemm transA=${+ta} transB=${+tb}`, inputs: [inp('a', ta ? [4, 3] : [3, 4]), inp('b', tb ? [5, 4] : [4, 5])],
    build: (g, [a, b]) => g.gemm(a, b, ta, tb),
  })),
  {
    op: 'Gemm with C [5] broadcast', inputs: [inp('a', [3, 4]), inp('b', [4, 5]), inp('c', [5])],
    build: (g, [a, b, c]) => g.node1('Gemm', [a, b, c], 'float64', [3, 5]),
  },
  // shape manipulation
  { op: 'Reshape [2,3,4]→[4,-1]', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.reshape(x, [4, -1]) },
  { op: 'Transpose perm [2,0,1]', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.transpose(x, [2, 0, 1]) },
  { op: 'Transpose perm [1,0]', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.transpose(x, [1, 0]) },
  { op: 'Unsqueeze axes [0,-1]', inputs: [inp('x', [2, 3])], build: (g, [x]) => g.unsqueeze(x, [0, -1]) },
  { op: 'Squeeze axes [1]', inputs: [inp('x', [3, 1, 4])], build: (g, [x]) => g.squeeze(x, [1]) },
  { op: 'Expand [3,1]→[2,3,4]', inputs: [inp('x', [3, 1])], build: (g, [x]) => g.expand(x, [2, 3, 4]) },
  {
    op: 'Concat of 3 on axis 1', inputs: [inp('a', [2, 1, 3]), inp('b', [2, 2, 3]), inp('c', [2, 3, 3])],
    build: (g, xs) => g.concat(xs, 1),
  },
  { op: 'Concat of 2 on axis -1', inputs: [inp('a', [2, 3]), inp('b', [2, 1])], build: (g, xs) => g.concat(xs, -1) },
  { op: 'Split axis -1 into [1,3,1]', inputs: [inp('x', [2, 5])], build: (g, [x]) => { const [a, b, c] = g.split(x, -1, [1, 3, 1]); return g.concat([g.mul(c, a), b], 1); } },
  { op: 'Split axis 0, middle part unused', inputs: [inp('x', [4, 3])], build: (g, [x]) => { const [a, , c] = g.split(x, 0, [1, 2, 1]); return g.add(a, g.tanh(c)); } },
  { op: 'Slice axis 1 [-3:-1]', inputs: [inp('x', [4, 5])], build: (g, [x]) => g.slice(x, [1], [-3], [-1]) },
  { op: 'Slice axes [0,-1] [1:3, -4:100]', inputs: [inp('x', [4, 5])], build: (g, [x]) => g.slice(x, [0, -1], [1, -4], [3, 100]) },
  {
    op: 'Gather axis 1, 2-D indices', inputs: [inp('x', [2, 4, 3])],
    build: (g, [x]) => g.gather(x, g.constant('int64', [3, 2], [0, 2, 2, 1, 3, -1]), 1),
  },
  { op: 'Gather axis 0, 1-D repeated', inputs: [inp('x', [5, 3])], build: (g, [x]) => g.gather(x, g.constant('int64', [4], [4, 0, 4, 2]), 0) },
  { op: 'Gather axis -1, scalar index', inputs: [inp('x', [2, 3, 4])], build: (g, [x]) => g.gather(x, g.constant('int64', [], [2]), -1) },
  {
    op: 'GatherElements axis 1, repeated', inputs: [inp('x', [3, 4])],
    build: (g, [x]) => g.gatherElements(x, g.constant('int64', [3, 5], [0, 0, 3, 1, 0, 2, 2, 2, 3, 1, 3, 0, 1, 1, 3]), 1),
  },
  // composites with a symbolic batch N (run with N = 2): the rules must not need N at build time
  {
    op: 'symbolic N: linear, LayerNorm, softmax, mean', outDims: [2, 5], inputs: [
      { name: 'x', shape: ['N', 3, 4], dims: [2, 3, 4], data: uniform(rng, 24) },
      inp('w', [4, 5]), inp('b', [5]), inp('scale', [5], 0.5, 1.5), inp('beta', [5]),
    ],
    build: (g, [x, w, b, s, beta]) => {
      const h = g.layerNorm(g.add(g.matmul(x, w), b), s, beta); // [N, 3, 5]
      const p = g.softmax(g.tanh(h), 1); // [N, 3, 5]
      return g.reduceMean(g.mul(p, h), [1], false); // [N, 5]
    },
  },
  {
    op: 'symbolic N: slice, concat, gather, reshape, transpose', outDims: [2, 3],
    inputs: [{ name: 'x', shape: ['N', 4, 3], dims: [2, 4, 3], data: uniform(rng, 24) }, inp('m', [3])],
    build: (g, [x, m]) => {
      const c = g.concat([x, g.slice(x, [1], [1], [3])], 1); // [N, 6, 3]
      const idx = g.constant('int64', [2, 2], [0, 5, 2, -1]);
      const gathered = g.gather(g.max(c, m), idx, 1); // [N, 2, 2, 3]
      const r = g.reshape(gathered, [0, 4, 3]); // [N, 4, 3]
      const t = g.transpose(g.unsqueeze(r, [1]), [0, 1, 3, 2]); // [N, 1, 3, 4]
      return g.reduceSum(g.squeeze(g.mul(t, t), [1]), [-1], false); // [N, 3]
    },
  },
];

describe('gradient rules vs central finite differences (float64)', () => {
  for (const c of cases) {
    test(c.op, () => check(c));
  }
});

// ---- composite functions: differentiated as a whole (Graph.composite), and node by node when a value inside is used
// outside (the fallback); both against finite differences. float64 GELU takes erf from its Maclaurin series. ----
const geluX = (name: string, shape: number[]) => inp(name, shape, -3, 3);
describe('composite functions vs central finite differences (float64)', () => {
  test('Gelu composite rule', () => check({
    op: 'Gelu [3,4] (composite rule)', inputs: [geluX('x', [3, 4])], build: (g, [x]) => g.gelu(x, (z) => erfSeries(g, z)),
  }));
  test('Gelu used twice and broadcast: both uses add up', () => check({
    op: 'Gelu fan-out', inputs: [geluX('x', [2, 3]), inp('b', [3])],
    build: (g, [x, b]) => g.mul(g.gelu(g.add(x, b), (z) => erfSeries(g, z)), g.gelu(x, (z) => erfSeries(g, z))),
  }));
  test('Gelu whose inner 2Φ is also used outside: per-node rules', () => check({
    op: 'Gelu fallback (2Φ used outside)', inputs: [geluX('x', [3, 4])],
    build: (g, [x]) => {
      const y = g.gelu(x, (z) => erfSeries(g, z));
      return g.add(y, g.mul(g.composites.get(y.name)!.saved.twoCdf, x));
    },
  }));
  test('LayerNorm composite rule [2,3,5]', () => check({
    op: 'LayerNorm decomposed [2,3,5] (composite rule)', inputs: [inp('x', [2, 3, 5], -2, 2), inp('scale', [5], 0.5, 1.5), inp('bias', [5])],
    build: (g, [x, s, b]) => g.layerNormDecomposed(x, s, b, 1e-5),
  }));
  test('LayerNorm composite, symbolic batch, fed twice (a residual)', () => check({
    op: 'LayerNorm decomposed, symbolic N, residual', outDims: [2, 5], inputs: [
      { name: 'x', shape: ['N', 3, 5], dims: [2, 3, 5], data: uniform(rng, 30, -2, 2) }, inp('scale', [5], 0.5, 1.5), inp('bias', [5]),
    ],
    build: (g, [x, s, b]) => {
      const h = g.add(x, g.tanh(g.layerNormDecomposed(x, s, b, 1e-5)));
      return g.reduceMean(g.mul(g.layerNormDecomposed(h, s, b, 1e-6), h), [1], false);
    },
  }));
  test('LayerNorm composite whose x̂ is also used outside: per-node rules', () => check({
    op: 'LayerNorm fallback (x̂ used outside)', inputs: [inp('x', [3, 4], -2, 2), inp('scale', [4], 0.5, 1.5), inp('bias', [4])],
    build: (g, [x, s, b]) => {
      const y = g.layerNormDecomposed(x, s, b, 1e-5);
      return g.add(y, g.mul(g.composites.get(y.name)!.saved.xhat, x));
    },
  }));
  test('the LayerNorm composite rule reuses the forward\'s x̂ and r (no recomputed mean or variance)', () => {
    const g = new Graph('ln');
    const x = g.input('x', 'float32', [2, 3, 4]);
    const s = g.input('s', 'float32', [4]);
    const b = g.input('b', 'float32', [4]);
    const loss = g.reduceSum(g.mul(g.layerNormDecomposed(x, s, b), x), [0, 1, 2], false);
    const before = g.nodes.length;
    gradients(g, loss, [x, s, b]);
    const ops = g.nodes.slice(before).map((n) => n.op);
    assert.equal(ops.filter((op) => op === 'Sqrt').length, 0, `${ops}`);
    assert.equal(ops.filter((op) => op === 'ReduceMean').length, 2, `${ops}`);
  });
  test('the composite rule replaces the chain rule through the nodes of GELU', () => {
    const backwardOps = (outside: boolean): string[] => {
      const g = new Graph('gelu');
      const x = g.input('x', 'float32', [2, 3]);
      const y = g.gelu(x);
      const out = outside ? g.add(y, g.composites.get(y.name)!.saved.twoCdf) : y;
      const loss = g.reduceSum(out, [0, 1], false);
      const before = g.nodes.length;
      gradients(g, loss, [x]);
      return g.nodes.slice(before).map((n) => n.op);
    };
    const whole = backwardOps(false);
    // (Unsqueeze and Expand spread the loss's ReduceSum)
    const rule = whole.filter((op) => op !== 'Expand' && op !== 'Unsqueeze').sort();
    assert.deepEqual(rule, ['Add', 'Exp', 'Mul', 'Mul', 'Mul', 'Mul', 'Mul', 'Mul'], `${whole}`);
    assert.ok(backwardOps(true).includes('Neg'), 'with 2Φ used outside, the per-node Erf rule runs');
  });
});

// ---- Erf: ORT 1.29 has no float64 Erf kernel, so this rule is checked in float32 ----
// (a) ORT's float32 analytic gradient against a float64 JavaScript reference R·2/√π·e^{−x²} (at the float32-rounded
//     x and R): only float32 rounding of a few elementwise ops separates them; bound 1e-6 (≈ 17 float32 ulps).
// (b) Central finite differences in float32 with h = 1e-2: truncation (h²/6·max|erf'''| ≈ 4e-5) plus loss rounding
//     (ε₃₂·|L|/h ≈ 1e-5) stay under the stated bound 2e-4.
const ERF_REF_BOUND = 1e-6;
const ERF_FD_BOUND = 2e-4;

describe('Erf in float32', () => {
  const x = uniform(rng, 12, -2, 2);
  test('Erf: analytic (float32) vs float64 reference 2/√π·e^{−x²}', async () => {
    const r = uniform(rng, 12);
    const g = new Graph('erf');
    const xt = g.input('x', 'float32', [3, 4]);
    const loss = g.reduceSum(g.mul(g.erf(xt), g.constant('float32', [3, 4], r)), [0, 1], false);
    const [dx] = gradients(g, loss, [xt]);
    g.output(dx, 'dx');
    const out = await runGraph(g, { x: hostTensor('float32', [3, 4], Float32Array.from(x)) });
    const x32 = Float32Array.from(x);
    const r32 = Float32Array.from(r);
    const ref = Array.from(x32, (v, i) => r32[i] * (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v));
    const err = relError(toNumbers(out.dx), ref);
    rows.push({ op: 'Erf f32 vs f64 reference', worst: err, bound: ERF_REF_BOUND });
    assert.ok(err <= ERF_REF_BOUND, `Erf: ${err}`);
  });
  test('Erf: analytic vs float32 central differences (h = 1e-2)', async () => {
    await check({
      op: 'Erf f32 FD h=1e-2', dtype: 'float32', h: 1e-2, bound: ERF_FD_BOUND,
      inputs: [{ name: 'x', shape: [3, 4], data: x }], build: (g, [t]) => g.erf(t),
    });
  });
});

// ---- the backward pass's bookkeeping ----
describe('backward pass', () => {
  test('fan-out: gradients of a value used several times add up', async () => {
    await check({
      op: 'fan-out (x used 4×, h used 3×)', inputs: [inp('x', [2, 3])],
      build: (g, [x]) => {
        const h = g.tanh(x);
        return g.add(g.add(g.mul(h, h), h), g.mul(g.exp(x), x));
      },
    });
  });

  test('a name in `stop` is a constant: no gradient flows through it', async () => {
    const x = uniform(rng, 6);
    const r = uniform(rng, 6);
    const g = new Graph('stop');
    const xt = g.input('x', 'float64', [2, 3]);
    const s = g.exp(xt); // treated as a constant below
    const loss = g.reduceSum(g.mul(g.mul(xt, s), g.constant('float64', [2, 3], r)), [0, 1], false);
    const [dx] = gradients(g, loss, [xt], { stop: new Set([s.name]) });
    g.output(dx, 'dx');
    const out = await runGraph(g, { x: hostTensor('float64', [2, 3], Float64Array.from(x)) });
    const ref = x.map((v, i) => r[i] * Math.exp(v)); // d/dx (x·s)·r with s fixed
    assert.ok(relError(toNumbers(out.dx), ref) <= 1e-12);
  });

  test('no gradient through an int path (Cast to int64 and back)', async () => {
    // x ∈ [0.1, 0.9]: trunc(x) is locally constant, so finite differences agree that the int path contributes 0.
    await check({
      op: 'Cast via int64 (blocked)', inputs: [inp('x', [2, 3], 0.1, 0.9)],
      build: (g, [x]) => g.add(g.cast(g.cast(x, 'int64'), 'float64'), g.mul(x, x)),
    });
  });

  test('a wrt with no path to the loss gets zeros of its shape (static and symbolic)', async () => {
    const g = new Graph('nopath');
    const x = g.input('x', 'float64', [2, 3]);
    const z = g.input('z', 'float64', [3, 4]);
    const n = g.input('n', 'float64', ['N', 3]);
    const onlyInt = g.input('k', 'float64', [2, 3]);
    const viaInt = g.cast(g.cast(onlyInt, 'int64'), 'float64');
    const loss = g.reduceSum(g.add(g.mul(x, x), viaInt), [0, 1], false);
    const grads = gradients(g, loss, [z, n, onlyInt]);
    assert.deepEqual(grads.map((t) => t.shape), [[3, 4], ['N', 3], [2, 3]]);
    grads.forEach((t, i) => g.output(t, `d${i}`));
    const out = await runGraph(g, {
      x: hostTensor('float64', [2, 3], Float64Array.from(uniform(rng, 6))),
      z: hostTensor('float64', [3, 4], Float64Array.from(uniform(rng, 12))),
      n: hostTensor('float64', [5, 3], Float64Array.from(uniform(rng, 15))),
      k: hostTensor('float64', [2, 3], Float64Array.from(uniform(rng, 6, 0.1, 3))),
    });
    assert.deepEqual(out.d0.dims, [3, 4]);
    assert.deepEqual(out.d1.dims, [5, 3]);
    assert.deepEqual(out.d2.dims, [2, 3]);
    for (const k of ['d0', 'd1', 'd2']) assert.ok(toNumbers(out[k]).every((v) => v === 0), `${k} is not all zeros`);
  });

  test('an op without a rule on the path is an error naming the op and node; off the path it is ignored', () => {
    const g = new Graph('unknown');
    const x = g.input('x', 'float64', [2, 3]);
    const soft = g.node1('Softplus', [x], 'float64', [2, 3]);
    const offPath = g.node1('Softsign', [x], 'float64', [2, 3]);
    const loss = g.reduceSum(soft, [0, 1], false);
    const node = g.nodes.find((n) => n.op === 'Softplus')!;
    const before = g.nodes.length;
    assert.throws(() => gradients(g, loss, [x]), (e: Error) => e.message.includes('Softplus') && e.message.includes(node.name));
    assert.equal(g.nodes.length, before, 'a failed backward pass must not leave nodes behind');
    const loss2 = g.reduceSum(g.mul(x, x), [0, 1], false);
    assert.doesNotThrow(() => gradients(g, loss2, [x]));
    assert.ok(offPath);
  });

  test('only nodes on a wrt → loss path are differentiated', () => {
    const backwardNodes = (extra: boolean): { count: number; ops: string[] } => {
      const g = new Graph('prune');
      const x = g.input('x', 'float64', [2, 3]);
      const w = g.input('w', 'float64', [2, 3]);
      let loss = g.reduceSum(g.mul(x, x), [0, 1], false);
      if (extra) {
        g.tanh(x); // a branch from x that never reaches the loss
        loss = g.add(loss, g.reduceSum(g.exp(w), [0, 1], false)); // reaches the loss, but w is not a wrt
      }
      const before = g.nodes.length;
      gradients(g, loss, [x]);
      return { count: g.nodes.length - before, ops: g.nodes.slice(before).map((n) => n.op) };
    };
    const plain = backwardNodes(false);
    const extra = backwardNodes(true);
    assert.equal(extra.count, plain.count, `extra branches emitted nodes: ${extra.ops} vs ${plain.ops}`);
  });

  test('Max/Min ties send the whole gradient to the first operand', async () => {
    const g = new Graph('ties');
    const a = g.input('a', 'float64', [3]);
    const b = g.input('b', 'float64', [3]);
    const r = g.constant('float64', [3], [1, 2, 3]);
    const loss = g.reduceSum(g.mul(g.add(g.max(a, b), g.min(a, b)), r), [0], false);
    gradients(g, loss, [a, b]).forEach((t, i) => g.output(t, `d${i}`));
    const v = hostTensor('float64', [3], Float64Array.from([0.5, -1, 2]));
    const out = await runGraph(g, { a: v, b: v });
    assert.deepEqual(toNumbers(out.d0), [2, 4, 6]); // from Max and from Min
    assert.deepEqual(toNumbers(out.d1), [0, 0, 0]);
  });

  test('the loss must be a float scalar; wrt must be float', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float64', [2, 3]);
    const i = g.input('i', 'int64', [2]);
    assert.throws(() => gradients(g, g.exp(x), [x]), /float scalar/);
    assert.throws(() => gradients(g, g.reduceSum(x, [0, 1], false), [i]), /int64/);
  });
});
