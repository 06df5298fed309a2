// Random but fixed inputs for the exported step graphs of a manifest (tests only).
import { loadInitialWeights, Artifacts } from '../../src/artifacts/load.js';
import { drawMasks } from '../../src/algorithm/masking.js';
import { Rng } from '../../src/data/rng.js';
import type { Session } from '../../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../../src/runtime/tensor.js';
import { typedArrayFor } from '../../src/graph/types.js';

/**
 * One batch. Half of the labeled images carry a CutMix share (labels_mix, mix_weight in (0, 1)), so every check
 * through the step's labeled cross-entropy covers the mixed targets too; drawn after the rest, so the other inputs
 * are those of a seed before CutMix existed.
 */
export function batchFeeds(a: Artifacts, seed: number): Record<string, HostTensor> {
  const m = a.manifest;
  const dt = m.dtype;
  const rng = new Rng(seed);
  const B = m.labeledBatch + m.unlabeledBatch;
  const img = (n: number) => hostTensor('uint8', [n, m.channels, m.imageSize, m.imageSize],
    Uint8Array.from({ length: n * m.channels * m.imageSize * m.imageSize }, () => rng.int(256)));
  const mk = drawMasks(rng, B, m.numPatches, m.keep);
  const out: Record<string, HostTensor> = {
    images_labeled: img(m.labeledBatch),
    labels: hostTensor('int64', [m.labeledBatch], BigInt64Array.from({ length: m.labeledBatch }, () => BigInt(rng.int(m.classes)))),
    images_weak: img(m.unlabeledBatch),
    images_strong: img(m.unlabeledBatch),
    ids_keep: hostTensor('int64', [B, m.keep], mk.idsKeep),
    ids_restore: hostTensor('int64', [B, m.numPatches], mk.idsRestore),
    mask: hostTensor(dt, [B, m.numPatches], dt === 'float64' ? Float64Array.from(mk.mask) : mk.mask),
  };
  const bl = m.labeledBatch;
  out.labels_mix = hostTensor('int64', [bl], BigInt64Array.from({ length: bl }, () => BigInt(rng.int(m.classes))));
  const w = Array.from({ length: bl }, (_, i) => (i % 2 ? 0.1 + 0.8 * rng.next() : 0));
  out.mix_weight = hostTensor(dt, [bl], dt === 'float64' ? Float64Array.from(w) : Float32Array.from(w));
  return out;
}

/** Scalar policy inputs (tau repeated per class), plus da_ratio = ones (distribution alignment off) and label_smoothing = 0 unless given. */
export function policyFeeds(a: Artifacts, values: Record<string, number>): Record<string, HostTensor> {
  const k = a.manifest.classes;
  const ones = a.manifest.dtype === 'float64' ? new Float64Array(k).fill(1) : new Float32Array(k).fill(1);
  const out: Record<string, HostTensor> = { da_ratio: hostTensor(a.manifest.dtype, [k], ones) };
  for (const [k, v] of Object.entries({ label_smoothing: 0, ...values })) out[k] = scalarTensor(a.manifest.dtype, v);
  // τ is per class: the same value for every class.
  if ('tau' in values) out.tau = hostTensor(a.manifest.dtype, [k], a.manifest.dtype === 'float64' ? new Float64Array(k).fill(values.tau) : new Float32Array(k).fill(values.tau));
  return out;
}

/** p.* and ema.* from the initial weights (ema perturbed so the teacher differs from the student), m.*, v.* zero. */
export function stateFeeds(a: Artifacts, kinds: readonly string[], seed = 7): Record<string, HostTensor> {
  const w = loadInitialWeights(a);
  const rng = new Rng(seed);
  const out: Record<string, HostTensor> = {};
  for (const s of a.manifest.parameters) {
    const init = w.get(s.name)!.data as Float32Array | Float64Array;
    for (const k of kinds) {
      let data = typedArrayFor(a.manifest.dtype, init.length) as Float32Array | Float64Array;
      if (k === 'p') data.set(init);
      if (k === 'ema') for (let i = 0; i < init.length; i++) data[i] = init[i] + 0.05 * rng.normal();
      if (k === 'v') data = data.map(() => 0);
      out[`${k}.${s.name}`] = hostTensor(a.manifest.dtype, s.shape, data);
    }
  }
  return out;
}

/** The feeds a session takes, by its input names. */
export function pickFeeds(s: Session, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  return Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]]));
}
