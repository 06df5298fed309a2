// Shape helpers shared by the gradient rules. They keep symbolic dimensions working: where a static shape is
// known they emit constants, otherwise they read the runtime shape with a Shape node.
import { Graph } from '../graph/builder.js';
import { normAxis, sameShape } from '../graph/shapes.js';
import { Dim, Node, Shape, Tensor, fmtShape, isStatic } from '../graph/types.js';
import { AutodiffError } from './types.js';

/** The value of node input `i` (throws on an omitted optional input). */
export function inputOf(g: Graph, node: Node, i: number): Tensor {
  const name = node.inputs[i];
  if (!name) throw new AutodiffError(`${node.op} node ${node.name}: input ${i} is omitted`);
  return g.get(name);
}

export function outputOf(g: Graph, node: Node, i = 0): Tensor {
  return g.get(node.outputs[i]);
}

/** The values of a constant (initializer) input, such as Reduce axes, Slice starts or a Pow exponent; null if omitted. */
export function constValues(g: Graph, node: Node, i: number): number[] | null {
  const name = node.inputs[i];
  if (!name) return null;
  for (let s: Graph | undefined = g; s; s = s.outer) {
    const init = s.initializers.get(name);
    if (init) return Array.from(init.data as ArrayLike<number | bigint>, Number);
  }
  throw new AutodiffError(`${node.op} node ${node.name}: input ${i} (${name}) must be a constant initializer to differentiate`);
}

/** A float attribute's value (FloatAttr or plain number), or `dflt`. */
export function floatAttr(node: Node, key: string, dflt: number): number {
  const v = node.attrs[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && !Array.isArray(v) && v.kind === 'float') return v.value;
  throw new AutodiffError(`${node.op} node ${node.name}: attribute ${key} is not a float`);
}

export function intAttr(node: Node, key: string, dflt: number): number {
  const v = node.attrs[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw new AutodiffError(`${node.op} node ${node.name}: attribute ${key} is not an int`);
  return v;
}

export function intsAttr(node: Node, key: string): number[] | null {
  const v = node.attrs[key];
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw new AutodiffError(`${node.op} node ${node.name}: attribute ${key} is not a list of ints`);
  return v;
}

export const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/** The runtime shape of `t` as an int64 [rank] tensor: a constant when static, a Shape node otherwise. */
function shapeTensor(g: Graph, t: Tensor): Tensor {
  if (isStatic(t.shape)) return g.ints(t.shape);
  return g.node1('Shape', [t], 'int64', [t.shape.length]);
}

/** Broadcasts `t` up to the shape of `like` (numpy rules). */
export function expandLike(g: Graph, t: Tensor, like: Tensor): Tensor {
  if (sameShape(t.shape, like.shape)) return t;
  if (isStatic(like.shape)) return g.expand(t, like.shape);
  return g.node1('Expand', [t, shapeTensor(g, like)], t.dtype, like.shape);
}

/** Zeros with the dtype and shape of `like`. */
export function zerosLike(g: Graph, like: Tensor): Tensor {
  return expandLike(g, g.scalar(like.dtype, 0), like);
}

/** Reshapes `t` (same element count) to the shape of `like`. */
export function reshapeLike(g: Graph, t: Tensor, like: Tensor): Tensor {
  if (sameShape(t.shape, like.shape)) return t;
  if (isStatic(like.shape)) return g.reshape(t, like.shape);
  return g.node1('Reshape', [t, shapeTensor(g, like)], t.dtype, like.shape);
}

/**
 * Sums a gradient of a broadcast result back to the shape of the operand that was broadcast: over the leading
 * axes the operand lacked and over the axes where it had size 1. ReduceSum keeps those axes, and a Squeeze of the
 * leading ones (rather than a Reshape to a static target) keeps symbolic dimensions working.
 */
export function unbroadcast(g: Graph, grad: Tensor, shape: Shape): Tensor {
  const lead = grad.shape.length - shape.length;
  if (lead < 0) throw new AutodiffError(`unbroadcast: gradient ${fmtShape(grad.shape)} has lower rank than ${fmtShape(shape)}`);
  const axes: number[] = [];
  grad.shape.forEach((d, i) => {
    if (i < lead) { axes.push(i); return; }
    const s = shape[i - lead];
    if (s === d) return;
    if (s === 1) axes.push(i);
    else throw new AutodiffError(`unbroadcast: ${fmtShape(shape)} does not broadcast to ${fmtShape(grad.shape)}`);
  });
  if (axes.length === 0) return grad;
  const summed = g.reduceSum(grad, axes, true); // [1 × lead, ...shape]
  return lead > 0 ? g.squeeze(summed, range(0, lead)) : summed;
}

/** Swaps the last two axes: [..., M, N] → [..., N, M]. */
export function transposeLast2(g: Graph, t: Tensor): Tensor {
  const r = t.shape.length;
  return g.transpose(t, [...range(0, r - 2), r - 1, r - 2]);
}

/** Product of dims as a Dim: a number when all are static, otherwise a symbolic name such as "N*16". */
export function dimProduct(dims: Shape): Dim {
  if (isStatic(dims)) return dims.reduce((p, d) => p * d, 1);
  return dims.join('*');
}

/** [..., K] → [P, K] with P the product of the leading dims (symbolic-safe; K must be static). */
export function flattenLeading(g: Graph, t: Tensor): Tensor {
  const k = t.shape[t.shape.length - 1];
  if (typeof k !== 'number') throw new AutodiffError(`flattenLeading: last dimension of ${fmtShape(t.shape)} is symbolic`);
  return g.node1('Reshape', [t, g.ints([-1, k])], t.dtype, [dimProduct(t.shape.slice(0, -1)), k]);
}

/** Normalized, sorted axes. */
export function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  return axes.map((a) => normAxis(op, a, rank)).sort((a, b) => a - b);
}
