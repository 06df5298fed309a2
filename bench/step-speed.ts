// Train-step and inference throughput of exported artifacts on one execution provider, with random inputs and
// the state fed back step to step as in training. Prints one JSON line per measurement.
//   node dist/bench/step-speed.js --preset vit-tiny-p4 --image-size 32 --channels 3 --bl 64 --bu 192 --device cuda
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Rng } from '../src/data/rng.js';
import { Device, Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor, stackTensors } from '../src/runtime/tensor.js';
import { feedsFor, stepFeeds } from './step-feeds.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const preset = arg('preset', 'vit-tiny-p4');
const size = Number(arg('image-size', '32'));
const channels = Number(arg('channels', '3'));
const bl = Number(arg('bl', '64'));
const bu = Number(arg('bu', '192'));
const device = arg('device', 'cpu') as Device;
const steps = Number(arg('steps', '10'));
const profile = arg('profile', '');
const threads = arg('threads', '') ? Number(arg('threads', '')) : undefined; // intra-op threads (default: all cores)
const K = Number(arg('k', '1')); // optimizer steps per run: >1 times train_chunk.onnx
const dir = path.join(os.tmpdir(), `ssmae-bench-${preset}-${size}-${bl}-${bu}-k${K}`);

if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
  exportArtifacts({ preset, imageSize: size, channels, classes: 10, labeledBatch: bl, unlabeledBatch: bu, stepsPerRun: K, out: dir });
}
const a = loadArtifacts(dir, { verify: false });
const m = a.manifest;
const B = bl + bu;
let t0 = performance.now();
const session = await Session.create(a.path(K > 1 ? 'train_chunk.onnx' : 'train_step.onnx'), { device, threads, profilePrefix: profile || undefined });
const createMs = performance.now() - t0;
let feeds = feedsFor(session, stepFeeds(a)); // τ 0 and the gate open: every term computed
if (K > 1) {
  // The same batch K times, stacked on a leading axis (timing only), and one learning rate per step.
  for (const name of ['images_labeled', 'images_weak', 'images_strong', 'labels', 'ids_keep', 'ids_restore', 'mask']) {
    feeds[name] = stackTensors(new Array(K).fill(feeds[name]));
  }
  feeds.lr = hostTensor('float32', [K], new Float32Array(K).fill(1e-4));
}
const times: number[] = [];
let loss = NaN;
for (let i = 0; i < steps + 3; i++) {
  feeds.step = scalarTensor('float32', K > 1 ? i * K : i + 1);
  t0 = performance.now();
  const out = await session.run(feeds);
  const dt = performance.now() - t0;
  if (i >= 3) times.push(dt);
  const next = { ...feeds };
  for (const s of m.parameters) for (const k of ['p', 'm', 'v', 'ema']) next[`${k}.${s.name}`] = out[`new.${k}.${s.name}`];
  feeds = next;
  loss = Number(out.loss.data[out.loss.data.length - 1]);
}
if (profile) session.endProfiling();
await session.release();
if (profile) summarizeProfile(profile);
times.sort((x, y) => x - y);
const med = times[Math.floor(times.length / 2)] / K; // per optimizer step
console.log(JSON.stringify({
  what: K > 1 ? `train_chunk K=${K}` : 'train_step', preset, image: size, batch: B, labeled: bl, device, threads: threads ?? 'all', params_M: +(m.paramCount / 1e6).toFixed(2),
  session_ms: +createMs.toFixed(0), step_ms_median: +med.toFixed(1), images_per_s: +((B * 1000) / med).toFixed(1), loss: +loss.toFixed(4),
}));

// Inference (pseudo-labeling) throughput through eval.onnx.
const ev = await Session.create(a.path('eval.onnx'), { device });
const evalFeeds: Record<string, HostTensor> = {};
for (const input of m.graphs.eval.inputs) if (input.name.startsWith('p.')) evalFeeds[input.name] = feeds[input.name];
const nb = Number(arg('eval-batch', '256'));
const rng = new Rng(1);
evalFeeds.images = hostTensor('uint8', [nb, channels, size, size], Uint8Array.from({ length: nb * channels * size * size }, () => rng.int(256)));
const et: number[] = [];
for (let i = 0; i < 8; i++) {
  t0 = performance.now();
  await ev.run(evalFeeds);
  if (i >= 2) et.push(performance.now() - t0);
}
await ev.release();
et.sort((x, y) => x - y);
const emed = et[Math.floor(et.length / 2)];
console.log(JSON.stringify({ what: 'inference', preset, image: size, batch: nb, device, ms_median: +emed.toFixed(1), images_per_s: +((nb * 1000) / emed).toFixed(1) }));

/** Where the nodes ran: ORT's profile (JSON trace) lists each node run with its execution provider. */
function summarizeProfile(prefix: string): void {
  const dirName = path.dirname(path.resolve(prefix));
  const base = path.basename(prefix);
  const file = fs.readdirSync(dirName).filter((f) => f.startsWith(base) && f.endsWith('.json')).sort().pop();
  if (!file) { console.log(JSON.stringify({ what: 'profile', error: 'no profile file written' })); return; }
  const events = JSON.parse(fs.readFileSync(path.join(dirName, file), 'utf8')) as { cat: string; dur: number; args?: { provider?: string; op_name?: string } }[];
  const by: Record<string, { nodes: number; us: number; matmul: number }> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.args?.provider) continue;
    const p = (by[e.args.provider] ??= { nodes: 0, us: 0, matmul: 0 });
    p.nodes++;
    p.us += e.dur;
    if (e.args.op_name === 'MatMul' || e.args.op_name === 'FusedMatMul' || e.args.op_name === 'Gemm') p.matmul++;
  }
  console.log(JSON.stringify({ what: 'profile', preset, device, file, by_provider: by }));
}
