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
  const logp = g.logSoftmax(logits, -1);
  return g.reduceMean(smoothed(g, logp, pickedNll(g, logp, labels), eps), [0], false);
}

/** What the labeled cross-entropy is taken against: the labels, and for CutMix each image's second label and its share. */
export interface LabeledTargets {
  labels: Tensor;     // int64 [N]
  labelsMix: Tensor;  // int64 [N]: the label of the image pasted in (any class where mixWeight is 0)
  mixWeight: Tensor;  // [N] in [0, 1]: the pasted image's share of the pixels (0: not mixed)
}

/**
 * The labeled cross-entropy under CutMix (Yun et al. 2019) and label smoothing: per image
 * (1 − ε)·((1 − w)·(−log p_y) + w·(−log p_y′)) + ε·mean_k(−log p_k), averaged over the batch, where w is the share
 * of the image's pixels pasted from an image of class y′: the mixed target (1 − w)·onehot(y) + w·onehot(y′), smoothed.
 * Where every w is 0 it equals smoothedCrossEntropy exactly (1·a + 0·b = a in float).
 */
export function mixedCrossEntropy(g: Graph, logits: Tensor, t: LabeledTargets, eps: Tensor): Tensor {
  const dt = logits.dtype;
  const logp = g.logSoftmax(logits, -1);                                       // [N, K]
  const one = g.scalar(dt, 1);
  const nll = g.add(g.mul(g.sub(one, t.mixWeight), pickedNll(g, logp, t.labels)), g.mul(t.mixWeight, pickedNll(g, logp, t.labelsMix)));
  return g.reduceMean(smoothed(g, logp, nll, eps), [0], false);
}

/** −log p_y per row of log-probabilities [N, K] → [N]. */
function pickedNll(g: Graph, logp: Tensor, labels: Tensor): Tensor {
  return g.neg(g.squeeze(g.gatherElements(logp, g.unsqueeze(labels, [1]), 1), [1]));
}

/** (1 − ε)·nll + ε·mean_k(−log p_k) → [N]. */
function smoothed(g: Graph, logp: Tensor, nll: Tensor, eps: Tensor): Tensor {
  const uniform = g.neg(g.reduceMean(logp, [1], false));                      // [N]
  return g.add(g.mul(g.sub(g.scalar(logp.dtype, 1), eps), nll), g.mul(eps, uniform));
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
