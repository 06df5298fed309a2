// export --strong-capacity S: the student classifies only S of the Bu strong views, the selected ones first (most
// confident first). Checked against finite differences in float64 (gradients.onnx with a capacity), and against the
// full step: while no more than S views are selected, one train_step gives the same new state and figures up to float
// rounding; beyond S, exactly the S most confident selected views keep their pseudo-labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { allNodes, decodeModel } from '../src/graph/serialize.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor } from '../src/runtime/tensor.js';
import { Rng } from '../src/data/rng.js';
import { checkGradientsOnnx } from './helpers/gradcheck.js';
import { batchFeeds, policyFeeds, stateFeeds } from './helpers/stepfeeds.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-capacity-'));
const shape = { preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 3, dtype: 'float64' as const, build: { erfStandIn: true } };

test('gradients.onnx with --strong-capacity 2 of 4 (float64) matches central finite differences', async () => {
  const dir = path.join(tmp, 'grad64-cap2');
  exportArtifacts({ ...shape, labeledBatch: 3, unlabeledBatch: 4, strongCapacity: 2, out: dir, graphs: ['gradients'] });
  const a = loadArtifacts(dir);
  assert.equal(a.manifest.strongCapacity, 2);
  const session = await Session.create(a.path('gradients.onnx'), { threads: 1 });
  // τ 0 and the gate open: all 4 views are selected, the 2 most confident are classified and carry gradient.
  const feeds: Record<string, HostTensor> = {
    ...stateFeeds(a, ['p', 'ema']), ...batchFeeds(a, 3),
    ...policyFeeds(a, { gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 0.7 }),
  };
  const analytic = await session.run(feeds);
  assert.equal(Number(analytic.pseudo_mask_rate.data[0]), 0.5, 'half of the 4 views classified and pseudo-labeled');
  const rng = new Rng(13);
  const { worst, worstName } = await checkGradientsOnnx(session, feeds, analytic, a.manifest.parameters,
    (n) => new Set([rng.int(n), n - 1]));
  await session.release();
  assert.ok(worst <= 1e-5, `worst relative error ${worst} at ${worstName}`);
});

test('train_step with capacity 3 of 6 equals the full step while ≤ 3 are selected; beyond, the 3 most confident keep theirs', async () => {
  const full = path.join(tmp, 'full');
  const cap = path.join(tmp, 'cap3');
  exportArtifacts({ ...shape, labeledBatch: 2, unlabeledBatch: 6, out: full, graphs: ['train_step'] });
  exportArtifacts({ ...shape, labeledBatch: 2, unlabeledBatch: 6, strongCapacity: 3, out: cap, graphs: ['train_step'] });
  const a = loadArtifacts(full);
  const b = loadArtifacts(cap);
  const nodes = (x: typeof a) => allNodes(decodeModel(fs.readFileSync(x.path('train_step.onnx'))).graph!).map((n) => n.opType);
  assert.ok(!nodes(a).includes('TopK') && nodes(b).includes('TopK'), 'only the capacity graph selects');
  const sa = await Session.create(a.path('train_step.onnx'), { threads: 1 });
  const sb = await Session.create(b.path('train_step.onnx'), { threads: 1 });
  const base = { ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 5) };
  const policy = (tau: number, agree: number) => ({
    ...policyFeeds(a, { gate_open: 1, tau, agree, lambda_rec: 1, lambda_l: 1, lambda_u: 1.5, step: 1, lr: 1e-3, weight_decay: 0.05, clip_norm: 1, ema_decay: 0.99 }),
  });
  const run = async (s: Session, tau: number, agree: number) => s.run(Object.fromEntries(s.inputNames.map((n) => [n, { ...base, ...policy(tau, agree) }[n]])));

  // The teacher's confidences (the same in both graphs), most confident first.
  const probe = await run(sa, 0, 0);
  const conf = Array.from(probe.pseudo_conf.data as Float64Array);
  const order = conf.map((c, i) => [c, i]).sort((x, y) => y[0] - x[0]).map(([, i]) => i);
  assert.ok(conf[order[2]] > conf[order[3]], 'distinct confidences around the cut');

  for (const [tau, agree, what] of [[conf[order[2]], 0, 'exactly 3 selected'], [conf[order[1]], 0, '2 selected'], [conf[order[2]], 1, '3 selected, agreement on'], [2, 0, 'none selected']] as const) {
    const x = await run(sa, tau, agree);
    const y = await run(sb, tau, agree);
    for (const name of Object.keys(x)) {
      let u = Array.from(x[name].data as ArrayLike<number | bigint>, Number);
      let v = Array.from(y[name].data as ArrayLike<number | bigint>, Number);
      if (/^new\.p\..*attn\.qkv\.bias$/.test(name)) {
        // The key third of the qkv bias has a gradient of exactly 0 (softmax over keys ignores a score shift common to
        // all keys), so both graphs compute rounding noise ~1e-17 there, which AdamW's first step divides by its ε
        // (1e-8): the two noises differ by more than rounding of the rest would. Both must stay noise-sized; the query
        // and value thirds are compared as every other tensor.
        const d = u.length / 3;
        for (const w of [u, v]) {
          const worstKey = Math.max(...w.slice(d, 2 * d).map(Math.abs));
          assert.ok(worstKey <= 1e-9, `${what}: ${name}'s key third moved by ${worstKey}, more than noise over AdamW's ε`);
        }
        u = [...u.slice(0, d), ...u.slice(2 * d)];
        v = [...v.slice(0, d), ...v.slice(2 * d)];
      }
      const scale = Math.max(1e-12, ...u.map(Math.abs));
      const d = Math.max(0, ...u.map((w, i) => Math.abs(w - v[i])));
      assert.ok(d / scale <= 1e-11, `${what}: ${name} differs by ${d} (scale ${scale})`);
    }
  }

  // τ 0: all 6 selected; the capacity graph trains the 3 most confident and reports exactly those.
  const all = await run(sb, 0, 0);
  const w = Array.from(all.pseudo_weight.data as Float64Array);
  assert.deepEqual(w.map((v, i) => (v > 0 ? i : -1)).filter((i) => i >= 0), [...order.slice(0, 3)].sort((p, q) => p - q));
  assert.equal(Number(all.pseudo_mask_rate.data[0]), 0.5);
  const fullAll = await run(sa, 0, 0);
  assert.equal(Number(fullAll.pseudo_mask_rate.data[0]), 1);
  await sa.release();
  await sb.release();
});

test('export --strong-capacity outside 1..batch-unlabeled is refused, naming the bound', () => {
  assert.throws(() => exportArtifacts({ ...shape, labeledBatch: 2, unlabeledBatch: 6, strongCapacity: 7, out: path.join(tmp, 'bad') }),
    /--strong-capacity must be an integer in 1\.\.6 \(--batch-unlabeled\), got 7/);
});
