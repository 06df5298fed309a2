// The convolutional tokenizer (src/models/stem.ts), inside each patch and across the image: its values against a
// direct convolution written in TypeScript, its gradient against finite differences in float64 (the stem alone and
// the whole step graph), masking (a visible token cannot see a hidden patch's pixels), and the presets that use it
// exporting and training end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Graph } from '../src/graph/builder.js';
import { Rng } from '../src/data/rng.js';
import { HostTensor, hostTensor, toNumbers } from '../src/runtime/tensor.js';
import { embed, embedAt, maeForward, patchify, normalizeImages, tokenInput } from '../src/models/vit.js';
import { convStem, stemWindows } from '../src/models/stem.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { checkGradientsOnnx } from './helpers/gradcheck.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';
import { initParams, paramSpecs, paramInputs } from '../src/models/params.js';
import { ModelConfig, modelConfig } from '../src/models/presets.js';
import { exportArtifacts } from '../src/artifacts/export.js';
import { gradcheck, runGraph } from './helpers/gradcheck.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-stem-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

/** A 4×4-patch preset with an F-channel stem, for C channels (dtype float64 for the checks). */
function stemCfg(channels: number, f: number, span: 'patch' | 'image' = 'patch'): ModelConfig {
  const base = modelConfig('vit-micro-d2-p4-convstem32', 8, channels, 3, 'float64');
  return { ...base, preset: { ...base.preset, stem: { channels: f, span } } };
}

/**
 * A 3×3 convolution (taps ordered (ky, kx, c), zero padding 1 at the border of a size×size grid) + ReLU, written out:
 * conv(y, x, o) for the pixels pixel(y, x, ch).
 */
function reluConv3x3(pixel: (y: number, x: number, ch: number) => number, size: number, c: number, w: number[], b: number[], f: number) {
  return (y: number, x: number, o: number) => {
    let s = b[o];
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        const yy = y + ky - 1;
        const xx = x + kx - 1;
        if (yy < 0 || yy >= size || xx < 0 || xx >= size) continue;
        for (let ch = 0; ch < c; ch++) s += pixel(yy, xx, ch) * w[((ky * 3 + kx) * c + ch) * f + o];
      }
    }
    return Math.max(0, s);
  };
}

/** 2×2 max pooling of conv over the p×p patch at (y0, x0): its (qy, qx, f) features. */
function pooledPatch(conv: (y: number, x: number, o: number) => number, y0: number, x0: number, p: number, f: number): number[] {
  const out: number[] = [];
  for (let qy = 0; qy < p / 2; qy++) {
    for (let qx = 0; qx < p / 2; qx++) {
      const y = y0 + 2 * qy;
      const x = x0 + 2 * qx;
      for (let o = 0; o < f; o++) out.push(Math.max(conv(y, x, o), conv(y, x + 1, o), conv(y + 1, x, o), conv(y + 1, x + 1, o)));
    }
  }
  return out;
}

/** The stem written out directly: per patch [p, p, C] → 3×3 conv (zero pad 1) → ReLU → 2×2 max pool → (qy, qx, f). */
function referenceStem(patch: number[], p: number, c: number, w: number[], b: number[], f: number): number[] {
  return pooledPatch(reluConv3x3((y, x, ch) => patch[(y * p + x) * c + ch], p, c, w, b, f), 0, 0, p, f);
}

/**
 * The stem across a whole image written out directly: image [C, S, S] (channel-major) → 3×3 conv (zero pad 1 at the
 * image's border) → ReLU → 2×2 max pool, then per p×p patch in row-major order its (qy, qx, f) features.
 */
function referenceImageStem(img: number[], S: number, p: number, c: number, w: number[], b: number[], f: number): number[] {
  const conv = reluConv3x3((y, x, ch) => img[(ch * S + y) * S + x], S, c, w, b, f);
  const out: number[] = [];
  for (let i = 0; i < S / p; i++) for (let j = 0; j < S / p; j++) out.push(...pooledPatch(conv, i * p, j * p, p, f));
  return out;
}

const randoms = (rng: Rng, n: number, s = 1) => Array.from({ length: n }, () => s * (2 * rng.next() - 1));

