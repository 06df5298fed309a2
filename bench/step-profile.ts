// Where a CPU train step's time goes: the nodes of train_step.onnx by operator type (as written, before ONNX
// Runtime's own graph optimizations) and ORT's session profile by operator type (the nodes it actually ran, after
// its fusions), per step, with the matrix products' share of the run. Prints one JSON line.
//   node dist/bench/step-profile.js --artifacts DIR [--onnx FILE] [--steps 6] [--threads 2] [--label NAME]
// --save-profile FILE keeps ORT's raw profile (JSON trace). --onnx profiles another train_step.onnx with the same inputs (e.g. an older build's), fed from DIR's weights.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadArtifacts } from '../src/artifacts/load.js';
import { allNodes, decodeModel } from '../src/graph/serialize.js';
import { Session } from '../src/runtime/session.js';
import { feedsFor, stepFeeds } from './step-feeds.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const dir = arg('artifacts', '');
if (!dir) throw new Error('step-profile: --artifacts DIR is required (an `ssmae export` folder)');
const a = loadArtifacts(dir, { verify: false });
const onnxFile = arg('onnx', a.path('train_step.onnx'));
const steps = Number(arg('steps', '6'));
const threads = Number(arg('threads', '2'));
const label = arg('label', path.basename(path.dirname(path.resolve(onnxFile))));

const nodesByOp: Record<string, number> = {};
const bytes = fs.readFileSync(onnxFile);
for (const n of allNodes(decodeModel(bytes).graph!)) nodesByOp[n.opType!] = (nodesByOp[n.opType!] ?? 0) + 1;
const graphNodes = Object.values(nodesByOp).reduce((x, y) => x + y, 0);

const feeds = stepFeeds(a);
const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-profile-')), 'step');
const s = await Session.create(bytes, { threads, profilePrefix: prefix });
const warm = 3; // the profile's first runs include ORT's allocations; they are dropped below
const times: number[] = [];
const f = feedsFor(s, feeds);
for (let i = 0; i < warm + steps; i++) {
  const t0 = performance.now();
  await s.run(f);
  if (i >= warm) times.push(performance.now() - t0);
}
s.endProfiling();
await s.release();

const file = fs.readdirSync(path.dirname(prefix)).filter((f) => f.endsWith('.json')).map((f) => path.join(path.dirname(prefix), f))[0];
type Ev = { cat: string; name: string; dur: number; ts: number; args?: { op_name?: string } };
const events = JSON.parse(fs.readFileSync(file, 'utf8')) as Ev[];
if (arg('save-profile', '')) fs.copyFileSync(file, arg('save-profile', ''));
fs.rmSync(path.dirname(prefix), { recursive: true });
// Runs are the model_run events in order; node events are assigned to the run whose interval holds them.
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((x, y) => x.ts - y.ts);
const kept = runs.slice(warm);
const inKept = (e: Ev) => kept.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
// Per node, the median of its kept runs: the 2-core machine is shared, and a thread descheduled for 100 ms inside one
// node would otherwise dominate its operator's total.
const perNode = new Map<string, { op: string; us: number[] }>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name || !inKept(e)) continue;
  const o = perNode.get(e.name) ?? { op: e.args.op_name, us: [] };
  o.us.push(e.dur);
  perNode.set(e.name, o);
}
// By op type, and by origin: a backward node is named after the forward node it differentiates (grad/<forward name>/
// <op>_N), so its time is booked to "∂<forward op>"; forward nodes to "forward". Fused nodes ORT renamed keep their own op.
const byOp: Record<string, { runs: number; us: number }> = {};
const byOrigin: Record<string, { runs: number; us: number }> = {};
let nodeUs = 0;
for (const [name, { op, us }] of perNode) {
  const med = [...us].sort((x, y) => x - y)[Math.floor(us.length / 2)];
  const parts = name.replace(/_kernel_time$/, '').split('/');
  const gi = parts.indexOf('grad');
  const origin = gi >= 0 && parts.length - gi > 2 ? `∂${parts[parts.length - 2].replace(/_\d+$/, '')}` : 'forward';
  for (const o of [(byOp[op] ??= { runs: 0, us: 0 }), (byOrigin[origin] ??= { runs: 0, us: 0 })]) {
    o.runs += us.length / kept.length;
    o.us += med;
  }
  nodeUs += med;
}
const perStep = Object.fromEntries(Object.entries(byOp).sort((x, y) => y[1].us - x[1].us)
  .map(([op, v]) => [op, { nodes: +v.runs.toFixed(1), ms: +(v.us / 1000).toFixed(2) }]));
const matmulUs = Object.entries(byOp).filter(([op]) => /MatMul|Gemm/.test(op)).reduce((t, [, v]) => t + v.us, 0);
const median = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)];
console.log(JSON.stringify({
  what: 'step-profile', label, preset: a.manifest.preset.name, threads, steps,
  step_ms_median: +median.toFixed(1),
  graph_nodes: graphNodes,
  ort_nodes_per_step: +Object.values(byOp).reduce((t, v) => t + v.runs, 0).toFixed(0),
  node_ms_per_step: +(nodeUs / 1000).toFixed(1), // sum of per-node medians
  matmul_share_of_node_time: +(matmulUs / nodeUs).toFixed(3),
  graph_nodes_by_op: Object.fromEntries(Object.entries(nodesByOp).sort((x, y) => y[1] - x[1])),
  ort_per_step_by_op: perStep,
  ort_per_step_by_origin: Object.fromEntries(Object.entries(byOrigin).sort((x, y) => y[1].us - x[1].us)
    .map(([k, v]) => [k, { nodes: +v.runs.toFixed(1), ms: +(v.us / 1000).toFixed(2) }])),
}));
