// ssmae against an independent PyTorch reference of Hugging Face's ViTMAEForPreTraining, on the committed tiny
// checkpoint of test/fixtures/hf-mae-tiny (made by scripts/make-hf-mae-fixture.py; hidden 32, 2 layers, 2 heads,
// patch 4, image 16, decoder 24 wide with 2 layers and 3 heads, ImageNet pixel normalization): the checkpoint goes
// through `export --from-pretrained`, and ssmae's graphs must give the reference's last hidden states, embeddings,
// predicted pixels, reconstruction loss and its gradients to ≤ 1e-5 (normwise relative, float32). Also: every
// checkpoint tensor used once, import → export byte-identical, the position tables moved to another grid, and the
// bicubic resampling against torch's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportFromPretrained, importTensors, readHfCheckpoint } from '../src/artifacts/pretrained.js';
import { writeHfCheckpoint } from '../src/artifacts/hf-export.js';
import { buildClassifierModel } from '../src/artifacts/classifier-model.js';
import { loadArtifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { readSafetensors } from '../src/artifacts/safetensors.js';
import { serialize } from '../src/graph/serialize.js';
import { hfLinks, headLinks } from '../src/models/hf-layout.js';
import { buildEmbed, buildMaeForward } from '../src/models/inference.js';
import { bicubicResize, maeSincos2d } from '../src/models/posembed.js';
import { masksFromNoise } from '../src/algorithm/masking.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';
import { relError } from './helpers/gradcheck.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const FIXTURE = path.join(ROOT, 'test/fixtures/hf-mae-tiny');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-hf-'));
const expected = readSafetensors(path.join(FIXTURE, 'expected.safetensors')).tensors;
const exp = (name: string) => expected.get(name)!.data as Float32Array;
const BOUND = 1e-5;
const seen: string[] = [];
after(() => console.log(`against the PyTorch reference (normwise relative, float32): ${seen.join('; ')}`));
/** relError, recorded for the summary line. */
function rel(what: string, a: ArrayLike<number>, b: ArrayLike<number>): number {
  const e = relError(a, b);
  seen.push(`${what} ${e.toExponential(1)}`);
  return e;
}

const art = path.join(tmp, 'art');
exportFromPretrained({ dir: FIXTURE, classes: 3, labeledBatch: 1, unlabeledBatch: 1, out: art, graphs: ['gradients', 'eval'] });
const a = loadArtifacts(art);
const init = loadInitialWeights(a);
const params = (filter: (name: string) => boolean, prefix = 'p.'): Record<string, HostTensor> => Object.fromEntries(
  a.manifest.parameters.filter((s) => filter(s.name)).map((s) => [`${prefix}${s.name}`, hostTensor('float32', s.shape, init.get(s.name)!.data)]));
const images = expected.get('images')!;
const per = images.data.length / 2;
const masks = masksFromNoise(exp('noise'), 2, 16, 4);

async function run(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await Session.create(bytes, { threads: 2 });
  try {
    return await s.run(Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]])));
  } finally {
    await s.release();
  }
}

