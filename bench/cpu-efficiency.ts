// Engine efficiency on the CPU: for each preset and batch, the train step's FLOPs (counted from the graph), its
// time split into data preparation (augmentation + masks in TypeScript), the ORT run, and the share of the run spent
// copying the parameters, moments and EMA in and out (measured with an Identity graph over the same tensors), and
// the achieved GFLOP/s against a plain MatMul ceiling measured in the same process with the same session options.
//   node dist/bench/cpu-efficiency.js [--steps 5] [--configs micro:64,micro:256,tiny:64,tiny:256]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts, loadInitialWeights } from '../src/artifacts/load.js';
import { drawMasks } from '../src/algorithm/masking.js';
import { augmentBatch } from '../src/data/augment.js';
import { Rng } from '../src/data/rng.js';
import { MemoryStore } from '../src/data/store.js';
import { ImageSet } from '../src/data/types.js';
import { Graph } from '../src/graph/builder.js';
import { serialize } from '../src/graph/serialize.js';
import { paramSpecs } from '../src/models/params.js';
import { modelConfig } from '../src/models/presets.js';
import { buildTrainStep } from '../src/models/step.js';
import { Session } from '../src/runtime/session.js';
import { HostTensor, hostTensor, scalarTensor } from '../src/runtime/tensor.js';
import { countFlops } from './flops.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const steps = Number(arg('steps', '5'));
const configs = arg('configs', 'micro:64,micro:256,tiny:64,tiny:256').split(',');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(s: Session, feeds: Record<string, HostTensor>, n: number): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < n + 2; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    if (i >= 2) ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** A plain [M,K]×[K,N] MatMul through a session with the same options as training, and its feeds. */
async function matmulSession(m: number, k: number, n: number): Promise<{ s: Session; feeds: Record<string, HostTensor>; flop: number }> {
  const g = new Graph('ceiling');
  const a = g.input('a', 'float32', [m, k]);
  const b = g.input('b', 'float32', [k, n]);
  g.output(g.matmul(a, b), 'c');
  const rng = new Rng(1);
  return {
    s: await Session.create(serialize(g)),
    feeds: {
      a: hostTensor('float32', [m, k], Float32Array.from({ length: m * k }, () => rng.normal())),
      b: hostTensor('float32', [k, n], Float32Array.from({ length: k * n }, () => rng.normal())),
    },
    flop: 2 * m * k * n,
  };
}

/** Times two sessions alternately, run by run, so both see the same machine load; returns both medians (ms). */
async function sideBySide(x: Session, xf: Record<string, HostTensor>, y: Session, yf: Record<string, HostTensor>,
  rounds: number, yRepeats: number): Promise<[number, number]> {
  const tx: number[] = [];
  const ty: number[] = [];
  for (let i = 0; i < rounds + 1; i++) {
    let t0 = performance.now();
    await x.run(xf);
    if (i > 0) tx.push(performance.now() - t0);
    t0 = performance.now();
    for (let j = 0; j < yRepeats; j++) await y.run(yf);
    if (i > 0) ty.push((performance.now() - t0) / yRepeats);
  }
  return [median(tx), median(ty)];
}

/** Time to pass the whole optimizer state through ORT and back (Identity per tensor): the copy cost alone. */
async function copyCost(feeds: Record<string, HostTensor>, names: string[]): Promise<number> {
  const g = new Graph('copy');
  for (const n of names) g.output(g.identity(g.input(n, 'float32', feeds[n].dims)), `out.${n}`);
  const s = await Session.create(serialize(g));
  const f = Object.fromEntries(names.map((n) => [n, feeds[n]]));
  const ms = await time(s, f, 5);
  await s.release();
  return ms;
}

