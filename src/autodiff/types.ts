// The contract between the backward pass and the per-operator gradient rules.
import type { Graph } from '../graph/builder.js';
import type { Node, Tensor } from '../graph/types.js';

/**
 * A gradient rule: given the forward node and the gradient of the loss with respect to each of its outputs
 * (null where no gradient reaches that output), append nodes to `g` and return the gradient with respect to each
 * input, in input order (null: no gradient, e.g. for an index, a condition or a constant exponent).
 * A returned tensor has exactly the input's dtype and shape; the backward pass checks this.
 */
export type GradRule = (g: Graph, node: Node, gradOut: readonly (Tensor | null)[]) => (Tensor | null)[];

export class AutodiffError extends Error {}