test('the checkpoint maps onto the model: every tensor used once, every parameter but the new head from it', () => {
  const ck = readHfCheckpoint(FIXTURE);
  const links = hfLinks(a.cfg);
  const { values, unused } = importTensors(ck, links);
  assert.deepEqual(unused, [], `checkpoint tensors left unused: ${unused.join(', ')}`);
  const hfNames = links.flatMap((l) => l.hf.map((h) => h.name));
  assert.equal(new Set(hfNames).size, hfNames.length, 'a checkpoint tensor is mapped twice');
  assert.equal(hfNames.length, ck.tensors.size);
  const fromCheckpoint = new Set(links.map((l) => l.ours));
  const uninitialised = a.manifest.parameters.map((s) => s.name).filter((n) => !fromCheckpoint.has(n));
  assert.deepEqual(uninitialised, ['head.weight', 'head.bias'], 'only the classifier head is new');
  for (const [name, v] of values) assert.deepEqual(init.get(name)!.data, v, `${name}: initial weights are the checkpoint's`);
  assert.equal(a.manifest.source?.tensors, ck.tensors.size);
  // config.json → the model: CLS pooling, fixed tables, ImageNet pixels, HF's epsilon; fine-tuning defaults on.
  const p = a.manifest.preset;
  assert.deepEqual([p.cls, p.pool, p.posEmbed, p.layerNormEps, p.normPixLoss, p.mlpDim, p.decMlpDim], [true, 'cls', 'fixed', 1e-12, false, 48, 40]);
  assert.deepEqual(p.pixelNorm, { rescale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  assert.equal(a.manifest.parameters.find((s) => s.name === 'pos')!.trainable, false);
});

test('masking from the noise is the reference\'s (argsort, ids_restore, mask)', () => {
  assert.deepEqual(masks.idsKeep, expected.get('ids_keep')!.data);
  assert.deepEqual(masks.idsRestore, expected.get('ids_restore')!.data);
  assert.deepEqual(masks.mask, exp('mask'));
});

test('embed graph: full-image last hidden state and both embeddings equal the reference (≤ 1e-5)', async () => {
  const out = await run(serialize(buildEmbed(a.cfg, a.manifest.parameters)), {
    ...params(() => true), images: hostTensor('uint8', images.shape, images.data),
  });
  for (const [ours, ref] of [['last_hidden_state', 'full_hidden_state'], ['embedding_cls', 'embedding_cls'], ['embedding_mean', 'embedding_mean']]) {
    const err = rel(ours, out[ours].data as Float32Array, exp(ref));
    assert.ok(err <= BOUND, `${ours}: normwise relative error ${err.toExponential(2)} > ${BOUND}`);
  }
});

test('eval.onnx and the exported classifier (model.onnx) apply the pixel normalization: logits = head(reference CLS embedding)', async () => {
  const hw = init.get('head.weight')!.data as Float32Array; // [D, K]
  const hb = init.get('head.bias')!.data as Float32Array;
  const emb = exp('embedding_cls');
  const ref = new Float64Array(6);
  for (let n = 0; n < 2; n++) for (let k = 0; k < 3; k++) {
    let acc = hb[k];
    for (let d = 0; d < 32; d++) acc += emb[n * 32 + d] * hw[d * 3 + k];
    ref[n * 3 + k] = acc;
  }
  const x = hostTensor('uint8', images.shape, images.data);
  const evalOut = await run(fs.readFileSync(a.path('eval.onnx')), { ...params(() => true), images: x });
  const w = new Map([...init].map(([k, t]) => [k, t.data as Float32Array]));
  const modelOut = await run(buildClassifierModel(a.cfg, w, ['a', 'b', 'c'], {}), { images: x });
  for (const [what, out] of [['eval.onnx', evalOut], ['model.onnx', modelOut]] as const) {
    const err = rel(`${what} logits`, out.logits.data as Float32Array, ref);
    assert.ok(err <= BOUND, `${what} logits: normwise relative error ${err.toExponential(2)}`);
  }
});

test('MAE forward graph: masked last hidden state, predicted pixels and loss equal the reference (≤ 1e-5)', async () => {
  const feeds = {
    ...params(() => true), images: hostTensor('uint8', images.shape, images.data),
    ids_keep: hostTensor('int64', [2, 4], masks.idsKeep), ids_restore: hostTensor('int64', [2, 16], masks.idsRestore),
    mask: hostTensor('float32', [2, 16], masks.mask),
  };
  const out = await run(serialize(buildMaeForward(a.cfg, a.manifest.parameters, 2)), feeds);
  for (const [ours, ref] of [['latent', 'last_hidden_state'], ['pred', 'logits'], ['rec_loss', 'loss']]) {
    const err = rel(ours, out[ours].data as Float32Array, exp(ref));
    assert.ok(err <= BOUND, `${ours}: normwise relative error ${err.toExponential(2)} > ${BOUND}`);
  }
  // norm_pix_loss on: the same model with the per-patch normalized target.
  const np = { ...a.cfg, preset: { ...a.cfg.preset, normPixLoss: true } };
  const out2 = await run(serialize(buildMaeForward(np, a.manifest.parameters, 2)), feeds);
  const err = rel('norm-pix loss', out2.rec_loss.data as Float32Array, exp('loss_norm_pix'));
  assert.ok(err <= BOUND, `norm-pix loss: ${err.toExponential(2)}`);
});

test('gradients.onnx: the reconstruction loss and its gradients equal PyTorch autograd (≤ 1e-5)', async () => {
  const s = await Session.create(a.path('gradients.onnx'), { threads: 2 });
  const img = (i: number) => hostTensor('uint8', [1, 3, 16, 16], (images.data as Uint8Array).subarray(i * per, (i + 1) * per));
  const feeds: Record<string, HostTensor> = {
    ...params(() => true), ...params(() => true, 'ema.'),
    images_labeled: img(0), images_weak: img(1), images_strong: img(1), labels: hostTensor('int64', [1], BigInt64Array.from([0n])),
    labels_mix: hostTensor('int64', [1], BigInt64Array.from([0n])), mix_weight: hostTensor('float32', [1], new Float32Array(1)),
    ids_keep: hostTensor('int64', [2, 4], masks.idsKeep), ids_restore: hostTensor('int64', [2, 16], masks.idsRestore),
    mask: hostTensor('float32', [2, 16], masks.mask),
    // Stochastic depth is on by default for a pretrained model: all branches kept (factor 1) gives the plain model.
    drop_path: hostTensor('float32', [2, 2, 2], new Float32Array(8).fill(1)),
    da_ratio: hostTensor('float32', [3], new Float32Array(3).fill(1)),
  };
  for (const [k, v] of Object.entries({ gate_open: 0, agree: 0, lambda_rec: 1, lambda_l: 0, lambda_u: 0, label_smoothing: 0 })) feeds[k] = scalarTensor('float32', v);
  feeds.tau = hostTensor('float32', [3], new Float32Array(3).fill(1)); // per class
  const out = await s.run(Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]])));
  await s.release();
  assert.ok(rel('gradients.onnx rec_loss', out.rec_loss.data as Float32Array, exp('loss')) <= BOUND);
  const links = [...hfLinks(a.cfg), ...headLinks(a.cfg)];
  let checked = 0;
  for (const key of expected.keys()) {
    if (!key.startsWith('grad.')) continue;
    const hfName = key.slice(5);
    const link = links.find((l) => l.hf.some((h) => h.name === hfName))!;
    const ours = out[`grad.${link.ours}`].data as Float32Array;
    const asHf = link.toHf(ours)[link.hf.findIndex((h) => h.name === hfName)];
    const err = rel(`grad ${hfName.replace(/^(vit|decoder)\./, '')}`, asHf, exp(key));
    assert.ok(err <= BOUND, `d loss / d ${hfName} (ours: ${link.ours}): normwise relative error ${err.toExponential(2)} > ${BOUND}`);
    checked++;
  }
  assert.equal(checked, 14);
  // The fixed position tables are not trained: no gradient output for them.
  assert.equal(out['grad.pos'], undefined);
});