const rows: Record<string, unknown>[] = [];
for (const c of configs) {
  const [short, batch] = c.split(':');
  const preset = `vit-${short}-p4`;
  const B = Number(batch);
  const bl = B / 4;
  const bu = B - bl;
  const dir = path.join(os.tmpdir(), `ssmae-cpu-${preset}-${B}`);
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
    exportArtifacts({ preset, imageSize: 32, channels: 3, classes: 10, labeledBatch: bl, unlabeledBatch: bu, out: dir, graphs: ['train_step', 'eval'] });
  }
  const cfg = modelConfig(preset, 32, 3, 10);
  const flops = countFlops(buildTrainStep(cfg, paramSpecs(cfg), { labeledBatch: bl, unlabeledBatch: bu }));
  const a = loadArtifacts(dir, { verify: false });
  const m = a.manifest;
  const w = loadInitialWeights(a);
  const rng = new Rng(0);
  // Data preparation as the trainer does it: augmentation of every view and the masks.
  const pool: ImageSet = {
    images: new MemoryStore(Uint8Array.from({ length: 512 * 3 * 32 * 32 }, () => rng.int(256)), 3, 32), labels: new Int32Array(512), n: 512,
    channels: 3, size: 32, classes: [], paths: [], skipped: [],
  };
  const idx = (n: number) => Int32Array.from({ length: n }, () => rng.int(512));
  const prep = () => {
    const xl = augmentBatch(pool, idx(bl), 'weak', rng, { weak: { flip: true, pad: 4 } });
    const xw = augmentBatch(pool, idx(bu), 'weak', rng, { weak: { flip: true, pad: 4 } });
    const xs = augmentBatch(pool, idx(bu), 'strong', rng, { weak: { flip: true, pad: 4 }, strong: { n: 2, magnitude: 5, cutout: 0.3 } });
    return { xl, xw, xs, mk: drawMasks(rng, B, m.numPatches, m.keep) };
  };
  const prepTimes: number[] = [];
  let batchData = prep();
  for (let i = 0; i < 5; i++) { const t0 = performance.now(); batchData = prep(); prepTimes.push(performance.now() - t0); }
  const feeds: Record<string, HostTensor> = {};
  const stateNames: string[] = [];
  for (const s of m.parameters) {
    const init = w.get(s.name)!.data as Float32Array;
    for (const k of ['p', 'm', 'v', 'ema']) {
      feeds[`${k}.${s.name}`] = hostTensor('float32', s.shape, k === 'p' || k === 'ema' ? init.slice() : new Float32Array(init.length));
      stateNames.push(`${k}.${s.name}`);
    }
  }
  const img = (n: number, d: Uint8Array) => hostTensor('uint8', [n, 3, 32, 32], d);
  Object.assign(feeds, {
    images_labeled: img(bl, batchData.xl), images_weak: img(bu, batchData.xw), images_strong: img(bu, batchData.xs),
    labels: hostTensor('int64', [bl], new BigInt64Array(bl)),
    labels_mix: hostTensor('int64', [bl], new BigInt64Array(bl)), mix_weight: hostTensor('float32', [bl], new Float32Array(bl)), // no CutMix
    ids_keep: hostTensor('int64', [B, m.keep], batchData.mk.idsKeep), ids_restore: hostTensor('int64', [B, m.numPatches], batchData.mk.idsRestore),
    mask: hostTensor('float32', [B, m.numPatches], batchData.mk.mask),
  });
  for (const [k, v] of Object.entries({ step: 1, lr: 1e-4, weight_decay: 0.05, clip_norm: 1, ema_decay: 0.99, gate_open: 1, tau: 0, agree: 0, lambda_rec: 1, lambda_l: 1, lambda_u: 1, label_smoothing: 0 })) feeds[k] = scalarTensor('float32', v);
  feeds.da_ratio = hostTensor('float32', [10], new Float32Array(10).fill(1));
  feeds.tau = hostTensor('float32', [10], new Float32Array(10).fill(0)); // per class
  const s = await Session.create(a.path('train_step.onnx'));
  // Ceiling: the step's largest matrix product shape class — all tokens of the batch through the MLP's first layer —
  // timed alternately with the step itself.
  const d = cfg.preset.dim;
  const mm = await matmulSession(B * m.numPatches, d, 4 * d);
  const [runMs, mmMs] = await sideBySide(s, feeds, mm.s, mm.feeds, steps, 5);
  await s.release();
  await mm.s.release();
  const ceiling = mm.flop / (mmMs * 1e6);
  const copyMs = await copyCost(feeds, stateNames);
  const gflops = flops.total / (runMs * 1e6);
  const row = {
    preset, batch: B, gflop_per_step: +(flops.total / 1e9).toFixed(2), matmul_share: +(flops.matmul / flops.total).toFixed(3),
    prep_ms: +median(prepTimes).toFixed(1), run_ms: +runMs.toFixed(1), state_copy_ms: +copyMs.toFixed(1),
    copy_share_of_run: +(copyMs / runMs).toFixed(3), gflops_achieved: +gflops.toFixed(1), matmul_ceiling_gflops: +ceiling.toFixed(1),
    ratio_to_ceiling: +(gflops / ceiling).toFixed(3), peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
