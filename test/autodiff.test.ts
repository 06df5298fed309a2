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
}

async function check(c: Case): Promise<void> {
  const res = await gradcheck({ build: c.build, inputs: c.inputs, dtype: c.dtype, h: c.h });
  const bound = c.bound ?? BOUND;
  rows.push({ op: c.op, worst: res.worst, bound });
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
  // a composite with a symbolic batch: linear layer, bias, LayerNorm, softmax, mean over tokens
  {
    op: 'composite, symbolic batch N', inputs: [
      { name: 'x', shape: ['N', 3, 4], dims: [2, 3, 4], data: uniform(rng, 24) },
      inp('w', [4, 5]), inp('b', [5]), inp('scale', [5], 0.5, 1.5), inp('beta', [5]),
    ],
    build: (g, [x, w, b, s, beta]) => {
      const h = g.layerNorm(g.add(g.matmul(x, w), b), s, beta); // [N, 3, 5]
      const p = g.softmax(g.tanh(h), 1); // [N, 3, 5]
      return g.reduceMean(g.mul(p, h), [1], false); // [N, 5]
    },
  },
];

describe('gradient rules vs central finite differences (float64)', () => {
  for (const c of cases) {
    test(c.op, async () => {
      if (c.op.includes('symbolic')) {
        const res = await gradcheck({ build: c.build, inputs: c.inputs, outDims: [2, 5] });
        rows.push({ op: c.op, worst: res.worst, bound: BOUND });
        assert.equal(res.gradShapes[0][0], 'N');
        assert.ok(res.worst <= BOUND, `${c.op}: ${JSON.stringify(res.errors)}`);
      } else {
        await check(c);
      }
    });
  }
});
