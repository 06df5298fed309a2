// The pretrained-checkpoint commands end to end on the committed tiny ViT-MAE (test/fixtures/hf-mae-tiny):
// export --from-pretrained, embed (values equal to the PyTorch reference's embeddings, rows in CSV order), train with
// stochastic depth (resume bit-identical), export-weights --format hf and its re-import, and every bad input a
// user can give (another architecture, a missing or misshapen tensor, an unsupported activation, an image size that
// is not a multiple of the patch): one line naming the tensor or field, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { decodeNpy } from '../src/artifacts/npy.js';
import { NamedTensor, encodeSafetensors, readSafetensors } from '../src/artifacts/safetensors.js';
import { relError } from './helpers/gradcheck.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/hf-mae-tiny');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-hf-cli-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}
const expected = readSafetensors(path.join(FIXTURE, 'expected.safetensors')).tensors;
const art = path.join(tmp, 'art');

/** The fixture's two images as lossless PNGs, written in reverse name order (the CSV must say which row is which). */
async function writeFixtureImages(dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const img = expected.get('images')!.data as Uint8Array;
  const per = 3 * 16 * 16;
  const names = ['b-first.png', 'a-second.png'];
  for (let i = 0; i < 2; i++) {
    const chw = img.subarray(i * per, (i + 1) * per);
    const hwc = Buffer.alloc(per);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 256; p++) hwc[p * 3 + c] = chw[c * 256 + p];
    await sharp(hwc, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(path.join(dir, names[i]));
  }
  return names;
}

/** Three classes of seeded-noise 16×16 RGB PNGs. */
async function writeTree(root: string, perClass: number): Promise<void> {
  let s = 5;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const [k, c] of ['red', 'green', 'blue'].entries()) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(16 * 16 * 3);
      for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, (j % 3 === k ? 200 : 50) + Math.round((rnd() - 0.5) * 60)));
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(path.join(root, c, `${i}.png`));
    }
  }
}

