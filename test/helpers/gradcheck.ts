// Gradient checking against central finite differences, run through ONNX Runtime. A check builds two graphs from
// the same `build` function: one with the autodiff backward pass (analytic gradients) and one forward-only graph
// for the finite differences, so the numeric side never depends on the code under test.
import { gradients } from '../../src/autodiff/index.js';
import { Graph } from '../../src/graph/builder.js';
import { serialize } from '../../src/graph/serialize.js';
import { DType, FloatDType, Shape, Tensor, isStatic } from '../../src/graph/types.js';
import { Rng } from '../../src/data/rng.js';
import { Session } from '../../src/runtime/session.js';
import { HostTensor, hostTensor, toNumbers } from '../../src/runtime/tensor.js';

export interface GradInput {
  name: string;
  /** Declared shape (may hold symbolic dims). */
  shape: Shape;
  /** Concrete dims fed at run time; defaults to `shape` when that is static. */
  dims?: readonly number[];
  data: ArrayLike<number>;
  dtype?: FloatDType;
}

export interface GradcheckSpec {
  /** Appends the op(s) under test; returns y. The loss is ReduceSum(y · R) with a fixed random R of y's shape. */
  build: (g: Graph, xs: Tensor[]) => Tensor;
  inputs: readonly GradInput[];
  /** Default dtype of the inputs (float64). */
  dtype?: FloatDType;
  /** Finite-difference step (1e-6). */
  h?: number;
  /** Concrete dims of y when its declared shape is symbolic. */
  outDims?: readonly number[];
  stop?: ReadonlySet<string>;
  seed?: number;
}

export interface GradcheckResult {
  /** Normwise relative error per input: max|analytic − numeric| / max(max|numeric|, 1e-8). */
  errors: { name: string; error: number }[];
  worst: number;
  analytic: number[][];
  numeric: number[][];
  /** The gradient tensors' declared shapes (as the autodiff typed them). */
  gradShapes: Shape[];
}

