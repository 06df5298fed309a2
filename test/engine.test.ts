// The engine end to end: the exported gradients.onnx of vit-micro-p4 checked against finite differences in float64,
// AdamW and clipping against a plain-TypeScript implementation, default-domain-only graphs, learning through
// train_step.onnx, and the export command's handling of bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Graph } from '../src/graph/builder.js';
import { allNodes, decodeModel, serialize } from '../src/graph/serialize.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';
import { adamw, adamwFlat, biasCorrection, clipFactor, emaUpdate } from '../src/models/optim.js';
import { Rng } from '../src/data/rng.js';
import { checkGradientsOnnx } from './helpers/gradcheck.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-engine-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

test('gradients.onnx of vit-micro-p4 (float64) matches central finite differences on every parameter tensor', async () => {
  const dir = path.join(tmp, 'grad64');
  // 8×8 single-channel images: 4 patches, 1 visible when masked; 3 labeled + 3 unlabeled images.
  exportArtifacts({
    preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, dtype: 'float64', labeledBatch: 3, unlabeledBatch: 3,
    out: dir, build: { erfStandIn: true }, graphs: ['gradients'],
  });
  const a = loadArtifacts(dir);
  const session = await Session.create(a.path('gradients.onnx'), { threads: 2 });
  // Gate open with τ = 0: every pseudo-label counts, so all three loss terms carry gradient.
  const feeds: Record<string, HostTensor> = {
    ...stateFeeds(a, ['p', 'ema']), ...batchFeeds(a, 3),
    ...policyFeeds(a, { gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 0.7 }),
  };
  const analytic = await session.run(feeds);
  const rng = new Rng(11);
  const { worst, worstName, checked } = await checkGradientsOnnx(session, feeds, analytic, a.manifest.parameters,
    (n) => new Set<number>([rng.int(n), rng.int(n), n - 1]));
  await session.release();
  console.log(`gradients.onnx vit-micro-p4 float64: ${checked} coordinates over ${a.manifest.parameters.length} parameter tensors, ` +
    `worst relative error ${worst.toExponential(2)} at ${worstName} (bound 1e-5; error / max|grad| of that tensor)`);
  assert.ok(worst <= 1e-5, `worst relative error ${worst} at ${worstName}`);
});

/** Clipping + AdamW (+ EMA) on three tensors, five steps, in float64, against PyTorch's clip_grad_norm_ and
 *  torch.optim.AdamW written out in TypeScript; `flat` builds the update over flat buffers (what the steps use). */
