// Feeds for one train step of exported artifacts: initial weights, zero moments, random images and masks, τ 0 so every
// term is computed (the PyTorch reference does the same). Shared by the CPU benchmarks.
import { Artifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { drawMasks } from '../src/algorithm/masking.js';
import { Rng } from '../src/data/rng.js';
import type { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';

/**
 * Training-step feeds for artifacts `a`: initial weights, zero moments, random images, τ 0 (every term computed).
 * `policy` overrides scalar inputs by name (gate_open, ema_decay, …); its `tau` is fed to every class.
 */
export function stepFeeds(dirA: Artifacts, policy: Record<string, number> = {}): Record<string, HostTensor> {
  const m = dirA.manifest;
  const w = loadInitialWeights(dirA);
  const rng = new Rng(0);
  const inputs = m.graphs.train_step.inputs;
  const dims = (name: string) => inputs.find((i) => i.name === name)!.shape as number[];
  const [bl, c, s] = dims('images_labeled');
  const bu = dims('images_weak')[0];
  const B = bl + bu;
  const img = (n: number) => hostTensor('uint8', [n, c, s, s], Uint8Array.from({ length: n * c * s * s }, () => rng.int(256)));
  const feeds: Record<string, HostTensor> = {};
  for (const p of m.parameters) {
    const init = w.get(p.name)!.data as Float32Array;
    feeds[`p.${p.name}`] = hostTensor('float32', p.shape, init.slice());
    feeds[`ema.${p.name}`] = hostTensor('float32', p.shape, init.slice());
    feeds[`m.${p.name}`] = hostTensor('float32', p.shape);
    feeds[`v.${p.name}`] = hostTensor('float32', p.shape);
  }
  const mk = drawMasks(rng, B, m.numPatches, m.keep);
  Object.assign(feeds, {
    images_labeled: img(bl), images_weak: img(bu), images_strong: img(bu),
    labels: hostTensor('int64', [bl], BigInt64Array.from({ length: bl }, () => BigInt(rng.int(m.classes)))),
    labels_mix: hostTensor('int64', [bl], new BigInt64Array(bl)), mix_weight: hostTensor('float32', [bl], new Float32Array(bl)), // no CutMix
    ids_keep: hostTensor('int64', [B, m.keep], mk.idsKeep), ids_restore: hostTensor('int64', [B, m.numPatches], mk.idsRestore),
    mask: hostTensor('float32', [B, m.numPatches], mk.mask),
  });
  const { tau = 0, ...scalars } = policy;
  const values = { step: 1, lr: 1e-4, weight_decay: 0.05, clip_norm: 1, ema_decay: 0.999, gate_open: 1, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1, label_smoothing: 0, ...scalars };
  for (const [k, v] of Object.entries(values)) feeds[k] = scalarTensor('float32', v);
  feeds.tau = hostTensor('float32', dims('tau'), new Float32Array(dims('tau')[0] ?? 1).fill(tau)); // the same τ for every class
  feeds.da_ratio = hostTensor('float32', dims('da_ratio'), new Float32Array(dims('da_ratio')[0]).fill(1));
  return feeds;
}

/** Feeds for eval.onnx (and any graph of `p.*` and `images`): initial weights and `n` random uint8 images. */
export function evalFeeds(dirA: Artifacts, n: number): Record<string, HostTensor> {
  const m = dirA.manifest;
  const w = loadInitialWeights(dirA);
  const rng = new Rng(0);
  const feeds: Record<string, HostTensor> = {};
  for (const p of m.parameters) feeds[`p.${p.name}`] = hostTensor('float32', p.shape, (w.get(p.name)!.data as Float32Array).slice());
  const dims = [n, m.channels, m.imageSize, m.imageSize];
  feeds.images = hostTensor('uint8', dims, Uint8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.int(256)));
  return feeds;
}

/**
 * The feeds a session's graph takes, out of `feeds`: graphs of earlier versions (the "before" side of cpu-peer and
 * step-profile) lack inputs added since (label_smoothing) and may take τ as one scalar instead of one per class; τ is
 * 0 either way, so both sides compute the same step.
 */
export function feedsFor(s: Session, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  const all = s.inputShape('tau')?.length === 0 ? { ...feeds, tau: scalarTensor('float32', 0) } : feeds;
  return Object.fromEntries(s.inputNames.map((n) => [n, all[n]]));
}
