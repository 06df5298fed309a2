// Gradient rules for composite functions (Graph.composite): one rule per function, applied to the whole run of
// nodes that computes it, in place of the chain rule through each of those nodes.
import { Graph, Composite } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { layerNormBackward } from './rules-layernorm.js';

/** Given the composite and d loss / d output, the gradient with respect to each of its inputs (null: none). */
export type CompositeRule = (g: Graph, c: Composite, dy: Tensor) => (Tensor | null)[];

export const compositeRules: Record<string, CompositeRule> = {
  // y = x·Φ(x): dy/dx = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π). 2Φ is the forward's; 8 elementwise nodes, where the
  // chain rule through Mul, Add, Erf, Div and Mul emits 12 and a fan-out Add.
  Gelu: (g, c, dy) => {
    const [x] = c.inputs;
    const dt = x.dtype;
    const pdf = g.exp(g.mul(g.mul(x, x), g.scalar(dt, -0.5)));               // √(2π)·φ(x)
    const slope = g.add(g.mul(c.saved.twoCdf, g.scalar(dt, 0.5)), g.mul(g.mul(x, pdf), g.scalar(dt, 1 / Math.sqrt(2 * Math.PI))));
    return [g.mul(dy, slope)];
  },
  // y = x̂·scale + bias over the last axis, x̂ = (x − μ)·r, r = 1/√(σ² + ε) (Graph.layerNormDecomposed); x̂ and r are
  // the forward's, so nothing is recomputed:
  //   dbias = Σ_batch dy,  dscale = Σ_batch dy·x̂,  dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),  dx̂ = dy·scale
  LayerNorm: (g, c, dy) => {
    const [x, scale] = c.inputs;
    return layerNormBackward(g, dy, c.saved.xhat, c.saved.r, scale, [x.shape.length - 1]);
  },
};
