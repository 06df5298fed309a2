// The same-run CPU comparison of `make bench`: ssmae's train step as it was before the engine work (an older
// build's train_step.onnx), as it is now, and PyTorch's reference step (bench/ssmae_step_torch.py, fp32 and bf16
// autocast), timed alternately, round by round, on the same shapes (32×32×3, Bl + Bu images, τ 0 so every term is
// computed, 2 threads). The machine is shared, so only ratios from the same round mean anything. Also: the step's
// FLOPs against two same-run MatMul ceilings (1024² and the step's own largest product shape). One JSON line per
// measurement, then a table.
//   node dist/bench/cpu-peer.js --presets micro,tiny --before DIR_OF_BUILDS --after DIR_OF_BUILDS [--rounds 2] [--steps 6]
//     [--torch-variants eager_fp32,eager_bf16]   (NaN where a variant is left out)
// DIR_OF_BUILDS holds one `ssmae export` folder per preset, named vit-<preset>-p4 (bench/cpu-peer.sh makes them).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Rng } from '../src/data/rng.js';
import { Graph } from '../src/graph/builder.js';
import { serialize } from '../src/graph/serialize.js';
import { paramSpecs } from '../src/models/params.js';
import { modelConfig } from '../src/models/presets.js';
import { buildTrainStep } from '../src/models/step.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor } from '../src/runtime/tensor.js';
import { countFlops } from './flops.js';
import { feedsFor, stepFeeds } from './step-feeds.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const presets = arg('presets', 'micro,tiny').split(',');
const before = arg('before', '');
const after = arg('after', '');
const rounds = Number(arg('rounds', '2'));
const steps = Number(arg('steps', '6'));
const threads = Number(arg('threads', '2'));
const torchScript = arg('torch-script', path.join(path.dirname(new URL(import.meta.url).pathname), '../../bench/ssmae_step_torch.py'));
const python = arg('python', '/usr/bin/python3');
const torchVariants = arg('torch-variants', 'eager_fp32,eager_bf16').split(',');
if (!before || !after) throw new Error('cpu-peer: --before and --after are required (folders of exported artifacts per preset)');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median of `n` runs after 2 warm-up runs, in ms. */
async function timeRuns(s: Session, feeds: Record<string, HostTensor>, n: number): Promise<number> {
  const ts: number[] = [];
  const f = feedsFor(s, feeds);
  for (let i = 0; i < n + 2; i++) {
    const t0 = performance.now();
    await s.run(f);
    if (i >= 2) ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** A plain [m,k]×[k,n] MatMul session (same options as training) with random feeds. */
async function matmul(m: number, k: number, n: number): Promise<{ s: Session; feeds: Record<string, HostTensor>; flop: number }> {
  const g = new Graph('ceiling');
  g.output(g.matmul(g.input('a', 'float32', [m, k]), g.input('b', 'float32', [k, n])), 'c');
  const rng = new Rng(1);
  const r = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  return { s: await Session.create(serialize(g), { threads }), feeds: { a: hostTensor('float32', [m, k], r(m * k)), b: hostTensor('float32', [k, n], r(k * n)) }, flop: 2 * m * k * n };
}

/** PyTorch's step (the reference script's mean over `steps` steps after 5 warm-up steps), in ms. */
function torchStep(preset: string, batch: number, variant: string): number {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE; // the machine's settings for other programs mis-tune OpenBLAS (DESIGN.md)
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(python, [torchScript, '--device', 'cpu', '--threads', String(threads), '--preset', preset, '--batch', String(batch),
    '--variants', variant, '--steps', String(steps)], { env, encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`cpu-peer: PyTorch reference failed (${python} ${torchScript}): ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(line).step_ms as number;
}

interface Row { preset: string; round: number; before_ms: number; after_ms: number; torch_fp32_ms: number; torch_bf16_ms: number; mm1024_gflops: number; mm_step_gflops: number }
const rows: Row[] = [];
for (const short of presets) {
  const preset = `vit-${short}-p4`;
  const a = loadArtifacts(path.join(after, preset), { verify: false });
  const m = a.manifest;
  const B = m.labeledBatch + m.unlabeledBatch;
  const feeds = stepFeeds(a);
  const cfg = modelConfig(preset, m.imageSize, m.channels, m.classes);
  const flops = countFlops(buildTrainStep(cfg, paramSpecs(cfg), { labeledBatch: m.labeledBatch, unlabeledBatch: m.unlabeledBatch }));
  // Before: the older graph with the session options it ran under (intra-op threads spinning, ORT's default).
  const sBefore = await Session.create(path.join(before, preset, 'train_step.onnx'), { threads, spin: true });
  const sAfter = await Session.create(a.path('train_step.onnx'), { threads });
  const mm1024 = await matmul(1024, 1024, 1024);
  const d = cfg.preset.dim; // the step's largest product class: every token of the batch through the MLP's first layer
  const mmStep = await matmul(B * m.numPatches, d, 4 * d);
  for (let round = 1; round <= rounds; round++) {
    const beforeMs = await timeRuns(sBefore, feeds, steps);
    const afterMs = await timeRuns(sAfter, feeds, steps);
    const c1 = mm1024.flop / ((await timeRuns(mm1024.s, mm1024.feeds, 10)) * 1e6);
    const c2 = mmStep.flop / ((await timeRuns(mmStep.s, mmStep.feeds, 10)) * 1e6);
    const fp32 = torchVariants.includes('eager_fp32') ? torchStep(short, B, 'eager_fp32') : NaN;
    const bf16 = torchVariants.includes('eager_bf16') ? torchStep(short, B, 'eager_bf16') : NaN;
    const row: Row = {
      preset, round, before_ms: +beforeMs.toFixed(1), after_ms: +afterMs.toFixed(1), torch_fp32_ms: fp32, torch_bf16_ms: bf16,
      mm1024_gflops: +c1.toFixed(1), mm_step_gflops: +c2.toFixed(1),
    };
    rows.push(row);
    console.log(JSON.stringify({
      ...row, batch: B, labeled: m.labeledBatch, threads, gflop_per_step: +(flops.total / 1e9).toFixed(2),
      speedup_vs_before: +(beforeMs / afterMs).toFixed(2), vs_torch_fp32: +(fp32 / afterMs).toFixed(2), vs_torch_bf16: +(bf16 / afterMs).toFixed(2),
      after_gflops: +(flops.total / (afterMs * 1e6)).toFixed(1),
      after_share_of_1024_ceiling: +(flops.total / (afterMs * 1e6) / c1).toFixed(3), after_share_of_step_shape_ceiling: +(flops.total / (afterMs * 1e6) / c2).toFixed(3),
    }));
  }
  for (const s of [sBefore, sAfter, mm1024.s, mmStep.s]) await s.release();
}
console.log('\n| preset | round | before | after | after vs before | PyTorch fp32 | after vs fp32 | PyTorch bf16 | after vs bf16 |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.preset} | ${r.round} | ${r.before_ms} ms | ${r.after_ms} ms | ${(r.before_ms / r.after_ms).toFixed(2)}× | ${r.torch_fp32_ms} ms | ` +
    `${(r.torch_fp32_ms / r.after_ms).toFixed(2)}× | ${r.torch_bf16_ms} ms | ${(r.torch_bf16_ms / r.after_ms).toFixed(2)}× |`);
}