test('conv stem equals a direct 3×3 convolution + ReLU + 2×2 max pooling within each patch', async () => {
  const c = 2;
  const f = 3;
  const cfg = stemCfg(c, f);
  const rng = new Rng(3);
  const n = 2;
  const L = 4;
  const P = 16 * c;
  const x = randoms(rng, n * L * P);
  const w = randoms(rng, 9 * c * f);
  const b = randoms(rng, f, 0.1);
  const g = new Graph('stem');
  const xin = g.input('x', 'float64', [n, L, P]);
  const W = { 'stem.conv.weight': g.input('w', 'float64', [9 * c, f]), 'stem.conv.bias': g.input('b', 'float64', [f]) };
  g.output(convStem(g, cfg, W, xin), 'y');
  const out = await runGraph(g, {
    x: hostTensor('float64', [n, L, P], Float64Array.from(x)),
    w: hostTensor('float64', [9 * c, f], Float64Array.from(w)),
    b: hostTensor('float64', [f], Float64Array.from(b)),
  });
  assert.deepEqual(out.y.dims, [n, L, 4 * f]);
  const got = toNumbers(out.y);
  const want: number[] = [];
  for (let t = 0; t < n * L; t++) want.push(...referenceStem(x.slice(t * P, (t + 1) * P), 4, c, w, b, f));
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  assert.ok(worst < 1e-12, `worst |difference| ${worst}`);
  assert.ok(want.some((v) => v === 0) && want.some((v) => v > 0), 'the ReLU is exercised on both sides');
});

test('conv stem: gradient in the pixels, the kernel and the bias matches finite differences (float64)', async () => {
  const c = 2;
  const f = 3;
  const cfg = stemCfg(c, f);
  const rng = new Rng(8);
  const r = await gradcheck({
    inputs: [
      { name: 'x', shape: [1, 2, 16 * c], data: randoms(rng, 32 * c) },
      { name: 'w', shape: [9 * c, f], data: randoms(rng, 9 * c * f) },
      { name: 'b', shape: [f], data: randoms(rng, f, 0.1) },
    ],
    build: (g, [x, w, b]) => convStem(g, cfg, { 'stem.conv.weight': w, 'stem.conv.bias': b }, x),
  });
  console.log(`conv stem gradcheck float64: ${r.errors.map((e) => `${e.name} ${e.error.toExponential(2)}`).join(', ')} (bound 1e-6)`);
  assert.ok(r.worst < 1e-6, JSON.stringify(r.errors));
});

for (const [preset, p] of [['vit-micro-d2-p4-convstem32-image', 4], ['vit-micro-d2-p8-convstem32-image', 8]] as const) {
  test(`conv stem across the image equals a direct 3×3 convolution of the whole image + ReLU + 2×2 max pooling, per patch (${preset})`, async () => {
    const c = 2;
    const f = 3;
    const S = 2 * p;
    const base = modelConfig(preset, S, c, 3, 'float64');
    const cfg = { ...base, preset: { ...base.preset, stem: { channels: f, span: 'image' as const } } };
    assert.equal(cfg.preset.patch, p);
    const rng = new Rng(13);
    const n = 2;
    const x = randoms(rng, n * c * S * S);
    const w = randoms(rng, 9 * c * f);
    const b = randoms(rng, f, 0.1);
    const g = new Graph('stem-image');
    const xin = g.input('x', 'float64', [n, c, S, S]);
    const W = { 'stem.conv.weight': g.input('w', 'float64', [9 * c, f]), 'stem.conv.bias': g.input('b', 'float64', [f]) };
    g.output(convStem(g, cfg, W, stemWindows(g, cfg, xin)), 'y');
    const out = await runGraph(g, {
      x: hostTensor('float64', [n, c, S, S], Float64Array.from(x)),
      w: hostTensor('float64', [9 * c, f], Float64Array.from(w)),
      b: hostTensor('float64', [f], Float64Array.from(b)),
    });
    const q = (p / 2) * (p / 2); // pooled positions per patch
    assert.deepEqual(out.y.dims, [n, 4, q * f]);
    const got = toNumbers(out.y);
    const want: number[] = [];
    for (let i = 0; i < n; i++) want.push(...referenceImageStem(x.slice(i * c * S * S, (i + 1) * c * S * S), S, p, c, w, b, f));
    const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
    assert.ok(worst < 1e-12, `worst |difference| ${worst}`);
    // It is not the per-patch stem: patches see their neighbours' ring, so some features differ from per-patch ones.
    const perPatch: number[] = [];
    const px = toNumbers((await runGraph((() => {
      const h = new Graph('p');
      h.output(patchify(h, cfg, h.input('x', 'float64', [n, c, S, S])), 'y');
      return h;
    })(), { x: hostTensor('float64', [n, c, S, S], Float64Array.from(x)) })).y);
    for (let t = 0; t < n * 4; t++) perPatch.push(...referenceStem(px.slice(t * p * p * c, (t + 1) * p * p * c), p, c, w, b, f));
    assert.ok(perPatch.some((v, i) => Math.abs(v - want[i]) > 1e-6), 'the image-wide stem equals the per-patch one: the test would prove nothing');
  });
}

