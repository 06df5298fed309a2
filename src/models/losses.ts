// Loss blocks that compose; the SSMAE total is written out where it is used: rec + λl·ceL + λu·ceU.
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';

/** Per-example cross-entropy: logits [N, K], int64 labels [N] → [N]. */
export function crossEntropyPerExample(g: Graph, logits: Tensor, labels: Tensor): Tensor {
  const logp = g.logSoftmax(logits, -1);                                       // [N, K]
  const picked = g.gatherElements(logp, g.unsqueeze(labels, [1]), 1);          // [N, 1]
  return g.neg(g.squeeze(picked, [1]));                                        // [N]
}

/** Mean cross-entropy over the batch. */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor): Tensor {
  return g.reduceMean(crossEntropyPerExample(g, logits, labels), [0], false);
}

/**
 * Mean cross-entropy against label-smoothed targets (1 − ε)·onehot + ε/K, as PyTorch's label_smoothing:
 * (1 − ε)·(−log p_y) + ε·mean_k(−log p_k), averaged over the batch. `eps` is a scalar tensor; at ε = 0 it computes
 * crossEntropy's value exactly ((1 − 0)·x + 0·m = x).
 */
export function smoothedCrossEntropy(g: Graph, logits: Tensor, labels: Tensor, eps: Tensor): Tensor {
  const dt = logits.dtype;
  const logp = g.logSoftmax(logits, -1);                                       // [N, K]
  const nll = g.neg(g.squeeze(g.gatherElements(logp, g.unsqueeze(labels, [1]), 1), [1])); // [N]
  const uniform = g.neg(g.reduceMean(logp, [1], false));                      // [N]
  const perExample = g.add(g.mul(g.sub(g.scalar(dt, 1), eps), nll), g.mul(eps, uniform));
  return g.reduceMean(perExample, [0], false);
}

/** FixMatch-style pseudo-label loss: Σ w·ce / N over all unlabeled examples, so the weight falls with the mask rate. */
export function maskedCrossEntropy(g: Graph, logits: Tensor, labels: Tensor, weights: Tensor): Tensor {
  return g.reduceMean(g.mul(crossEntropyPerExample(g, logits, labels), weights), [0], false);
}

/** Fraction of rows whose argmax equals the label: logits [N, K], labels [N] → scalar. */
export function accuracy(g: Graph, logits: Tensor, labels: Tensor): Tensor {
  const hit = g.cast(g.equal(g.argMax(logits, 1), labels), logits.dtype);
  return g.reduceMean(hit, [0], false);
}