/** Serializes `g` and runs it once on CPU with one thread (the graphs here are tiny). */
export async function runGraph(g: Graph, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const session = await Session.create(serialize(g), { threads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function toTyped(dtype: DType, values: ArrayLike<number>): HostTensor['data'] {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

/** max|a − n| / max(max|n|, 1e-8): normwise, so near-zero entries of a well-scaled gradient do not dominate. */
export function relError(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < numeric.length; i++) {
    diff = Math.max(diff, Math.abs(analytic[i] - numeric[i]));
    scale = Math.max(scale, Math.abs(numeric[i]));
  }
  return diff / Math.max(scale, 1e-8);
}

function copyFloats(d: HostTensor['data']): Float32Array | Float64Array {
  if (d instanceof Float32Array) return Float32Array.from(d);
  if (d instanceof Float64Array) return Float64Array.from(d);
  throw new Error('gradcheck: inputs must be float');
}

function dimsOf(inp: { shape: Shape; dims?: readonly number[] }, what: string): number[] {
  if (inp.dims) return [...inp.dims];
  if (!isStatic(inp.shape)) throw new Error(`gradcheck: ${what} has a symbolic shape; give its concrete dims`);
  return [...inp.shape];
}

/** Builds inputs, y = build(...), R and loss = ReduceSum(y · R) into a fresh graph. */
function buildLoss(spec: GradcheckSpec): { g: Graph; xs: Tensor[]; y: Tensor; loss: Tensor } {
  const g = new Graph('gradcheck');
  const xs = spec.inputs.map((i) => g.input(i.name, i.dtype ?? spec.dtype ?? 'float64', i.shape));
  const y = spec.build(g, xs);
  const r = g.input('R', y.dtype, y.shape);
  const prod = g.mul(y, r);
  const loss = prod.shape.length === 0 ? prod : g.reduceSum(prod, prod.shape.map((_, i) => i), false);
  return { g, xs, y, loss };
}

export async function gradcheck(spec: GradcheckSpec): Promise<GradcheckResult> {
  const h = spec.h ?? 1e-6;
  const rng = new Rng(spec.seed ?? 1234);

  // Analytic: forward + backward in one graph.
  const a = buildLoss(spec);
  const grads = gradients(a.g, a.loss, a.xs, { stop: spec.stop });
  a.g.output(a.loss, 'loss');
  grads.forEach((t, i) => a.g.output(t, `grad_${i}`));

  const rDims = spec.outDims ? [...spec.outDims] : dimsOf(a.y, 'output');
  const rData = Array.from({ length: rDims.reduce((p, d) => p * d, 1) }, () => rng.next() * 2 - 1);
  const feeds: Record<string, HostTensor> = { R: hostTensor(a.y.dtype, rDims, toTyped(a.y.dtype, rData)) };
  spec.inputs.forEach((inp, i) => {
    feeds[inp.name] = hostTensor(a.xs[i].dtype, dimsOf(inp, inp.name), toTyped(a.xs[i].dtype, inp.data));
  });
  const out = await runGraph(a.g, feeds);
  const analytic = grads.map((_, i) => toNumbers(out[`grad_${i}`]));

  // Numeric: central differences on the forward-only graph, one coordinate at a time.
  const f = buildLoss(spec);
  f.g.output(f.loss, 'loss');
  const session = await Session.create(serialize(f.g), { threads: 1 });
  const numeric: number[][] = [];
  try {
    for (const inp of spec.inputs) {
      const base = feeds[inp.name];
      const grad: number[] = [];
      for (let j = 0; j < base.data.length; j++) {
        const plus = copyFloats(base.data);
        const minus = copyFloats(base.data);
        plus[j] += h;
        minus[j] -= h;
        const lp = Number((await session.run({ ...feeds, [inp.name]: { ...base, data: plus } })).loss.data[0]);
        const lm = Number((await session.run({ ...feeds, [inp.name]: { ...base, data: minus } })).loss.data[0]);
        grad.push((lp - lm) / (plus[j] - minus[j])); // the stored step, exact even after float32 rounding
      }
      numeric.push(grad);
    }
  } finally {
    await session.release();
  }
  const errors = spec.inputs.map((inp, i) => ({ name: inp.name, error: relError(analytic[i], numeric[i]) }));
  return {
    errors, worst: Math.max(...errors.map((e) => e.error)), analytic, numeric, gradShapes: grads.map((t) => t.shape),
  };
}

/** A readable table: one row per check. */
export function formatTable(title: string, rows: readonly { op: string; worst: number; bound: number }[]): string {
  const w = Math.max(...rows.map((r) => r.op.length), 2);
  const lines = rows.map((r) => `  ${r.op.padEnd(w)}  ${r.worst.toExponential(2).padStart(9)}  ≤ ${r.bound.toExponential(0)}  ${r.worst <= r.bound ? 'ok' : 'FAIL'}`);
  return [title, `  ${'op'.padEnd(w)}  ${'worst rel'.padStart(9)}  bound`, ...lines].join('\n');
}

/** Uniform values in [lo, hi) from a seeded generator. */
export function uniform(rng: Rng, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/**
 * An exported gradients.onnx against central finite differences of its own `loss` output: for each parameter in
 * `params`, the coordinates `pick(n)` chooses of its n entries (called once per parameter, in order), each error
 * relative to that tensor's largest |grad|. `analytic` is one run of the session on `feeds`.
 */
export async function checkGradientsOnnx(session: Session, feeds: Record<string, HostTensor>, analytic: Record<string, HostTensor>,
  params: readonly { name: string }[], pick: (n: number) => Iterable<number>, h = 1e-6): Promise<{ worst: number; worstName: string; checked: number }> {
  const lossAt = async (name: string, i: number, delta: number) => {
    const t = feeds[name];
    const data = (t.data as Float64Array).slice();
    data[i] += delta;
    return Number((await session.run({ ...feeds, [name]: { ...t, data } }, ['loss'])).loss.data[0]);
  };
  let worst = 0;
  let worstName = '';
  let checked = 0;
  for (const s of params) {
    const grad = analytic[`grad.${s.name}`].data as Float64Array;
    const scale = Math.max(1e-8, ...Array.from(grad, Math.abs));
    for (const i of pick(grad.length)) {
      const numeric = (await lossAt(`p.${s.name}`, i, h) - await lossAt(`p.${s.name}`, i, -h)) / (2 * h);
      const err = Math.abs(numeric - grad[i]) / scale;
      checked++;
      if (err > worst) { worst = err; worstName = `${s.name}[${i}]`; }
    }
  }
  return { worst, worstName, checked };
}