test('conv stem across the image: gradient in the pixels, the kernel and the bias matches finite differences (float64)', async () => {
  const c = 2;
  const f = 3;
  const cfg = stemCfg(c, f, 'image');
  const rng = new Rng(18);
  const r = await gradcheck({
    inputs: [
      { name: 'x', shape: [1, c, 8, 8], data: randoms(rng, 64 * c) },
      { name: 'w', shape: [9 * c, f], data: randoms(rng, 9 * c * f) },
      { name: 'b', shape: [f], data: randoms(rng, f, 0.1) },
    ],
    build: (g, [x, w, b]) => convStem(g, cfg, { 'stem.conv.weight': w, 'stem.conv.bias': b }, stemWindows(g, cfg, x)),
  });
  console.log(`image-wide conv stem gradcheck float64: ${r.errors.map((e) => `${e.name} ${e.error.toExponential(2)}`).join(', ')} (bound 1e-6)`);
  assert.ok(r.worst < 1e-6, JSON.stringify(r.errors));
});

test('masking stays sound: visible tokens\' embeddings do not change when hidden patches\' pixels do', async () => {
  const cfg = modelConfig('vit-micro-d2-p4-convstem32', 8, 3, 3, 'float64');
  const specs = paramSpecs(cfg);
  const init = initParams(specs, 1);
  const g = new Graph('masking');
  const used = specs.filter((s) => s.name === 'pos' || s.name.startsWith('embed') || s.name.startsWith('stem'));
  const W = paramInputs(g, used, 'float64', 'p.', 'parameter');
  const images = g.input('images', 'uint8', [1, 3, 8, 8]);
  g.output(embed(g, W, patchify(g, cfg, normalizeImages(g, cfg, images)), cfg), 'tokens'); // [1, 4, D]
  const feeds = Object.fromEntries(used.map((s) => [`p.${s.name}`, hostTensor('float64', s.shape, init.get(s.name)!)]));
  const rng = new Rng(4);
  const base = Uint8Array.from({ length: 3 * 64 }, () => rng.int(256));
  const inPatch = (i: number) => Math.floor((i % 64) / 8 / 4) * 2 + Math.floor((i % 8) / 4); // patch of pixel i (row-major 2×2 grid)
  const tokens = async (img: Uint8Array) => toNumbers((await runGraph(g, { ...feeds, images: hostTensor('uint8', [1, 3, 8, 8], img) })).tokens);
  const D = cfg.preset.dim;
  const before = await tokens(base);
  // Patches 1 and 2 hidden: every one of their pixels changes; patches 0 and 3 are visible.
  const changed = base.map((v, i) => ([1, 2].includes(inPatch(i)) ? 255 - v : v));
  const after = await tokens(changed);
  for (const t of [0, 3]) assert.deepEqual(after.slice(t * D, (t + 1) * D), before.slice(t * D, (t + 1) * D), `visible token ${t} changed`);
  for (const t of [1, 2]) assert.notDeepEqual(after.slice(t * D, (t + 1) * D), before.slice(t * D, (t + 1) * D), `hidden token ${t} did not change: the test would prove nothing`);
});

