// A typed ONNX graph builder. Each operator method checks its operands' dtypes and shapes, appends one node and
// returns a handle to its output with the inferred shape, so a mismatch fails here, at build time, naming the
// operator and both shapes, instead of inside ONNX Runtime. Only operators of the default ONNX domain are emitted.
import { broadcast, fail, normAxis, reshapeShape, sameShape } from './shapes.js';
import {
  AttrValue, DType, Dim, FloatDType, Initializer, Node, Shape, SubgraphAttr, Tensor, TypedArray, float, fmtShape,
  isFloat, numel,
} from './types.js';

export const OPSET = 17;

/**
 * A run of nodes that a builder method emitted for one mathematical function (GELU), recorded so that autodiff can
 * differentiate the function as a whole, by the rule named `kind`, instead of node by node: the function's
 * derivative is often far shorter than the chain rule through its parts. `saved` names intermediate values the
 * rule may reuse. Autodiff falls back to the per-node rules when a value inside the run is used outside it.
 */
export interface Composite {
  readonly kind: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly saved: Readonly<Record<string, Tensor>>;
  /** Names of the nodes of the run, the output's node included. */
  readonly nodes: ReadonlySet<string>;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers = new Map<string, Initializer>();
  /** Values known to the graph, by name: inputs, initializers and node outputs. */
  readonly values = new Map<string, Tensor>();
  /** Inputs of an enclosing graph visible from this one (Loop bodies). */
  readonly outer: Graph | undefined;
  /** Human-readable documentation per input/output name (copied into the manifest). */
  readonly docs = new Map<string, string>();
  /** Composite functions by output name (see Composite). */
  readonly composites = new Map<string, Composite>();
  private counter = 0;
  private prefix: string[] = [];
  private constCache = new Map<string, Tensor>();

  constructor(readonly name = 'main', outer?: Graph) {
    this.outer = outer;
  }

  /** Runs `fn` with node and value names prefixed by `name/`, so graphs read like the model's structure. */
  scope<T>(name: string, fn: () => T): T {
    this.prefix.push(name);
    try {
      return fn();
    } finally {
      this.prefix.pop();
    }
  }

  fresh(base: string): string {
    const p = this.prefix.length ? this.prefix.join('/') + '/' : '';
    let name: string;
    do name = `${p}${base}_${this.counter++}`;
    while (this.values.has(name));
    return name;
  }

  get(name: string): Tensor {
    const t = this.values.get(name) ?? this.outer?.get(name);
    if (!t) throw new Error(`graph ${this.name}: unknown value ${name}`);
    return t;
  }

  private define(t: Tensor): Tensor {
    if (this.values.has(t.name)) throw new Error(`graph ${this.name}: value ${t.name} defined twice`);
    this.values.set(t.name, t);
    return t;
  }

  input(name: string, dtype: DType, shape: Shape, doc?: string): Tensor {
    const t = this.define({ name, dtype, shape: [...shape] });
    this.inputs.push(t);
    if (doc) this.docs.set(name, doc);
    return t;
  }

  /** Marks `t` as a graph output under `name` (an Identity node renames it when needed). */
  output(t: Tensor, name = t.name, doc?: string): Tensor {
    const out = name === t.name && !this.inputs.includes(t) && !this.initializers.has(t.name)
      ? t
      : this.node1('Identity', [t], t.dtype, t.shape, {}, name);
    this.outputs.push(out);
    if (doc) this.docs.set(name, doc);
    return out;
  }

  initializer(name: string, dtype: DType, shape: readonly number[], data: TypedArray): Tensor {
    if (data.length !== numel(shape)) throw new Error(`initializer ${name}: ${data.length} values for shape ${fmtShape(shape)}`);
    const t = this.define({ name, dtype, shape: [...shape] });
    this.initializers.set(name, { tensor: t, data });
    return t;
  }