test('export --from-pretrained, then embed: float32 [N, D] .npy whose rows (in CSV order) are the reference\'s embeddings', async () => {
  const out = ok(cli('export', '--from-pretrained', FIXTURE, '--classes', '3', '--batch-labeled', '3', '--batch-unlabeled', '3',
    '--out', art), 'export --from-pretrained');
  assert.match(out, /78 checkpoint tensors → 62 parameters; new: classifier head \(3 classes\)/);
  const names = await writeFixtureImages(path.join(tmp, 'imgs'));
  for (const pool of ['cls', 'mean'] as const) {
    const file = path.join(tmp, `emb-${pool}.npy`);
    ok(cli('embed', '--artifacts', art, '--data', path.join(tmp, 'imgs'), '--out', file, '--pool', pool, '--threads', '1'), `embed --pool ${pool}`);
    const npy = decodeNpy(fs.readFileSync(file));
    assert.deepEqual(npy.shape, [2, 32]);
    const rows = fs.readFileSync(file.replace(/\.npy$/, '.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'row,path');
    const ref = expected.get(`embedding_${pool}`)!.data as Float32Array;
    rows.slice(1).forEach((line, i) => {
      const [row, p] = line.split(',');
      assert.equal(Number(row), i);
      const k = names.indexOf(path.basename(p)); // which fixture image this row is
      assert.ok(k >= 0, p);
      const err = relError(npy.data.subarray(i * 32, (i + 1) * 32), ref.subarray(k * 32, (k + 1) * 32));
      assert.ok(err <= 1e-5, `${pool} embedding of ${p}: normwise relative error ${err.toExponential(2)}`);
    });
  }
  // The default pooling is the checkpoint model's (CLS).
  const def = path.join(tmp, 'emb-default.npy');
  ok(cli('embed', '--artifacts', art, '--data', path.join(tmp, 'imgs'), '--out', def, '--threads', '1'), 'embed');
  assert.deepEqual(fs.readFileSync(def), fs.readFileSync(path.join(tmp, 'emb-cls.npy')));
});

test('train from the checkpoint with stochastic depth: resume is bit-identical; export-weights --format hf round-trips', async () => {
  const labeled = path.join(tmp, 'labeled');
  await writeTree(labeled, 6);
  const train = (out: string, steps: number, resume = false, artifacts = art) => ok(cli('train', '--artifacts', artifacts, '--labeled', labeled,
    '--labels-per-class', '3', '--val-per-class', '1', '--seed', '3', '--threads', '1', '--quiet', '--steps', String(steps),
    '--eval-every', '2', '--checkpoint-every', '2', '--lr', '1e-4', '--cache-dir', path.join(tmp, 'cache'), '--out', out,
    ...(resume ? ['--resume'] : [])), `train ${out} ${steps}`);
  const straight = path.join(tmp, 'run-straight');
  const resumed = path.join(tmp, 'run-resumed');
  train(straight, 4);
  train(resumed, 2);
  train(resumed, 4, true);
  const a = readSafetensors(path.join(straight, 'checkpoint.safetensors'));
  const b = readSafetensors(path.join(resumed, 'checkpoint.safetensors'));
  for (const [k, t] of a.tensors) assert.deepEqual(b.tensors.get(k)!.data, t.data, k);
  // Two steps per run (train_chunk.onnx, the masks stacked per step) give the same model as one step per run.
  const chunked = path.join(tmp, 'art-chunk');
  ok(cli('export', '--from-pretrained', FIXTURE, '--classes', '3', '--batch-labeled', '3', '--batch-unlabeled', '3',
    '--steps-per-run', '2', '--out', chunked), 'export --steps-per-run 2');
  const inChunks = path.join(tmp, 'run-chunked');
  train(inChunks, 4, false, chunked);
  const c = readSafetensors(path.join(inChunks, 'checkpoint.safetensors'));
  for (const [k, t] of a.tensors) assert.deepEqual(c.tensors.get(k)!.data, t.data, `chunked ${k}`);
  // Drop-path masks have their own generator, saved in the checkpoint.
  assert.ok(JSON.parse(a.metadata.ssmae_loop_state).rngs.dropPath);
  // The frozen sine-cosine tables did not move.
  const init = readSafetensors(path.join(art, 'weights.safetensors')).tensors;
  assert.deepEqual(a.tensors.get('p.pos')!.data, init.get('pos')!.data);
  assert.deepEqual(a.tensors.get('ema.dec.pos')!.data, init.get('dec.pos')!.data);

  const hf = path.join(tmp, 'hf-export');
  ok(cli('export-weights', '--run', straight, '--format', 'hf', '--out', hf), 'export-weights');
  const cfg = JSON.parse(fs.readFileSync(path.join(hf, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'vit_mae');
  assert.deepEqual(cfg.id2label, { 0: 'blue', 1: 'green', 2: 'red' });
  const w = readSafetensors(path.join(hf, 'model.safetensors'));
  assert.equal(w.metadata.format, 'pt');
  assert.deepEqual(w.tensors.get('classifier.weight')!.shape, [3, 32]);
  const again = path.join(tmp, 'art-again');
  const out = ok(cli('export', '--from-pretrained', hf, '--classes', '3', '--out', again), 'export --from-pretrained of the export');
  assert.match(out, /classifier\.weight, classifier\.bias: a classifier head from an earlier fine-tuning, not used/);
  // The trained encoder went out and came back unchanged.
  const back = readSafetensors(path.join(again, 'weights.safetensors')).tensors;
  const ema = a.tensors;
  for (const name of ['enc.0.attn.qkv.weight', 'embed.weight', 'dec.pred.weight', 'cls']) {
    assert.deepEqual(back.get(name)!.data, ema.get(`ema.${name}`)!.data, name);
  }
});

test('--help of export, embed and export-weights teaches the new options, with examples', () => {
  const exp = ok(cli('export', '--help'), 'export --help');
  for (const flag of ['--from-pretrained', '--drop-path', '--layer-decay', '--freeze-blocks', '--cls-token', '--pool', '--pos-embed']) assert.match(exp, new RegExp(flag));
  assert.match(ok(cli('embed', '--help'), 'embed --help'), /--pool[\s\S]*Examples:/);
  assert.match(ok(cli('export-weights', '--help'), 'export-weights --help'), /--format[\s\S]*Examples:/);
});

// ---- bad input ----

/** A copy of the fixture with its config and tensors edited. */
function variant(name: string, edit: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Map<string, NamedTensor>) => void }): string {
  const dir = path.join(tmp, `bad-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
  edit.config?.(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const t = readSafetensors(path.join(FIXTURE, 'model.safetensors')).tensors;
  edit.tensors?.(t);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(t, { format: 'pt' }));
  return dir;
}

const dropPrefix = (prefix: string) => (t: Map<string, NamedTensor>) => { for (const k of [...t.keys()]) if (k.startsWith(prefix)) t.delete(k); };

const BAD: [string, () => string[], RegExp][] = [
  ['a plain ViT', () => ['--from-pretrained', variant('vit', { config: (c) => { c.model_type = 'vit'; }, tensors: dropPrefix('decoder.') })],
    /model_type is 'vit', expected 'vit_mae': this is a plain ViT \(no MAE decoder\)/],
  ['a CNN', () => ['--from-pretrained', variant('cnn', {
    config: (c) => { c.model_type = 'resnet'; },
    tensors: (t) => { t.clear(); t.set('resnet.embedder.embedder.convolution.weight', { dtype: 'float32', shape: [8, 3, 3, 3], data: new Float32Array(216) }); },
  })], /model_type is 'resnet', expected 'vit_mae'/],
  ['an encoder without the MAE decoder', () => ['--from-pretrained', variant('nodec', { tensors: dropPrefix('decoder.') })],
    /no MAE decoder \(decoder\.\* tensors\)/],
  ['a missing tensor', () => ['--from-pretrained', variant('missing', { tensors: (t) => { t.delete('vit.encoder.layer.1.attention.attention.value.weight'); } })],
    /tensor 'vit\.encoder\.layer\.1\.attention\.attention\.value\.weight' is missing \(expected \[32, 32\], for enc\.1\.attn\.qkv\.weight\)/],
  ['a misshapen tensor', () => ['--from-pretrained', variant('shape', {
    tensors: (t) => { t.set('decoder.decoder_pred.bias', { dtype: 'float32', shape: [47], data: new Float32Array(47) }); },
  })], /tensor 'decoder\.decoder_pred\.bias' has shape \[47\], expected \[48\] from config\.json/],
  ['an extra tensor', () => ['--from-pretrained', variant('extra', {
    tensors: (t) => { t.set('vit.pooler.dense.weight', { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) }); },
  })], /1 tensor\(s\) are not part of ViTMAEForPreTraining .* 'vit\.pooler\.dense\.weight' \[2, 2\]/],
  ['an unsupported hidden_act', () => ['--from-pretrained', variant('act', { config: (c) => { c.hidden_act = 'relu'; } })],
    /hidden_act is 'relu', expected 'gelu'/],
  ['an image_size that is not a multiple of patch_size', () => ['--from-pretrained', variant('imgcfg', { config: (c) => { c.image_size = 18; } })],
    /config\.json: image_size 18 is not a multiple of patch_size 4/],
  ['an --image-size that is not a multiple of the patch', () => ['--from-pretrained', FIXTURE, '--image-size', '30'],
    /--image-size 30 is not a multiple of the checkpoint's patch_size 4; use a multiple such as 32/],
  ['no config.json', () => { const d = path.join(tmp, 'empty'); fs.mkdirSync(d, { recursive: true }); return ['--from-pretrained', d]; }, /config\.json not found/],
  ['no directory at all', () => ['--from-pretrained', path.join(tmp, 'nowhere')], /is not a directory; give the folder holding config\.json/],
  ['both --preset and --from-pretrained', () => ['--from-pretrained', FIXTURE, '--preset', 'vit-micro-p4'], /not both/],
];

for (const [what, args, expect] of BAD) {
  test(`export --from-pretrained with ${what} exits 2 with one line`, () => {
    const r = cli('export', ...args(), '--classes', '3', '--out', path.join(tmp, 'never'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, expect);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
}

test('export-weights --format hf of a model without a CLS token exits 2 and says what to do', () => {
  const plain = path.join(tmp, 'plain');
  ok(cli('export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '2', '--out', plain), 'export');
  const r = cli('export-weights', '--artifacts', plain, '--format', 'hf', '--out', path.join(tmp, 'never-hf'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /has no CLS token.*re-export the artifacts with --cls-token/);
  const e = cli('embed', '--artifacts', plain, '--data', path.join(tmp, 'imgs'), '--out', path.join(tmp, 'x.npy'), '--pool', 'cls');
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /--pool cls: this model .* has no CLS token; use --pool mean/);
});
