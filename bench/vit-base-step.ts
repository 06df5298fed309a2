// One CPU training step of a ViT-B/16 MAE imported through export --from-pretrained (facebook/vit-mae-base's layout,
// random weights): export time, then SSMAE train_step.onnx and the supervised step, timed per run, state fed back.
// Peak memory comes from /usr/bin/time -v around the whole script (docs/BENCHMARKS.md has the command).
//   node dist/bench/vit-base-step.js --image-size 224 --bl 1 --bu 1 --steps 2 --threads 2
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportFromPretrained } from '../src/artifacts/pretrained.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';
import { writeVitMaeBaseLayout } from '../scripts/vit-mae-base-layout.js';
import { batchFeeds, policyFeeds, stateFeeds } from '../test/helpers/stepfeeds.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const size = Number(arg('image-size', '224'));
const bl = Number(arg('bl', '1'));
const bu = Number(arg('bu', '1'));
const steps = Number(arg('steps', '2'));
const threads = Number(arg('threads', '2'));
const graph = arg('graph', 'train_step') as 'train_step' | 'supervised_step';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-vitb-bench-'));
const ckpt = path.join(tmp, 'vit-mae-base');
writeVitMaeBaseLayout(ckpt);
const t0 = Date.now();
exportFromPretrained({ dir: ckpt, classes: 10, imageSize: size, labeledBatch: bl, unlabeledBatch: bu, out: path.join(tmp, 'art'), graphs: [graph] });
const exportS = (Date.now() - t0) / 1000;
fs.rmSync(ckpt, { recursive: true });
const a = loadArtifacts(path.join(tmp, 'art'), { verify: false });
const session = await Session.create(a.path(`${graph}.onnx`), { threads });
const depth = a.cfg.preset.depth;
const n = graph === 'supervised_step' ? bl : bl + bu;
let feeds: Record<string, HostTensor> = {
  ...stateFeeds(a, ['p', 'm', 'v', 'ema']), ...batchFeeds(a, 1),
  ...policyFeeds(a, { gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1 }),
  drop_path: hostTensor('float32', [depth, 2, n], new Float32Array(depth * 2 * n).fill(1)),
  lr: scalarTensor('float32', 1e-4), weight_decay: scalarTensor('float32', 0.05), clip_norm: scalarTensor('float32', 1),
  ema_decay: scalarTensor('float32', 0.99),
};
const times: number[] = [];
for (let s = 1; s <= steps; s++) {
  feeds.step = scalarTensor('float32', s);
  const t = Date.now();
  const out = await session.run(Object.fromEntries(session.inputNames.map((k) => [k, feeds[k]])));
  times.push((Date.now() - t) / 1000);
  const next: Record<string, HostTensor> = { ...feeds };
  for (const k of Object.keys(out)) if (k.startsWith('new.')) next[k.slice(4)] = out[k];
  feeds = next;
  if (!Number.isFinite(Number(out.loss.data[0]))) throw new Error(`loss ${out.loss.data[0]} at step ${s}`);
}
await session.release();
fs.rmSync(tmp, { recursive: true });
console.log(JSON.stringify({
  model: 'vit-mae-base layout', graph, imageSize: size, labeledBatch: bl, unlabeledBatch: bu, threads, params: a.manifest.paramCount,
  export_s: exportS, step_s: times,
}));