  /** A constant tensor (an initializer), shared between identical small constants. */
  constant(dtype: DType, shape: readonly number[], values: ArrayLike<number> | readonly number[]): Tensor {
    const key = values.length <= 16 ? `${dtype}|${shape.join(',')}|${Array.from(values).join(',')}` : '';
    const hit = key && (this.constCache.get(key) ?? this.outer?.constCache.get(key));
    if (hit) return hit;
    let data: TypedArray;
    switch (dtype) {
      case 'float32': data = Float32Array.from(values); break;
      case 'float64': data = Float64Array.from(values); break;
      case 'int64': data = BigInt64Array.from(Array.from(values, (v) => BigInt(v))); break;
      default: data = Uint8Array.from(values);
    }
    const t = this.initializer(this.fresh('const'), dtype, shape, data);
    if (key) this.constCache.set(key, t);
    return t;
  }

  scalar(dtype: DType, value: number): Tensor {
    return this.constant(dtype, [], [value]);
  }

  ints(values: readonly number[]): Tensor {
    return this.constant('int64', [values.length], values);
  }

  /** Appends a node with one output of the given type. The general entry point; typed methods below use it. */
  node1(op: string, inputs: readonly (Tensor | null)[], dtype: DType, shape: Shape, attrs: Record<string, AttrValue> = {},
    outName?: string): Tensor {
    return this.nodeN(op, inputs, [{ dtype, shape }], attrs, outName ? [outName] : undefined)[0];
  }

  nodeN(op: string, inputs: readonly (Tensor | null)[], outs: { dtype: DType; shape: Shape }[],
    attrs: Record<string, AttrValue> = {}, outNames?: string[]): Tensor[] {
    for (const t of inputs) if (t) this.get(t.name);
    const base = op.toLowerCase();
    const outputs = outs.map((o, i) => this.define({ name: outNames?.[i] ?? this.fresh(base), dtype: o.dtype, shape: [...o.shape] }));
    this.nodes.push({
      op, inputs: inputs.map((t) => t?.name ?? ''), outputs: outputs.map((t) => t.name), attrs,
      name: this.fresh(`${op}`),
    });
    return outputs;
  }

  /**
   * Records the nodes `body` appends as one composite function of `inputs` (see Composite); returns its output.
   */
  composite(kind: string, inputs: readonly Tensor[], body: () => { output: Tensor; saved: Record<string, Tensor> }): Tensor {
    const start = this.nodes.length;
    const { output, saved } = body();
    const run = this.nodes.slice(start);
    // The output's node comes last, so a reverse walk meets it before any other node of the run.
    if (!run.length || !run[run.length - 1].outputs.includes(output.name)) {
      throw new Error(`graph ${this.name}: composite ${kind}'s output ${output.name} must be computed by its last node`);
    }
    const nodes = new Set(run.map((n) => n.name));
    this.composites.set(output.name, { kind, inputs: [...inputs], output, saved, nodes });
    return output;
  }

  // ---- checks ----
  private sameType(op: string, a: Tensor, b: Tensor): void {
    if (a.dtype !== b.dtype) fail(op, `dtype mismatch: ${a.name} is ${a.dtype}, ${b.name} is ${b.dtype}`);
  }
  /** A layer norm's scale and bias: x's dtype, shape [d] for x [..., d]. */
  private normParams(op: string, x: Tensor, scale: Tensor, bias: Tensor): void {
    this.sameType(op, x, scale);
    this.sameType(op, x, bias);
    const d = x.shape[x.shape.length - 1];
    if (scale.shape.length !== 1 || scale.shape[0] !== d || bias.shape.length !== 1 || bias.shape[0] !== d) {
      fail(op, `scale ${fmtShape(scale.shape)} and bias ${fmtShape(bias.shape)} must be [${d}] for input ${fmtShape(x.shape)}`);
    }
  }
  private needFloat(op: string, a: Tensor): FloatDType {
    if (!isFloat(a.dtype)) fail(op, `${a.name} must be float32 or float64, got ${a.dtype}`);
    return a.dtype;
  }

