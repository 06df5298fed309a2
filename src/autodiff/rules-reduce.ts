// Gradient rules for reductions and for the normalizing reductions Softmax and LogSoftmax.
import { Graph } from '../graph/builder.js';
import { Node, Tensor } from '../graph/types.js';
import { AutodiffError, GradRule } from './types.js';
import { constValues, expandLike, inputOf, intAttr, intsAttr, normAxes, outputOf, range } from './util.js';

/** Spreads the gradient of a reduction back over the reduced axes: [reduced shape] → x's shape. */
function spread(g: Graph, dy: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  const kept = keepdims ? dy : g.unsqueeze(dy, axes); // [x's shape with 1 on each reduced axis]
  return expandLike(g, kept, x);
}

/** The reduced axes of a Reduce* node (attribute or input form); all axes when none are given. */
function reducedAxes(g: Graph, node: Node, x: Tensor, fromInput: boolean): number[] {
  const axes = fromInput ? constValues(g, node, 1) : intsAttr(node, 'axes');
  if (!axes || axes.length === 0) {
    if (intAttr(node, 'noop_with_empty_axes', 0) === 1) return [];
    return range(0, x.shape.length);
  }
  return normAxes(node.op, axes, x.shape.length);
}

export const reduceRules: Record<string, GradRule> = {
  // opset 13+: axes are the second input.
  ReduceSum: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const x = inputOf(g, node, 0);
    const axes = reducedAxes(g, node, x, true);
    return [spread(g, dy, x, axes, intAttr(node, 'keepdims', 1) === 1), null];
  },
  // opset 17: axes are an attribute.
  ReduceMean: (g, node, [dy]) => {
    if (!dy) return [null];
    const x = inputOf(g, node, 0);
    const axes = reducedAxes(g, node, x, false);
    let count = 1;
    for (const a of axes) {
      const d = x.shape[a];
      if (typeof d !== 'number') throw new AutodiffError(`ReduceMean node ${node.name}: reduced axis ${a} is symbolic`);
      count *= d;
    }
    const scaled = g.mul(dy, g.scalar(dy.dtype, 1 / count));
    return [spread(g, scaled, x, axes, intAttr(node, 'keepdims', 1) === 1)];
  },
  // y = softmax(x): dx = y · (dy − Σ dy·y), the sum along the softmax axis (kept for broadcasting).
  Softmax: (g, node, [dy]) => {
    if (!dy) return [null];
    const y = outputOf(g, node);
    const axis = intAttr(node, 'axis', -1);
    const s = g.reduceSum(g.mul(dy, y), [axis], true);
    return [g.mul(y, g.sub(dy, s))];
  },
  // y = log softmax(x): dx = dy − softmax(x) · Σ dy, with softmax(x) = e^y (y ≤ 0, so e^y cannot overflow).
  LogSoftmax: (g, node, [dy]) => {
    if (!dy) return [null];
    const y = outputOf(g, node);
    const axis = intAttr(node, 'axis', -1);
    const s = g.reduceSum(dy, [axis], true);
    return [g.sub(dy, g.mul(g.exp(y), s))];
  },
};