async function adamwAgainstReference(flat: boolean): Promise<number> {
  const rng = new Rng(5);
  const shapes = [[3, 4], [4], [2, 2, 3]];
  const decay = [true, false, true];
  const g = new Graph('adamw');
  const dt = 'float64';
  const sc = (name: string) => g.input(name, dt, []);
  const hyper = { lr: sc('lr'), weightDecay: sc('wd'), step: sc('step'), beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const clip = sc('clip');
  const emaDecay = sc('ema_decay');
  const ins = shapes.map((s, i) => ({
    p: g.input(`p${i}`, dt, s), m: g.input(`m${i}`, dt, s), v: g.input(`v${i}`, dt, s), grad: g.input(`g${i}`, dt, s),
    ema: g.input(`e${i}`, dt, s),
  }));
  if (flat) {
    const groups = [[0, 2], [1]];
    const r = adamwFlat(g, groups.map((idx) => ({
      params: idx.map((i) => ins[i].p), m: idx.map((i) => ins[i].m), v: idx.map((i) => ins[i].v),
      grads: idx.map((i) => ins[i].grad), ema: idx.map((i) => ins[i].ema), decay: decay[idx[0]],
    })), hyper, clip, emaDecay);
    groups.forEach((idx, k) => idx.forEach((i, j) => {
      g.output(r.groups[k].params[j], `np${i}`); g.output(r.groups[k].m[j], `nm${i}`); g.output(r.groups[k].v[j], `nv${i}`);
      g.output(r.groups[k].ema[j], `ne${i}`);
    }));
    g.output(r.norm, 'norm');
  } else {
    const { norm, factor } = clipFactor(g, ins.map((x) => x.grad), clip);
    const bc = biasCorrection(g, hyper);
    ins.forEach((x, i) => {
      const r = adamw(g, { param: x.p, m: x.m, v: x.v, grad: g.mul(x.grad, factor), decay: decay[i] }, hyper, bc);
      g.output(r.param, `np${i}`); g.output(r.m, `nm${i}`); g.output(r.v, `nv${i}`);
      g.output(emaUpdate(g, x.ema, r.param, emaDecay), `ne${i}`);
    });
    g.output(norm, 'norm');
  }
  const session = await Session.create(serialize(g), { threads: 1 });
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const state = shapes.map((s) => {
    const p = Array.from({ length: size(s) }, () => rng.normal());
    return { p, m: new Array(size(s)).fill(0), v: new Array(size(s)).fill(0), e: p.map((x) => x + 0.1 * rng.normal()) };
  });
  const lr = 0.01; const wd = 0.1; const clipNorm = 1.5; const d = 0.9;
  let worst = 0;
  for (let step = 1; step <= 5; step++) {
    const grads = shapes.map((s) => Array.from({ length: size(s) }, () => 2 * rng.normal()));
    const feeds: Record<string, HostTensor> = {
      lr: scalarTensor(dt, lr), wd: scalarTensor(dt, wd), step: scalarTensor(dt, step), clip: scalarTensor(dt, clipNorm),
      ema_decay: scalarTensor(dt, d),
    };
    shapes.forEach((s, i) => {
      feeds[`p${i}`] = hostTensor(dt, s, Float64Array.from(state[i].p));
      feeds[`m${i}`] = hostTensor(dt, s, Float64Array.from(state[i].m));
      feeds[`v${i}`] = hostTensor(dt, s, Float64Array.from(state[i].v));
      feeds[`e${i}`] = hostTensor(dt, s, Float64Array.from(state[i].e));
      feeds[`g${i}`] = hostTensor(dt, s, Float64Array.from(grads[i]));
    });
    const out = await session.run(feeds);
    // Reference: PyTorch's clip_grad_norm_ then torch.optim.AdamW, then the EMA, written out.
    const total = Math.sqrt(grads.flat().reduce((a, x) => a + x * x, 0));
    const f = Math.min(1, clipNorm / (total + 1e-6));
    worst = Math.max(worst, Math.abs(total - Number(out.norm.data[0])) / total);
    shapes.forEach((_, i) => {
      const st = state[i];
      for (let j = 0; j < st.p.length; j++) {
        const gr = grads[i][j] * f;
        st.m[j] = 0.9 * st.m[j] + 0.1 * gr;
        st.v[j] = 0.999 * st.v[j] + 0.001 * gr * gr;
        const mhat = st.m[j] / (1 - 0.9 ** step);
        const vhat = st.v[j] / (1 - 0.999 ** step);
        if (decay[i]) st.p[j] *= 1 - lr * wd;
        st.p[j] -= lr * mhat / (Math.sqrt(vhat) + 1e-8);
        st.e[j] = d * st.e[j] + (1 - d) * st.p[j];
      }
      for (const [k, ref] of [['np', st.p], ['nm', st.m], ['nv', st.v], ['ne', st.e]] as const) {
        const got = out[`${k}${i}`].data as Float64Array;
        ref.forEach((r, j) => { worst = Math.max(worst, Math.abs(r - got[j]) / Math.max(1, Math.abs(r))); });
      }
    });
  }
  await session.release();
  return worst;
}

for (const flat of [false, true]) {
  const what = flat ? 'over flat buffers (the steps\' form)' : 'tensor by tensor';
  test(`AdamW, global-norm clipping and the EMA ${what} match a plain TypeScript implementation`, async () => {
    const worst = await adamwAgainstReference(flat);
    console.log(`AdamW + clipping + EMA ${what} vs TypeScript reference, 5 steps: worst relative error ${worst.toExponential(2)} (bound 1e-6)`);
    assert.ok(worst <= 1e-6, `worst ${worst}`);
  });
}

test('every node of every exported graph is in the default ONNX domain', () => {
  const dir = path.join(tmp, 'domains');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 16, channels: 3, classes: 10, out: dir });
  const ops = new Set<string>();
  for (const file of ['train_step.onnx', 'gradients.onnx', 'eval.onnx']) {
    const model = decodeModel(fs.readFileSync(path.join(dir, file)));
    assert.deepEqual(model.opsetImport.map((o) => o.domain ?? ''), [''], `${file} imports only the default domain`);
    const nodes = allNodes(model.graph!);
    assert.ok(nodes.length > 100, `${file} has nodes`);
    for (const n of nodes) {
      assert.equal(n.domain ?? '', '', `${file}: node ${n.name} (${n.opType}) is in domain ${n.domain}`);
      ops.add(n.opType!);
    }
  }
  console.log(`default-domain operators used: ${[...ops].sort().join(' ')}`);
});