  // ---- elementwise ----
  private binary(op: string, a: Tensor, b: Tensor): Tensor {
    this.sameType(op, a, b);
    return this.node1(op, [a, b], a.dtype, broadcast(op, a.shape, b.shape));
  }
  add(a: Tensor, b: Tensor): Tensor { return this.binary('Add', a, b); }
  sub(a: Tensor, b: Tensor): Tensor { return this.binary('Sub', a, b); }
  mul(a: Tensor, b: Tensor): Tensor { return this.binary('Mul', a, b); }
  div(a: Tensor, b: Tensor): Tensor { return this.binary('Div', a, b); }
  max(a: Tensor, b: Tensor): Tensor { return this.binary('Max', a, b); }
  min(a: Tensor, b: Tensor): Tensor { return this.binary('Min', a, b); }
  /** Pow with a constant exponent (the only form the autodiff differentiates). */
  pow(a: Tensor, exponent: number): Tensor {
    this.needFloat('Pow', a);
    return this.node1('Pow', [a, this.scalar(a.dtype, exponent)], a.dtype, a.shape);
  }
  private compare(op: string, a: Tensor, b: Tensor): Tensor {
    this.sameType(op, a, b);
    return this.node1(op, [a, b], 'bool', broadcast(op, a.shape, b.shape));
  }
  greaterOrEqual(a: Tensor, b: Tensor): Tensor { return this.compare('GreaterOrEqual', a, b); }
  greater(a: Tensor, b: Tensor): Tensor { return this.compare('Greater', a, b); }
  less(a: Tensor, b: Tensor): Tensor { return this.compare('Less', a, b); }
  equal(a: Tensor, b: Tensor): Tensor { return this.compare('Equal', a, b); }
  and(a: Tensor, b: Tensor): Tensor {
    if (a.dtype !== 'bool' || b.dtype !== 'bool') fail('And', `operands must be bool, got ${a.dtype}, ${b.dtype}`);
    return this.node1('And', [a, b], 'bool', broadcast('And', a.shape, b.shape));
  }
  not(a: Tensor): Tensor {
    if (a.dtype !== 'bool') fail('Not', `operand must be bool, got ${a.dtype}`);
    return this.node1('Not', [a], 'bool', a.shape);
  }

  private unary(op: string, a: Tensor, attrs: Record<string, AttrValue> = {}): Tensor {
    this.needFloat(op, a);
    return this.node1(op, [a], a.dtype, a.shape, attrs);
  }
  neg(a: Tensor): Tensor { return this.unary('Neg', a); }
  exp(a: Tensor): Tensor { return this.unary('Exp', a); }
  log(a: Tensor): Tensor { return this.unary('Log', a); }
  sqrt(a: Tensor): Tensor { return this.unary('Sqrt', a); }
  tanh(a: Tensor): Tensor { return this.unary('Tanh', a); }
  erf(a: Tensor): Tensor { return this.unary('Erf', a); }
  relu(a: Tensor): Tensor { return this.unary('Relu', a); }
  sigmoid(a: Tensor): Tensor { return this.unary('Sigmoid', a); }
  abs(a: Tensor): Tensor { return this.unary('Abs', a); }
  sign(a: Tensor): Tensor { return this.unary('Sign', a); }
  softmax(a: Tensor, axis = -1): Tensor { return this.unary('Softmax', a, { axis }); }
  logSoftmax(a: Tensor, axis = -1): Tensor { return this.unary('LogSoftmax', a, { axis }); }

  /**
   * Exact GELU, x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)) (PyTorch's nn.GELU), as a composite whose gradient is
   * dy·(Φ(x) + x·φ(x)). `erf` builds erf from standard operators where the Erf kernel is missing (float64).
   * Written as (x·½)·(1 + erf(x/√2)), with a Div by √2: the form ONNX Runtime's Gelu fusion recognizes, so that where
   * nothing else reads its intermediates (inference, the teacher's forward pass) it runs as one fused kernel instead
   * of five elementwise passes. Where the backward pass reads 1 + erf, the nodes stay as written.
   */
  gelu(x: Tensor, erf: (z: Tensor) => Tensor = (z) => this.erf(z)): Tensor {
    const dt = this.needFloat('Gelu', x);
    return this.composite('Gelu', [x], () => {
      const twoCdf = this.add(erf(this.div(x, this.scalar(dt, Math.SQRT2))), this.scalar(dt, 1)); // 2Φ(x)
      return { output: this.mul(this.mul(x, this.scalar(dt, 0.5)), twoCdf), saved: { twoCdf } };
    });
  }

  identity(a: Tensor, name?: string): Tensor { return this.node1('Identity', [a], a.dtype, a.shape, {}, name); }

