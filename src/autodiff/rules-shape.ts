// Gradient rules for operators that move values without arithmetic: the gradient is moved back the same way
// (reshaped, transposed, sliced, padded or scatter-added into zeros).
import { Graph } from '../graph/builder.js';
import { Tensor, fmtShape, isStatic } from '../graph/types.js';
import { AutodiffError, GradRule } from './types.js';
import {
  constValues, dimProduct, expandLike, inputOf, intAttr, intsAttr, normAxes, range, reshapeLike, unbroadcast, zerosLike,
} from './util.js';

export const shapeRules: Record<string, GradRule> = {
  Reshape: (g, node, [dy]) => [dy ? reshapeLike(g, dy, inputOf(g, node, 0)) : null, null],
  Transpose: (g, node, [dy]) => {
    if (!dy) return [null];
    const rank = dy.shape.length;
    const perm = intsAttr(node, 'perm') ?? range(0, rank).reverse();
    const inverse: number[] = new Array(rank);
    perm.forEach((p, i) => { inverse[p] = i; });
    return [g.transpose(dy, inverse)];
  },
  // Unsqueeze's axes are relative to its output (dy's rank), as Squeeze's are to its input: each undoes the other.
  Unsqueeze: (g, node, [dy]) => [dy ? g.squeeze(dy, constValues(g, node, 1) ?? []) : null, null],
  Squeeze: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const x = inputOf(g, node, 0);
    const axes = constValues(g, node, 1) ?? range(0, x.shape.length).filter((i) => x.shape[i] === 1);
    return [g.unsqueeze(dy, normAxes('Squeeze', axes, x.shape.length)), null];
  },
  Expand: (g, node, [dy]) => [dy ? unbroadcast(g, dy, inputOf(g, node, 0).shape) : null, null],
  // Each part's gradient is its slice of dy along the concat axis.
  Concat: (g, node, [dy]) => {
    const parts = node.inputs.map((_, i) => inputOf(g, node, i));
    if (!dy) return parts.map(() => null);
    const [axis] = normAxes('Concat', [intAttr(node, 'axis', 0)], dy.shape.length);
    let offset = 0;
    return parts.map((p) => {
      const d = p.shape[axis];
      if (typeof d !== 'number') throw new AutodiffError(`Concat node ${node.name}: part ${p.name} has symbolic size on axis ${axis}`);
      const s = g.slice(dy, [axis], [offset], [offset + d]);
      offset += d;
      return s;
    });
  },
  // The parts' gradients side by side again (zeros for a part that gets none): one Concat where slicing would take a
  // Pad per part and an Add per pair.
  Split: (g, node, gradOut) => {
    if (gradOut.every((t) => !t)) return node.inputs.map(() => null);
    const [axis] = normAxes('Split', [intAttr(node, 'axis', 0)], inputOf(g, node, 0).shape.length);
    const parts = node.outputs.map((o, i) => gradOut[i] ?? zerosLike(g, g.get(o)));
    return [g.concat(parts, axis), ...node.inputs.slice(1).map(() => null)];
  },
  // Slice with step 1: pad dy with zeros back to the input's extent on each sliced axis.
  Slice: (g, node, [dy]) => {
    if (!dy) return [null, null, null, null, null].slice(0, node.inputs.length);
    const x = inputOf(g, node, 0);
    const rank = x.shape.length;
    const starts = constValues(g, node, 1) ?? [];
    const ends = constValues(g, node, 2) ?? [];
    const steps = constValues(g, node, 4);
    if (steps && steps.some((s) => s !== 1)) throw new AutodiffError(`Slice node ${node.name}: only step 1 is differentiable, got [${steps}]`);
    const axes = constValues(g, node, 3) ?? range(0, starts.length);
    const pads = new Array<number>(2 * rank).fill(0); // [begin_0 … begin_{r−1}, end_0 … end_{r−1}]
    axes.forEach((raw, i) => {
      const [a] = normAxes('Slice', [raw], rank);
      const d = x.shape[a];
      if (typeof d !== 'number') throw new AutodiffError(`Slice node ${node.name}: sliced axis ${a} of ${fmtShape(x.shape)} is symbolic`);
      const clamp = (v: number) => Math.max(0, Math.min(d, v < 0 ? v + d : v));
      const s = clamp(starts[i]);
      const e = Math.max(s, clamp(ends[i]));
      pads[a] = s;
      pads[rank + a] = d - e;
    });
    const dx = g.node1('Pad', [dy, g.ints(pads), g.scalar(dy.dtype, 0)], dy.dtype, x.shape, { mode: 'constant' });
    return [dx, ...node.inputs.slice(1).map(() => null)];
  },
  // y = data.gather(indices, axis): scatter-add dy into zeros of data's shape (repeated indices accumulate).
  Gather: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [data, indices] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    const [axis] = normAxes('Gather', [intAttr(node, 'axis', 0)], data.shape.length);
    return [gatherGrad(g, data, indices, dy, axis, node.name), null];
  },
  GatherElements: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [data, indices] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    const [axis] = normAxes('GatherElements', [intAttr(node, 'axis', 0)], data.shape.length);
    return [g.scatterElementsAdd(zerosLike(g, data), indices, dy, axis), null];
  },
};

/**
 * Gather's gradient via ScatterElements(add). dy is data[:axis] + indices.shape + data[axis+1:]; the index dims
 * are folded into one axis so that dy lines up with data (same rank), and the indices are broadcast to dy's shape.
 */
function gatherGrad(g: Graph, data: Tensor, indices: Tensor, dy: Tensor, axis: number, name: string): Tensor {
  const post = data.shape.slice(axis + 1);
  let flat: Tensor; // [data[:axis], n, data[axis+1:]], n = number of indices
  let idx: Tensor; // [1 × axis, n, 1 × post]
  if (indices.shape.length === 0) {
    flat = g.unsqueeze(dy, [axis]);
    idx = g.reshape(indices, new Array(data.shape.length).fill(1));
  } else if (indices.shape.length === 1) {
    flat = dy;
    idx = g.unsqueeze(indices, [...range(0, axis), ...range(axis + 1, data.shape.length)]);
  } else {
    if (!isStatic(post)) throw new AutodiffError(`Gather node ${name}: trailing dims ${fmtShape(post)} must be static for multi-dim indices`);
    const n = dimProduct(indices.shape);
    const target = [...new Array(axis).fill(0), -1, ...post];
    flat = g.node1('Reshape', [dy, g.ints(target)], dy.dtype, [...data.shape.slice(0, axis), n, ...post]);
    const idxTarget = [...new Array(axis).fill(1), -1, ...new Array(post.length).fill(1)];
    idx = g.node1('Reshape', [indices, g.ints(idxTarget)], 'int64',
      [...new Array(axis).fill(1), n, ...new Array(post.length).fill(1)]);
  }
  return g.scatterElementsAdd(zerosLike(g, data), expandLike(g, idx, flat), flat, axis);
}
