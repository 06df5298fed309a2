// The model options a pretrained ViT-MAE needs, checked in float64: the gradients of a model with all of them on
// (CLS token and CLS pooling, fixed sine-cosine tables, no qkv bias, LayerNorm epsilon, MLP widths, per-channel pixel
// normalization, reconstruction on raw pixels, stochastic depth with dropped branches) against central finite
// differences; layer-wise lr decay and frozen blocks against the plain step; stochastic-depth masks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { drawDropPath } from '../src/algorithm/masking.js';
import { Rng } from '../src/data/rng.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';
import { checkGradientsOnnx } from './helpers/gradcheck.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-options-'));
const ALL_ON = {
  cls: true, pool: 'cls' as const, posEmbed: 'fixed' as const, qkvBias: false, layerNormEps: 1e-6, normPixLoss: false,
  mlpDim: 40, decMlpDim: 24, dropPath: 0.4,
  pixelNorm: { rescale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

test('gradients.onnx with every new model option on (float64) matches central finite differences', async () => {
  const dir = path.join(tmp, 'grad64');
  exportArtifacts({
    preset: 'vit-micro-d2-p4', imageSize: 8, channels: 3, classes: 3, dtype: 'float64', labeledBatch: 2, unlabeledBatch: 2,
    out: dir, build: { erfStandIn: true }, graphs: ['gradients'], overrides: ALL_ON,
  });
  const a = loadArtifacts(dir);
  const session = await Session.create(a.path('gradients.onnx'), { threads: 2 });
  const rng = new Rng(3);
  // Stochastic depth with some branches dropped (factor 0) and the rest scaled up, as the trainer draws them.
  const drop = Float64Array.from(drawDropPath(rng, 0.4, 2, 4));
  assert.ok(drop.some((v) => v === 0) && drop.some((v) => v > 1), 'the drawn masks drop some branches and scale others');
  const feeds: Record<string, HostTensor> = {
    ...stateFeeds(a, ['p', 'ema']), ...batchFeeds(a, 5), drop_path: hostTensor('float64', [2, 2, 4], drop),
    ...policyFeeds(a, { gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 0.7 }),
  };
  assert.deepEqual([...session.inputNames].filter((n) => !(n in feeds)), []);
  const analytic = await session.run(feeds);
  const trainable = a.manifest.parameters.filter((s) => s.trainable);
  assert.deepEqual(a.manifest.parameters.filter((s) => !s.trainable).map((s) => s.name), ['pos', 'dec.pos']);
  assert.ok(!a.manifest.parameters.some((s) => s.name.endsWith('qkv.bias')));
  const { worst, worstName, checked } = await checkGradientsOnnx(session, feeds, analytic, trainable,
    (n) => new Set([rng.int(n), rng.int(n), n - 1]));
  await session.release();
  console.log(`gradients.onnx, all options on, float64: ${checked} coordinates over ${trainable.length} tensors, worst ${worst.toExponential(2)} at ${worstName}`);
  assert.ok(worst <= 1e-5, `worst relative error ${worst} at ${worstName}`);
});

test('layer-wise lr decay scales each block\'s AdamW step by decay^(depth+1−layer); frozen blocks do not move', async () => {
  const run = async (name: string, overrides: Record<string, number>) => {
    const dir = path.join(tmp, name);
    exportArtifacts({ preset: 'vit-micro-d2-p4', imageSize: 8, channels: 1, classes: 3, dtype: 'float64', labeledBatch: 3,
      unlabeledBatch: 1, out: dir, graphs: ['supervised_step'], overrides, build: { erfStandIn: true } });
    const a = loadArtifacts(dir);
    const s = await Session.create(a.path('supervised_step.onnx'), { threads: 1 });
    const b = batchFeeds(a, 9);
    const feeds: Record<string, HostTensor> = {
      ...stateFeeds(a, ['p', 'm', 'v', 'ema']), images_labeled: b.images_labeled, labels: b.labels, labels_mix: b.labels_mix, mix_weight: b.mix_weight,
      step: scalarTensor('float64', 1), lr: scalarTensor('float64', 1e-3), weight_decay: scalarTensor('float64', 0.05),
      clip_norm: scalarTensor('float64', 1e9), ema_decay: scalarTensor('float64', 0.9), label_smoothing: scalarTensor('float64', 0),
    };
    const out = await s.run(Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]])));
    await s.release();
    const delta = new Map<string, number[]>();
    for (const p of a.manifest.parameters.filter((x) => !x.name.startsWith('dec.'))) {
      const before = feeds[`p.${p.name}`].data as Float64Array;
      const after = (out[`new.p.${p.name}`]?.data ?? before) as Float64Array;
      delta.set(p.name, Array.from(after, (v, i) => v - before[i]));
    }
    return delta;
  };
  const base = await run('plain', {});
  const tuned = await run('decayed', { layerDecay: 0.5, freezeBlocks: 1 });
  // depth 2: embeddings (layer 0) and block 0 (layer 1) frozen; block 1 (layer 2) at 0.5^1; norm and head at 1.
  const scaleOf = (name: string) => (name.startsWith('embed.') || name === 'pos' || name.startsWith('enc.0.') ? 0
    : name.startsWith('enc.1.') ? 0.5 : 1);
  let worst = 0;
  for (const [name, d] of base) {
    const t = tuned.get(name)!;
    const k = scaleOf(name);
    if (k === 0) assert.ok(t.every((v) => v === 0), `${name} is frozen but moved`);
    // Not the key biases (the middle third of qkv.bias): their gradient is zero up to rounding, since softmax ignores
    // a shift shared by a row, and Adam's first step turns that noise into steps of any size.
    const keyBias = (i: number) => name.endsWith('qkv.bias') && i >= 128 && i < 256;
    const scale = Math.max(1e-12, ...d.map(Math.abs));
    d.forEach((v, i) => { if (!keyBias(i)) worst = Math.max(worst, Math.abs(t[i] - k * v) / scale); });
  }
  console.log(`layer decay: worst normwise deviation from the scaled plain step ${worst.toExponential(2)}`);
  // Not exact: where a gradient is as small as Adam's ε (1e-8), the normalized step g/(|g|+ε) amplifies the rounding
  // of two different backward graphs (~1e-5 of the step seen). A wrong scale shows as an error of 0.5 or more.
  assert.ok(worst <= 1e-4, `lr scaling off by ${worst}`);
  assert.ok(base.get('enc.1.mlp.fc1.weight')!.some((v) => v !== 0));
});

test('drop-path masks: block i drops at linspace(0, rate, depth)[i], kept branches scaled by 1/(1 − rate_i)', () => {
  const n = 20000;
  const d = drawDropPath(new Rng(1), 0.3, 3, n);
  const block = (i: number) => d.subarray(i * 2 * n, (i + 1) * 2 * n);
  assert.ok(block(0).every((v) => v === 1));
  for (const [i, r] of [[1, 0.15], [2, 0.3]] as const) {
    const b = block(i);
    assert.ok(b.every((v) => v === 0 || Math.abs(v - 1 / (1 - r)) < 1e-6));
    const dropped = b.filter((v) => v === 0).length / b.length;
    assert.ok(Math.abs(dropped - r) < 0.01, `block ${i}: dropped ${dropped}, expected ${r}`);
  }
  assert.deepEqual(drawDropPath(new Rng(1), 0.3, 3, 4), drawDropPath(new Rng(1), 0.3, 3, 4), 'same seed, same masks');
});
