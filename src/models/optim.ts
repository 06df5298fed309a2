// AdamW (decoupled weight decay, bias correction) and global-norm gradient clipping, as graph-building functions.
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';

export interface AdamWHyper {
  lr: Tensor;           // scalar
  weightDecay: Tensor;  // scalar
  step: Tensor;         // scalar, the step being taken (1 for the first)
  beta1: number;
  beta2: number;
  eps: number;
}

export interface AdamWState {
  param: Tensor;
  m: Tensor;
  v: Tensor;
  grad: Tensor;
  decay: boolean;
}

/** Global L2 norm of all gradients and the factor min(1, maxNorm / (norm + 1e-6)) that clips it. */
export function clipFactor(g: Graph, grads: readonly Tensor[], maxNorm: Tensor): { norm: Tensor; factor: Tensor } {
  const dt = maxNorm.dtype;
  let sq: Tensor | null = null;
  for (const gr of grads) {
    const s = g.reduceSum(g.mul(gr, gr), gr.shape.map((_, i) => i), false);
    sq = sq ? g.add(sq, s) : s;
  }
  const norm = g.sqrt(sq!);
  const factor = g.min(g.scalar(dt, 1), g.div(maxNorm, g.add(norm, g.scalar(dt, 1e-6))));
  return { norm, factor };
}

/**
 * One AdamW update (PyTorch's torch.optim.AdamW):
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr·( m/(1−β1^t) / (√(v/(1−β2^t)) + ε) + wd·p )      (wd only where decay is set)
 */
export function adamw(g: Graph, s: AdamWState, h: AdamWHyper, bc: BiasCorrection): { param: Tensor; m: Tensor; v: Tensor } {
  const dt = s.param.dtype;
  const c = (x: number) => g.scalar(dt, x);
  const m = g.add(g.mul(s.m, c(h.beta1)), g.mul(s.grad, c(1 - h.beta1)));
  const v = g.add(g.mul(s.v, c(h.beta2)), g.mul(g.mul(s.grad, s.grad), c(1 - h.beta2)));
  const mhat = g.div(m, bc.bc1);
  const vhat = g.div(v, bc.bc2);
  let update = g.div(mhat, g.add(g.sqrt(vhat), c(h.eps)));
  if (s.decay) update = g.add(update, g.mul(s.param, h.weightDecay));
  const param = g.sub(s.param, g.mul(update, h.lr));
  return { param, m, v };
}

export interface BiasCorrection { bc1: Tensor; bc2: Tensor }

/** 1 − β^t computed in-graph as 1 − exp(t·ln β), so a Loop can advance t without host help. */
export function biasCorrection(g: Graph, h: AdamWHyper): BiasCorrection {
  const dt = h.step.dtype;
  const one = g.scalar(dt, 1);
  const corr = (beta: number) => g.sub(one, g.exp(g.mul(h.step, g.scalar(dt, Math.log(beta)))));
  return { bc1: corr(h.beta1), bc2: corr(h.beta2) };
}

/** New EMA of the student: ema ← d·ema + (1−d)·param. */
export function emaUpdate(g: Graph, ema: Tensor, param: Tensor, decay: Tensor): Tensor {
  const one = g.scalar(ema.dtype, 1);
  return g.add(g.mul(ema, decay), g.mul(param, g.sub(one, decay)));
}
