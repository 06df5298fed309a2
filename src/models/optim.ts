// AdamW (decoupled weight decay, bias correction) and global-norm gradient clipping, as graph-building functions.
import { Graph } from '../graph/builder.js';
import { Tensor, numel } from '../graph/types.js';

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

// ---- the same update over flat buffers ----
// Applied tensor by tensor, AdamW, clipping and the EMA cost ~24 elementwise nodes per parameter tensor (2,400 of a
// vit-micro step's 5,700 nodes; on a GPU each is a kernel launch). Over a few concatenated buffers the same
// mathematics is a few dozen nodes, plus a Reshape per tensor on the way in and out (no arithmetic).

/** Tensors as one flat [Σ numel] buffer, in order. */
export function flatten(g: Graph, ts: readonly Tensor[]): Tensor {
  const flat = ts.map((t) => (t.shape.length === 1 ? t : g.reshape(t, [-1])));
  return flat.length === 1 ? flat[0] : g.concat(flat, 0);
}

/** A flat buffer back into tensors shaped like `like` (the inverse of flatten). */
export function unflatten(g: Graph, flat: Tensor, like: readonly Tensor[]): Tensor[] {
  const sizes = like.map((t) => numel(t.shape));
  const parts = like.length === 1 ? [flat] : g.split(flat, 0, sizes);
  return parts.map((p, i) => (like[i].shape.length === 1 ? p : g.reshape(p, like[i].shape as number[])));
}

/** One group of parameter tensors updated as one buffer; weight decay applies to all of them or to none. */
export interface FlatGroup {
  params: readonly Tensor[];
  m: readonly Tensor[];
  v: readonly Tensor[];
  grads: readonly Tensor[];
  ema: readonly Tensor[];
  decay: boolean;
  /** Layer-wise lr decay: the group trains at lr·lrScale (absent: 1). */
  lrScale?: number;
}

export interface FlatResult { params: Tensor[]; m: Tensor[]; v: Tensor[]; ema: Tensor[] }

/**
 * Global-norm clipping, AdamW and the EMA over flat buffers, in PyTorch's order of operations
 * (clip_grad_norm_, then torch.optim.AdamW's step, then ema ← d·ema + (1−d)·p):
 *   f = min(1, maxNorm / (‖g‖ + 1e-6));  m ← β1·m + (1−β1)·f·g;  v ← β2·v + (1−β2)·f²·g²
 *   p ← p·(1 − lr·wd) − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)      (wd only in a decaying group)
 * The scalar factors are folded before they meet the buffers, so each buffer is touched a handful of times.
 */
export function adamwFlat(g: Graph, groups: readonly FlatGroup[], h: AdamWHyper, maxNorm: Tensor, emaDecay: Tensor):
  { groups: FlatResult[]; norm: Tensor } {
  const dt = maxNorm.dtype;
  const c = (x: number) => g.scalar(dt, x);
  const grads = groups.map((gr) => flatten(g, gr.grads));
  let sq: Tensor | null = null;
  for (const gf of grads) {
    const s = g.reduceSum(g.mul(gf, gf), [0], false);
    sq = sq ? g.add(sq, s) : s;
  }
  const norm = g.sqrt(sq!);
  const factor = g.min(c(1), g.div(maxNorm, g.add(norm, c(1e-6))));
  const bc = biasCorrection(g, h);
  const s1 = g.mul(factor, c(1 - h.beta1));                     // (1−β1)·f
  const s2 = g.mul(g.mul(factor, factor), c(1 - h.beta2));      // (1−β2)·f²
  const rootBc2 = g.div(c(1), g.sqrt(bc.bc2));                  // 1/√(1−β2^t)
  const stepSize = g.div(h.lr, bc.bc1);                          // lr/(1−β1^t)
  const shrink = g.sub(c(1), g.mul(h.lr, h.weightDecay));        // 1 − lr·wd
  // A group with its own learning rate (layer-wise decay) gets its own step size and shrink.
  const scaled = (scale: number) => {
    const lr = g.mul(h.lr, c(scale));
    return { stepSize: g.div(lr, bc.bc1), shrink: g.sub(c(1), g.mul(lr, h.weightDecay)) };
  };
  const keep = g.sub(c(1), emaDecay);
  const out = groups.map((gr, i) => {
    const gf = grads[i];
    const own = gr.lrScale === undefined || gr.lrScale === 1 ? { stepSize, shrink } : scaled(gr.lrScale);
    const m = g.add(g.mul(flatten(g, gr.m), c(h.beta1)), g.mul(gf, s1));
    const v = g.add(g.mul(flatten(g, gr.v), c(h.beta2)), g.mul(g.mul(gf, gf), s2));
    const denom = g.add(g.mul(g.sqrt(v), rootBc2), c(h.eps));
    const p0 = flatten(g, gr.params);
    const p = g.sub(gr.decay ? g.mul(p0, own.shrink) : p0, g.mul(g.div(m, denom), own.stepSize));
    const ema = g.add(g.mul(flatten(g, gr.ema), emaDecay), g.mul(p, keep));
    return {
      params: unflatten(g, p, gr.params), m: unflatten(g, m, gr.m), v: unflatten(g, v, gr.v), ema: unflatten(g, ema, gr.ema),
    };
  });
  return { groups: out, norm };
}
