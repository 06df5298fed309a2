// Gradient rule for MatMul (numpy semantics, operands of rank ≥ 2, batch dimensions broadcast).
import { AutodiffError, GradRule } from './types.js';
import { flattenLeading, inputOf, transposeLast2, unbroadcast } from './util.js';

// y = a @ b, a: [..., M, K], b: [..., K, N], dy: [..., M, N]
//   da = dy @ bᵀ   [..., M, K] (summed over batch dims a was broadcast along)
//   db = aᵀ @ dy   [..., K, N] (likewise)
export const matmulRules: Record<string, GradRule> = {
  MatMul: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new AutodiffError(`MatMul node ${node.name}: 1-D operands are not differentiable here; reshape to 2-D`);
    }
    const da = unbroadcast(g, g.matmul(dy, transposeLast2(g, b)), a.shape);
    // The common linear layer: a batched [B, M, K] times a weight [K, N]. Folding the batch into the rows gives
    // db as one [K, B·M] × [B·M, N] product instead of a [B, K, N] intermediate that is then summed.
    const k = a.shape[a.shape.length - 1];
    const n = b.shape[1];
    if (b.shape.length === 2 && a.shape.length > 2 && typeof k === 'number' && typeof n === 'number') {
      const a2 = flattenLeading(g, a); // [B·M, K]
      const dy2 = flattenLeading(g, dy); // [B·M, N]
      return [da, g.matmul(transposeLast2(g, a2), dy2)];
    }
    return [da, unbroadcast(g, g.matmul(transposeLast2(g, a), dy), b.shape)];
  },
};