// With the stem across the image, classification's tokens see their neighbours (the point of it), so MAE's encoder
// must be fed the image with its hidden patches zeroed: its output on the visible tokens must not change when the
// hidden patches' pixels do, while the unmasked embedding of the same visible patches does.
for (const [preset, p] of [['vit-micro-d2-p4-convstem32-image', 4], ['vit-micro-d2-p8-convstem32-image', 8]] as const) test(`masking stays sound across the image: MAE's encoder output does not change when hidden patches' pixels do (${preset})`, async () => {
  const S = 2 * p;
  const cfg = modelConfig(preset, S, 3, 3, 'float64', 0.5);
  const specs = paramSpecs(cfg);
  const init = initParams(specs, 1);
  const g = new Graph('masking-image');
  const W = paramInputs(g, specs, 'float64', 'p.', 'parameter');
  const images = g.input('images', 'uint8', [1, 3, S, S]);
  // Patches 0 and 3 visible, 1 and 2 hidden.
  const m = {
    idsKeep: g.constant('int64', [1, 2], [3, 0]), idsRestore: g.constant('int64', [1, 4], [1, 2, 3, 0]),
    mask: g.constant('float64', [1, 4], [0, 1, 1, 0]),
  };
  g.output(maeForward(g, cfg, W, images, m, { erfStandIn: true }).latent, 'latent');                                        // [1, 2, D]
  g.output(embed(g, W, tokenInput(g, cfg, normalizeImages(g, cfg, images)), cfg), 'tokens');             // [1, 4, D]
  const feeds = Object.fromEntries(specs.map((s) => [`p.${s.name}`, hostTensor('float64', s.shape, init.get(s.name)!)]));
  const rng = new Rng(6);
  const base = Uint8Array.from({ length: 3 * S * S }, () => rng.int(256));
  const inPatch = (i: number) => Math.floor((i % (S * S)) / S / p) * 2 + Math.floor((i % S) / p); // patch of pixel i (row-major 2×2 grid)
  const run = async (img: Uint8Array) => runGraph(g, { ...feeds, images: hostTensor('uint8', [1, 3, S, S], img) });
  const before = await run(base);
  const after = await run(base.map((v, i) => ([1, 2].includes(inPatch(i)) ? 255 - v : v)));
  assert.deepEqual(toNumbers(after.latent), toNumbers(before.latent), 'a visible token saw a hidden patch\'s pixels');
  const D = cfg.preset.dim;
  const tb = toNumbers(before.tokens);
  const ta = toNumbers(after.tokens);
  for (const t of [0, 3]) assert.notDeepEqual(ta.slice(t * D, (t + 1) * D), tb.slice(t * D, (t + 1) * D), `unmasked token ${t} did not see its neighbours: the test would prove nothing`);
});

test('gradients.onnx with the stem across the image (float64, reconstruction and every classification term) matches central finite differences', async () => {
  const dir = path.join(tmp, 'grad64-image');
  exportArtifacts({
    preset: 'vit-micro-d2-p4-convstem32-image', imageSize: 8, channels: 3, classes: 3, dtype: 'float64', labeledBatch: 2,
    unlabeledBatch: 2, out: dir, build: { erfStandIn: true }, graphs: ['gradients'],
  });
  const a = loadArtifacts(dir);
  const session = await Session.create(a.path('gradients.onnx'), { threads: 2 });
  const feeds: Record<string, HostTensor> = {
    ...stateFeeds(a, ['p', 'ema']), ...batchFeeds(a, 4),
    ...policyFeeds(a, { gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 0.7 }),
  };
  assert.deepEqual([...session.inputNames].filter((n) => !(n in feeds)), []);
  const analytic = await session.run(feeds);
  const trainable = a.manifest.parameters.filter((s) => s.trainable);
  const rng = new Rng(5);
  const { worst, worstName, checked } = await checkGradientsOnnx(session, feeds, analytic, trainable,
    (n) => new Set([rng.int(n), rng.int(n), n - 1]));
  await session.release();
  console.log(`gradients.onnx, stem across the image, float64: ${checked} coordinates over ${trainable.length} tensors, worst ${worst.toExponential(2)} at ${worstName}`);
  assert.ok(trainable.some((s) => s.name === 'stem.conv.weight'));
  assert.ok(worst <= 1e-5, `worst relative error ${worst} at ${worstName}`);
});

