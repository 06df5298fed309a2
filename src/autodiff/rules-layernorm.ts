// Gradient rule for LayerNormalization. The forward pass stays the single ONNX op; the backward pass recomputes
// the mean and inverse standard deviation from standard operators (the op's optional Mean/InvStdDev outputs are
// not relied on, so the forward graph need not be changed).
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { AutodiffError, GradRule } from './types.js';
import { floatAttr, inputOf, intAttr, normAxes, range, unbroadcast } from './util.js';

// Over the normalized axes (from `axis` to the last), with x̂ = (x − μ)·r, r = 1/√(σ² + ε), y = x̂·scale + bias:
//   dbias  = Σ_batch dy
//   dscale = Σ_batch dy·x̂
//   dx     = r · (dx̂ − mean(dx̂) − x̂ · mean(dx̂·x̂)),  dx̂ = dy·scale
export const layerNormRules: Record<string, GradRule> = {
  LayerNormalization: (g, node, gradOut) => {
    const [dy] = gradOut;
    if (gradOut.slice(1).some((t) => t)) {
      throw new AutodiffError(`LayerNormalization node ${node.name}: gradients through its Mean/InvStdDev outputs are not supported`);
    }
    const hasBias = !!node.inputs[2];
    if (!dy) return hasBias ? [null, null, null] : [null, null];
    const [x, scale] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    const rank = x.shape.length;
    const [first] = normAxes('LayerNormalization', [intAttr(node, 'axis', -1)], rank);
    const axes = range(first, rank); // the normalized axes
    const eps = g.scalar(x.dtype, floatAttr(node, 'epsilon', 1e-5));

    const mu = g.reduceMean(x, axes, true); // [..., 1]
    const xc = g.sub(x, mu); // x's shape
    const variance = g.reduceMean(g.mul(xc, xc), axes, true); // [..., 1]
    const r = g.div(g.scalar(x.dtype, 1), g.sqrt(g.add(variance, eps))); // [..., 1]
    const xhat = g.mul(xc, r); // x's shape

    return layerNormBackward(g, dy, xhat, r, scale, axes, hasBias);
  },
};

/**
 * dx, dscale and dbias of y = x̂·scale + bias from x̂ and r = 1/√(σ² + ε) (over `axes`, the normalized ones); shared by
 * the rule for the ONNX op above, which recomputes x̂ and r, and the composite rule, which reads the forward's.
 */
export function layerNormBackward(g: Graph, dy: Tensor, xhat: Tensor, r: Tensor, scale: Tensor, axes: readonly number[],
  withBias = true): Tensor[] {
  const dxhat = g.mul(dy, scale);
  const m1 = g.reduceMean(dxhat, axes, true);
  const m2 = g.reduceMean(g.mul(dxhat, xhat), axes, true);
  const dx = g.mul(r, g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)));
  const dscale = unbroadcast(g, g.mul(dy, xhat), scale.shape);
  return withBias ? [dx, dscale, unbroadcast(g, dy, scale.shape)] : [dx, dscale];
}