test('import → export-weights --format hf is byte-identical per tensor', () => {
  const out = path.join(tmp, 'hf-out');
  const w = new Map([...init].map(([k, t]) => [k, t.data as Float32Array]));
  writeHfCheckpoint(out, a.cfg, w, ['a', 'b', 'c'], a.manifest.source!.config, a.manifest.source!.preprocessor);
  const before = readSafetensors(path.join(FIXTURE, 'model.safetensors')).tensors;
  const after = readSafetensors(path.join(out, 'model.safetensors')).tensors;
  for (const [name, t] of before) {
    const u = after.get(name);
    assert.ok(u, `${name} missing from the export`);
    assert.deepEqual(u.shape, t.shape, name);
    assert.ok(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${name}: bytes differ`);
  }
  assert.deepEqual([...after.keys()].filter((k) => !before.has(k)).sort(), ['classifier.bias', 'classifier.weight']);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  const orig = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
  for (const k of Object.keys(orig)) assert.deepEqual(cfg[k], orig[k], `config.json ${k}`);
  assert.deepEqual(cfg.id2label, { 0: 'a', 1: 'b', 2: 'c' });
  // …and the export imports again (the old head is set aside).
  exportFromPretrained({ dir: out, classes: 2, out: path.join(tmp, 'again'), graphs: ['eval'] });
});

test('bicubic resampling of a position table equals torch.nn.functional.interpolate (bicubic, align_corners=False)', () => {
  const err = relError(bicubicResize(exp('bicubic_in'), 4, 6, 8), exp('bicubic_out'));
  assert.ok(err <= 1e-6, `bicubic: ${err.toExponential(2)}`);
});

test('--image-size 24 moves the tables to a 6×6 grid: sine-cosine ones recomputed, trained ones resampled', () => {
  const m = exportFromPretrained({ dir: FIXTURE, classes: 3, imageSize: 24, out: path.join(tmp, 'art24'), graphs: ['eval'] });
  assert.deepEqual(m.source?.posResize, { from: 4, to: 6, encoder: 'sincos', decoder: 'sincos' });
  const w = loadInitialWeights(loadArtifacts(path.join(tmp, 'art24')));
  assert.deepEqual(w.get('pos')!.data, Float32Array.from(maeSincos2d(6, 32, true)));
  // A checkpoint whose encoder table was trained (not sine-cosine): resampled bicubically, the CLS row kept.
  const dir = path.join(tmp, 'trained-pos');
  fs.mkdirSync(dir);
  for (const f of ['config.json', 'preprocessor_config.json']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  const ck = readSafetensors(path.join(FIXTURE, 'model.safetensors')).tensors;
  const pos = ck.get('vit.embeddings.position_embeddings')!.data as Float32Array;
  for (let i = 0; i < pos.length; i++) pos[i] += 0.01 * Math.sin(i);
  writeTensors(path.join(dir, 'model.safetensors'), ck);
  const m2 = exportFromPretrained({ dir, classes: 3, imageSize: 24, out: path.join(tmp, 'art24b'), graphs: ['eval'] });
  assert.deepEqual(m2.source?.posResize, { from: 4, to: 6, encoder: 'bicubic', decoder: 'sincos' });
  const w2 = loadInitialWeights(loadArtifacts(path.join(tmp, 'art24b'))).get('pos')!.data as Float32Array;
  assert.deepEqual(w2.subarray(0, 32), pos.subarray(0, 32));
  assert.deepEqual(w2.subarray(32), Float32Array.from(bicubicResize(pos.subarray(32), 4, 6, 32)));
});

import { encodeSafetensors, NamedTensor } from '../src/artifacts/safetensors.js';
function writeTensors(file: string, t: Map<string, NamedTensor>): void {
  fs.writeFileSync(file, encodeSafetensors(t, { format: 'pt' }));
}