// MAE's encoder embeds only the visible patches (embedAt): the rows must be embed's rows at those positions, stem or
// no stem, with or without a CLS token (whose position row embed skips), and its gradient must pass the float64 check.
for (const [preset, cls] of [['vit-micro-d2-p4-convstem32', false], ['vit-micro-p4', true]] as const) {
  test(`embedAt gives embed's rows at the visible positions (${preset}${cls ? ', CLS token' : ''}, float64)`, async () => {
    const cfg = modelConfig(preset, 8, 3, 3, 'float64');
    const clsCfg = { ...cfg, preset: { ...cfg.preset, cls } };
    const specs = paramSpecs(clsCfg);
    const prng = new Rng(3);
    const init = new Map(specs.map((s) => [s.name, Float64Array.from(randoms(prng, s.shape.reduce((x, y) => x * y, 1), 0.5))]));
    const g = new Graph('embed-at');
    const used = specs.filter((s) => s.name === 'pos' || s.name.startsWith('embed') || s.name.startsWith('stem'));
    const W = paramInputs(g, used, 'float64', 'p.', 'parameter');
    const n = 3;
    const images = g.input('images', 'uint8', [n, 3, 8, 8]);
    const ids = [[2, 0], [1, 3], [3, 2]]; // [N, T]: two of the four patches of each image, in shuffled order
    const patches = patchify(g, cfg, normalizeImages(g, cfg, images));
    g.output(embed(g, W, patches, clsCfg, cls), 'all');                                                 // [N, 4, D]
    g.output(embedAt(g, W, patches, g.constant('int64', [n, 2], ids.flat()), clsCfg, cls), 'picked'); // [N, 2, D]
    const feeds = Object.fromEntries(used.map((s) => [`p.${s.name}`, hostTensor('float64', s.shape, init.get(s.name)!)]));
    const rng = new Rng(5);
    const out = await runGraph(g, { ...feeds, images: hostTensor('uint8', [n, 3, 8, 8], Uint8Array.from({ length: n * 192 }, () => rng.int(256))) });
    const all = toNumbers(out.all);
    const picked = toNumbers(out.picked);
    const D = cfg.preset.dim;
    assert.equal(picked.length, n * 2 * D);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < 2; t++) {
        for (let d = 0; d < D; d++) worst = Math.max(worst, Math.abs(picked[(i * 2 + t) * D + d] - all[(i * 4 + ids[i][t]) * D + d]));
      }
    }
    assert.ok(worst < 1e-12, `embedAt differs from embed's rows by ${worst}`);
  });
}

test('embedAt: gradient in the patches, the stem, the embedding and the position table matches finite differences (float64)', async () => {
  const cfg = stemCfg(2, 3);
  const specs = paramSpecs(cfg);
  const rng = new Rng(9);
  const shapeOf = (name: string) => specs.find((s) => s.name === name)!.shape as number[];
  const names = ['stem.conv.weight', 'stem.conv.bias', 'embed.weight', 'embed.bias', 'pos'];
  const size = (sh: number[]) => sh.reduce((x, y) => x * y, 1);
  const r = await gradcheck({
    inputs: [
      { name: 'x', shape: [2, 4, 16 * 2], data: randoms(rng, 2 * 4 * 32) },
      ...names.map((name) => ({ name, shape: shapeOf(name), data: randoms(rng, size(shapeOf(name)), 0.5) })),
    ],
    build: (g, [x, ...w]) => embedAt(g, Object.fromEntries(names.map((name, i) => [name, w[i]])), x,
      g.constant('int64', [2, 3], [3, 0, 2, 1, 2, 0]), cfg),
  });
  console.log(`embedAt gradcheck float64: ${r.errors.map((e) => `${e.name} ${e.error.toExponential(2)}`).join(', ')} (bound 1e-6)`);
  assert.ok(r.worst < 1e-6, JSON.stringify(r.errors));
});

for (const preset of ['vit-micro-d2-p4-convstem32', 'vit-micro-d2-p4-convstem32-image']) test(`${preset} exports with the stem parameters and trains through the CLI`, async () => {
  const art = path.join(tmp, `art-${preset}`);
  const m = exportArtifacts({ preset, imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4, out: art });
  assert.ok(m.parameters.some((s) => s.name === 'stem.conv.weight' && s.shape.join() === '9,32'));
  assert.deepEqual(m.parameters.find((s) => s.name === 'embed.weight')!.shape, [4 * 32, 128]);
  const data = await writeTopBottomFolder(path.join(tmp, `labeled-${preset}`));
  const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', art, '--labeled', data, '--labels-per-class', '3',
    '--val-per-class', '2', '--steps', '4', '--eval-every', '2', '--threads', '1', '--quiet', '--out', path.join(tmp, `run-${preset}`)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done: step 4/);
});