  cast(a: Tensor, to: DType): Tensor {
    return this.node1('Cast', [a], to, a.shape, { to: ONNX_DTYPE[to] });
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    if (cond.dtype !== 'bool') fail('Where', `condition ${cond.name} must be bool, got ${cond.dtype}`);
    this.sameType('Where', a, b);
    return this.node1('Where', [cond, a, b], a.dtype, broadcast('Where', cond.shape, broadcast('Where', a.shape, b.shape)));
  }

  // ---- linear algebra ----
  /** Numpy matmul: [..., M, K] × [..., K, N] → [..., M, N] (a 2-D right operand broadcasts over the batch). */
  matmul(a: Tensor, b: Tensor): Tensor {
    const op = 'MatMul';
    this.sameType(op, a, b);
    if (a.shape.length < 2 || b.shape.length < 2) fail(op, `operands need rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) fail(op, `inner dimensions differ: ${fmtShape(a.shape)} × ${fmtShape(b.shape)}`);
    const batch = broadcast(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.node1(op, [a, b], a.dtype, [...batch, m, n]);
  }

  /** ONNX Gemm without C: op(a) × op(b) for 2-D a and b, op transposing where asked (no Transpose node). */
  gemm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
    const op = 'Gemm';
    this.needFloat(op, a);
    this.sameType(op, a, b);
    if (a.shape.length !== 2 || b.shape.length !== 2) fail(op, `operands must be 2-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (k !== k2) fail(op, `inner dimensions differ: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} × ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`);
    return this.node1(op, [a, b], a.dtype, [m, n], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
  }

  // ---- reductions ----
  private reduceAxes(op: string, a: Tensor, axes: readonly number[], keepdims: boolean): { axes: number[]; shape: Dim[] } {
    const r = a.shape.length;
    const norm = axes.map((x) => normAxis(op, x, r)).sort((x, y) => x - y);
    const shape: Dim[] = [];
    a.shape.forEach((d, i) => {
      if (!norm.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    return { axes: norm, shape };
  }
  reduceSum(a: Tensor, axes: readonly number[], keepdims = true): Tensor {
    const { axes: ax, shape } = this.reduceAxes('ReduceSum', a, axes, keepdims);
    return this.node1('ReduceSum', [a, this.ints(ax)], a.dtype, shape, { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(a: Tensor, axes: readonly number[], keepdims = true): Tensor {
    const { axes: ax, shape } = this.reduceAxes('ReduceMean', a, axes, keepdims);
    return this.node1('ReduceMean', [a], a.dtype, shape, { axes: ax, keepdims: keepdims ? 1 : 0 });
  }
  reduceMax(a: Tensor, axes: readonly number[], keepdims = true): Tensor {
    const { axes: ax, shape } = this.reduceAxes('ReduceMax', a, axes, keepdims);
    return this.node1('ReduceMax', [a], a.dtype, shape, { axes: ax, keepdims: keepdims ? 1 : 0 });
  }
  argMax(a: Tensor, axis: number, keepdims = false): Tensor {
    const { axes: [ax], shape } = this.reduceAxes('ArgMax', a, [axis], keepdims);
    return this.node1('ArgMax', [a], 'int64', shape, { axis: ax, keepdims: keepdims ? 1 : 0 });
  }

  // ---- shape manipulation ----
  reshape(a: Tensor, target: readonly number[]): Tensor {
    return this.node1('Reshape', [a, this.ints(target)], a.dtype, reshapeShape('Reshape', a.shape, target));
  }
  transpose(a: Tensor, perm: readonly number[]): Tensor {
    if (perm.length !== a.shape.length || [...perm].sort().some((p, i) => p !== i)) {
      fail('Transpose', `perm [${perm}] is not a permutation of the axes of ${fmtShape(a.shape)}`);
    }
    return this.node1('Transpose', [a], a.dtype, perm.map((p) => a.shape[p]), { perm: [...perm] });
  }
  unsqueeze(a: Tensor, axes: readonly number[]): Tensor {
    const r = a.shape.length + axes.length;
    const norm = axes.map((x) => normAxis('Unsqueeze', x, r));
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) shape.push(norm.includes(i) ? 1 : a.shape[j++]);
    return this.node1('Unsqueeze', [a, this.ints(norm)], a.dtype, shape);
  }
  squeeze(a: Tensor, axes: readonly number[]): Tensor {
    const norm = axes.map((x) => normAxis('Squeeze', x, a.shape.length));
    for (const x of norm) if (a.shape[x] !== 1) fail('Squeeze', `axis ${x} of ${fmtShape(a.shape)} is not 1`);
    return this.node1('Squeeze', [a, this.ints(norm)], a.dtype, a.shape.filter((_, i) => !norm.includes(i)));
  }
  concat(parts: readonly Tensor[], axis: number): Tensor {
    const op = 'Concat';
    const first = parts[0];
    const ax = normAxis(op, axis, first.shape.length);
    let total: Dim = 0;
    for (const p of parts) {
      this.sameType(op, first, p);
      if (p.shape.length !== first.shape.length || p.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
        fail(op, `shapes ${fmtShape(first.shape)} and ${fmtShape(p.shape)} differ outside axis ${ax}`);
      }
      const d = p.shape[ax];
      total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
    }
    const shape = [...first.shape];
    shape[ax] = total;
    return this.node1(op, parts, first.dtype, shape, { axis: ax });
  }
  /** Static slice along given axes (ONNX Slice with constant starts/ends, step 1). */
  slice(a: Tensor, axes: readonly number[], starts: readonly number[], ends: readonly number[]): Tensor {
    const shape = [...a.shape];
    const norm = axes.map((x) => normAxis('Slice', x, a.shape.length));
    norm.forEach((x, i) => {
      const d = a.shape[x];
      if (typeof d !== 'number') fail('Slice', `axis ${x} of ${fmtShape(a.shape)} is symbolic`);
      const s = Math.max(0, Math.min(d, starts[i] < 0 ? starts[i] + d : starts[i]));
      const e = Math.max(0, Math.min(d, ends[i] < 0 ? ends[i] + d : ends[i]));
      shape[x] = Math.max(0, e - s);
    });
    return this.node1('Slice', [a, this.ints(starts), this.ints(ends), this.ints(norm)], a.dtype, shape);
  }
  /** Split along `axis` into consecutive parts of the given static sizes (ONNX Split, sizes as an input). */
  split(a: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
    const ax = normAxis('Split', axis, a.shape.length);
    const total = sizes.reduce((x, y) => x + y, 0);
    if (a.shape[ax] !== total) fail('Split', `sizes [${sizes}] do not add up to axis ${ax} of ${fmtShape(a.shape)}`);
    const outs = sizes.map((n) => ({ dtype: a.dtype, shape: a.shape.map((d, i) => (i === ax ? n : d)) }));
    return this.nodeN('Split', [a, this.ints(sizes)], outs, { axis: ax });
  }
  expand(a: Tensor, shape: readonly number[]): Tensor {
    return this.node1('Expand', [a, this.ints(shape)], a.dtype, broadcast('Expand', a.shape, shape));
  }
  /** Expand to a shape computed in the graph (`shape`: int64 [rank]), e.g. a symbolic batch; `out` is its declared shape. */
  expandTo(a: Tensor, shape: Tensor, out: Shape): Tensor {
    if (shape.dtype !== 'int64' || shape.shape.length !== 1) fail('Expand', `shape must be int64 [rank], got ${shape.dtype} ${fmtShape(shape.shape)}`);
    return this.node1('Expand', [a, shape], a.dtype, out);
  }
  /** The shape of `a` as int64 [rank] (ONNX Shape). */
  shapeOf(a: Tensor): Tensor {
    return this.node1('Shape', [a], 'int64', [a.shape.length]);
  }
  /** Gather along `axis`: output shape is data[:axis] + indices + data[axis+1:]. */
  gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
    if (indices.dtype !== 'int64') fail('Gather', `indices must be int64, got ${indices.dtype}`);
    const ax = normAxis('Gather', axis, data.shape.length);
    const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
    return this.node1('Gather', [data, indices], data.dtype, shape, { axis: ax });
  }
  /**
   * The k largest entries of a 1-D tensor, largest first (ONNX TopK; equal values keep the lower index first):
   * values [k] and their int64 indices [k]. Has no gradient rule: it is meant for selections off the gradient path.
   */
  topK(a: Tensor, k: number): [Tensor, Tensor] {
    const op = 'TopK';
    this.needFloat(op, a);
    if (a.shape.length !== 1) fail(op, `input must be 1-D, got ${fmtShape(a.shape)}`);
    if (!Number.isInteger(k) || k < 1 || (typeof a.shape[0] === 'number' && k > a.shape[0])) fail(op, `k must be in 1..${a.shape[0]}, got ${k}`);
    const [values, indices] = this.nodeN(op, [a, this.ints([k])], [{ dtype: a.dtype, shape: [k] }, { dtype: 'int64', shape: [k] }],
      { axis: 0, largest: 1, sorted: 1 });
    return [values, indices];
  }
  gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
    const op = 'GatherElements';
    if (indices.dtype !== 'int64') fail(op, `indices must be int64, got ${indices.dtype}`);
    const ax = normAxis(op, axis, data.shape.length);
    if (indices.shape.length !== data.shape.length || indices.shape.some((d, i) => i !== ax && d !== data.shape[i])) {
      fail(op, `indices ${fmtShape(indices.shape)} must match data ${fmtShape(data.shape)} outside axis ${ax}`);
    }
    return this.node1(op, [data, indices], data.dtype, indices.shape, { axis: ax });
  }
  /** ScatterElements with reduction 'add' onto `data` (used by the Gather/GatherElements gradients). */
  scatterElementsAdd(data: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
    const op = 'ScatterElements';
    this.sameType(op, data, updates);
    if (!sameShape(indices.shape, updates.shape)) fail(op, `indices ${fmtShape(indices.shape)} and updates ${fmtShape(updates.shape)} differ`);
    const ax = normAxis(op, axis, data.shape.length);
    return this.node1(op, [data, indices, updates], data.dtype, data.shape, { axis: ax, reduction: 'add' });
  }

  // ---- normalization ----
  /**
   * Layer normalization over the last axis from standard elementwise and reduction operators, as a composite whose
   * gradient rule reuses the forward's x̂ and 1/σ: y = x̂·scale + bias, x̂ = (x − μ)·r, r = 1/√(σ² + ε). 10 nodes where
   * the ONNX op is one, yet ONNX Runtime 1.29's CPU LayerNormalization kernel takes 2.7–5× their time
   * (bench/op-ab.ts), and its backward pass had to recompute μ and r.
   */
  layerNormDecomposed(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    const op = 'LayerNorm';
    const dt = this.needFloat(op, x);
    this.normParams(op, x, scale, bias);
    const last = [x.shape.length - 1];
    return this.composite('LayerNorm', [x, scale, bias], () => {
      const xc = this.sub(x, this.reduceMean(x, last, true));
      const variance = this.reduceMean(this.mul(xc, xc), last, true);
      const r = this.div(this.scalar(dt, 1), this.sqrt(this.add(variance, this.scalar(dt, epsilon)))); // [..., 1]
      const xhat = this.mul(xc, r);
      return { output: this.add(this.mul(xhat, scale), bias), saved: { xhat, r } };
    });
  }

  /** LayerNormalization over the last axis (ONNX opset 17); returns the normalized output only. */
  layerNorm(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    const op = 'LayerNormalization';
    this.needFloat(op, x);
    this.normParams(op, x, scale, bias);
    return this.node1(op, [x, scale, bias], x.dtype, x.shape, { axis: -1, epsilon: float(epsilon) });
  }

  /** An ONNX Loop node; `body` is a finished Graph. Outputs: final loop-carried values, then scan outputs. */
  loop(tripCount: Tensor, cond: Tensor | null, carried: readonly Tensor[], body: Graph,
    scanOutputs: { dtype: DType; shape: Shape }[]): Tensor[] {
    const outs = [...carried.map((t) => ({ dtype: t.dtype, shape: t.shape })), ...scanOutputs];
    const attr: SubgraphAttr = { kind: 'graph', value: body };
    return this.nodeN('Loop', [tripCount, cond, ...carried], outs, { body: attr });
  }
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = { float32: 1, uint8: 2, int64: 7, bool: 9, float64: 11 };
