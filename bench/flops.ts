// FLOPs of a step graph, counted from its nodes' static shapes: 2·M·N·K per MatMul (batched) and Gemm, one per output
// element for elementwise and reduction nodes. Matrix products dominate; the rest is reported separately.
import { Graph } from '../src/graph/builder.js';
import { Tensor } from '../src/graph/types.js';

export interface FlopCount { matmul: number; other: number; total: number }

function count(t: Tensor): number {
  return t.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
}

export function countFlops(g: Graph): FlopCount {
  let matmul = 0;
  let other = 0;
  for (const n of g.nodes) {
    const out = g.get(n.outputs[0]);
    if (n.op === 'MatMul') {
      const a = g.get(n.inputs[0]);
      const k = a.shape[a.shape.length - 1] as number;
      matmul += 2 * count(out) * k;
    } else if (n.op === 'Gemm') {
      const a = g.get(n.inputs[0]);
      const k = (n.attrs.transA === 1 ? a.shape[0] : a.shape[1]) as number;
      matmul += 2 * count(out) * k;
    } else if (!['Reshape', 'Transpose', 'Unsqueeze', 'Squeeze', 'Identity', 'Slice', 'Concat', 'Expand', 'Gather', 'GatherElements', 'Cast'].includes(n.op)) {
      other += count(out);
    }
  }
  return { matmul, other, total: matmul + other };
}
