// Gradient rules for MatMul (numpy semantics, operands of rank ≥ 2, batch dimensions broadcast) and Gemm.
import { AutodiffError, GradRule } from './types.js';
import { floatAttr, flattenLeading, inputOf, intAttr, reshapeLike, transposeLast2, unbroadcast } from './util.js';

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
    // The common linear layer: a batched [B, M, K] (or plain [M, K]) times a weight [K, N]. Folding the batch into the
    // rows gives both gradients as single 2-D products, and Gemm's transpose flags read bᵀ and aᵀ in place:
    //   da = Gemm(dy2, b, transB)  [B·M, K];   db = Gemm(a2, dy2, transA)  [K, N]
    // (instead of a Transpose of the [B·M, K] activations and a [B, K, N] intermediate summed over B).
    const k = a.shape[a.shape.length - 1];
    const n = b.shape[1];
    if (b.shape.length === 2 && typeof k === 'number' && typeof n === 'number') {
      const a2 = a.shape.length > 2 ? flattenLeading(g, a) : a; // [B·M, K]
      const dy2 = dy.shape.length > 2 ? flattenLeading(g, dy) : dy; // [B·M, N]
      return [reshapeLike(g, g.gemm(dy2, b, false, true), a), g.gemm(a2, dy2, true, false)];
    }
    const da = unbroadcast(g, g.matmul(dy, transposeLast2(g, b)), a.shape);
    return [da, unbroadcast(g, g.matmul(transposeLast2(g, a), dy), b.shape)];
  },
  // y = op(a) · op(b) (+ c, broadcast), op transposing where transA / transB is set; alpha = beta = 1 only.
  //   transA = 0: da = dy · op(b)ᵀ;   transA = 1: da = op(b) · dyᵀ
  //   transB = 0: db = op(a)ᵀ · dy;   transB = 1: db = dyᵀ · op(a)
  Gemm: (g, node, [dy]) => {
    if (!dy) return node.inputs.map(() => null);
    if (floatAttr(node, 'alpha', 1) !== 1 || floatAttr(node, 'beta', 1) !== 1) {
      throw new AutodiffError(`Gemm node ${node.name}: only alpha = beta = 1 is differentiable here`);
    }
    const [a, b] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    const ta = intAttr(node, 'transA', 0) === 1;
    const tb = intAttr(node, 'transB', 0) === 1;
    const da = ta ? g.gemm(b, dy, tb, true) : g.gemm(dy, b, false, !tb);
    const db = tb ? g.gemm(dy, a, true, ta) : g.gemm(a, dy, !ta, false);
    const dc = node.inputs[2] ? [unbroadcast(g, dy, inputOf(g, node, 2).shape)] : [];
    return [da, db, ...dc];
  },
};