test('train_step.onnx learns: 300 steps on a fixed small problem cut the loss at least tenfold', async () => {
  const dir = path.join(tmp, 'learn');
  exportArtifacts({ preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 4, unlabeledBatch: 4, out: dir, graphs: ['train_step'] });
  const a = loadArtifacts(dir);
  const session = await Session.create(a.path('train_step.onnx'), { threads: 2 });
  // Fixed images, labels and masks: the model can memorize them, so the loss must fall far.
  let feeds: Record<string, HostTensor> = {
    ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 1),
    ...policyFeeds(a, { weight_decay: 0, clip_norm: 1, ema_decay: 0.9, gate_open: 0, tau: 0.95, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1 }),
  };
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= 300; step++) {
    feeds.step = scalarTensor('float32', step);
    feeds.lr = scalarTensor('float32', step < 20 ? 2e-3 * step / 20 : 2e-3);
    const out = await session.run(feeds);
    const next: Record<string, HostTensor> = { ...feeds };
    for (const s of a.manifest.parameters) for (const k of ['p', 'm', 'v', 'ema']) next[`${k}.${s.name}`] = out[`new.${k}.${s.name}`];
    feeds = next;
    const loss = Number(out.loss.data[0]);
    if (step === 1) first = loss;
    last = loss;
  }
  await session.release();
  console.log(`train_step.onnx: loss ${first.toFixed(4)} at step 1 → ${last.toFixed(4)} at step 300 (${(first / last).toFixed(1)}×)`);
  assert.ok(first / last >= 10, `loss fell only ${(first / last).toFixed(2)}× (${first} → ${last})`);
});

for (const [what, args, expect] of [
  ['an unknown preset', ['--preset', 'vit-huge-p99', '--image-size', '32', '--classes', '10'], /unknown preset 'vit-huge-p99'; choose one of: vit-base-p16, vit-micro-d2-p16, vit-micro-d2-p4, vit-micro-d2-p4-convstem32, vit-micro-d2-p4-convstem32-image, vit-micro-d2-p7, vit-micro-d2-p8-convstem32-image, vit-micro-p4/],
  ['a non-positive size', ['--preset', 'vit-micro-p4', '--image-size', '0', '--classes', '10'], /--image-size must be a positive integer, got 0/],
  ['a patch that does not divide the image', ['--preset', 'vit-micro-p4', '--image-size', '30', '--classes', '10'], /not a multiple of vit-micro-p4's patch size 4; use a multiple such as 32/],
  ['a non-positive class count', ['--preset', 'vit-micro-p4', '--image-size', '32', '--classes', '-1'], /--classes must be a positive integer/],
] as const) {
  test(`export with ${what} exits 2 with a one-line error`, () => {
    const r = spawnSync(process.execPath, [CLI, 'export', ...args, '--out', path.join(tmp, 'bad')], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, expect);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
}

test('export to an unwritable --out exits 2 and says what to do', () => {
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'x');
  const r = spawnSync(process.execPath, [CLI, 'export', '--preset', 'vit-micro-p4', '--image-size', '8', '--classes', '2', '--out', path.join(file, 'sub')], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cannot write to --out .*a-file\/sub: a part of the path is not a folder \(ENOTDIR\); choose a directory you can write/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
