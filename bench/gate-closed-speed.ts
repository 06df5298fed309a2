// Steps per second with and without compute skipping, gate closed and gate open, in one run: train_step.onnx with
// gate_open = 0 (what a closed-gate step cost before gate_closed_step.onnx), gate_closed_step.onnx (what it costs
// now), and train_step.onnx with gate_open = 1 (an open-gate step, the same graph before and after). Rounds
// alternate the three so that load from other processes falls on all of them alike; medians per variant. Also says
// whether gate_closed_step's outputs are bit-identical to train_step's with gate_open = 0 at this shape. The last
// rows: an open-gate step at --lambda-rec 0 through pseudo_step.onnx (before it, train_step's open step at λrec 0,
// which costs what the open row above costs), with and without --capacity; and a closed-gate step at --lambda-rec 0,
// which runs supervised_step.onnx (the labeled cross-entropy alone).
//   node dist/bench/gate-closed-speed.js --preset vit-micro-d2-p4 --image-size 32 --channels 3 --bl 16 --bu 48 --threads 1 [--capacity 16]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { scalarTensor } from '../src/runtime/tensor.js';
import { feedsFor, stepFeeds } from './step-feeds.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const preset = arg('preset', 'vit-micro-d2-p4');
const size = Number(arg('image-size', '32'));
const channels = Number(arg('channels', '3'));
const bl = Number(arg('bl', '16'));
const bu = Number(arg('bu', '48'));
const threads = Number(arg('threads', '1'));
const rounds = Number(arg('rounds', '4'));
const perRound = Number(arg('steps', '5'));
const dir = path.join(os.tmpdir(), `ssmae-bench-closed-${preset}-${size}x${channels}-${bl}-${bu}`);
// --capacity S adds a fourth variant: an open-gate step of artifacts exported with --strong-capacity S.
const capacity = Number(arg('capacity', '0'));

exportArtifacts({ preset, imageSize: size, channels, classes: 10, labeledBatch: bl, unlabeledBatch: bu, out: dir, graphs: ['train_step', 'gate_closed_step', 'pseudo_step', 'supervised_step'] });
const a = loadArtifacts(dir, { verify: false });
// A closed-gate step as training takes it: τ 0.95, the EMA teacher's default decay; gate_open is set per variant.
const base = stepFeeds(a, { tau: 0.95, ema_decay: 0.99 });

const full = await Session.create(a.path('train_step.onnx'), { threads });
const closed = await Session.create(a.path('gate_closed_step.onnx'), { threads });
const pseudo = await Session.create(a.path('pseudo_step.onnx'), { threads });
const supervised = await Session.create(a.path('supervised_step.onnx'), { threads });
const variants = [
  { name: 'gate closed, before (train_step, gate_open 0)', session: full, gate: 0 },
  { name: 'gate closed, after (gate_closed_step)', session: closed, gate: 0 },
  { name: 'gate closed, --lambda-rec 0 (supervised_step)', session: supervised, gate: 0 },
  { name: 'gate open (train_step, gate_open 1; unchanged)', session: full, gate: 1 },
  { name: 'gate open, --lambda-rec 0 (pseudo_step)', session: pseudo, gate: 1 },
];
let capped: Session | null = null;
let cappedPseudo: Session | null = null;
if (capacity > 0) {
  const capDir = `${dir}-cap${capacity}`;
  exportArtifacts({ preset, imageSize: size, channels, classes: 10, labeledBatch: bl, unlabeledBatch: bu, strongCapacity: capacity, out: capDir, graphs: ['train_step', 'pseudo_step'] });
  const capArt = loadArtifacts(capDir, { verify: false });
  capped = await Session.create(capArt.path('train_step.onnx'), { threads });
  cappedPseudo = await Session.create(capArt.path('pseudo_step.onnx'), { threads });
  variants.push({ name: `gate open, strong capacity ${capacity} of ${bu} (train_step of export --strong-capacity ${capacity})`, session: capped, gate: 1 });
  variants.push({ name: `gate open, strong capacity ${capacity}, --lambda-rec 0 (pseudo_step)`, session: cappedPseudo, gate: 1 });
}
const feedsAt = (s: Session, gate: number) => feedsFor(s, { ...base, gate_open: scalarTensor('float32', gate) });

// Bit-identity at this shape: one step from the same state.
const want = await full.run(feedsAt(full, 0));
const got = await closed.run(feedsAt(closed, 0));
let differing = 0;
let worst = 0;
for (const name of Object.keys(got)) {
  const x = want[name].data as Float32Array;
  const y = got[name].data as Float32Array;
  const scale = Math.max(1e-12, ...Array.from(x, (v) => Math.abs(Number(v))));
  let differs = false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { differs = true; worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale); }
  if (differs) differing++;
}

const times = variants.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  for (const [i, v] of variants.entries()) {
    const feeds = feedsAt(v.session, v.gate);
    await v.session.run(feeds); // warm
    for (let s = 0; s < perRound; s++) {
      const t0 = performance.now();
      await v.session.run(feeds);
      times[i].push(performance.now() - t0);
    }
  }
}
await full.release();
await closed.release();
await capped?.release();
await pseudo.release();
await supervised.release();
await cappedPseudo?.release();
const median = (t: number[]) => [...t].sort((x, y) => x - y)[Math.floor(t.length / 2)];
const lines = variants.map((v, i) => ({
  what: v.name, preset, image: `${size}x${size}x${channels}`, labeled: bl, unlabeled: bu, threads,
  step_ms_median: +median(times[i]).toFixed(1), steps_per_s: +(1000 / median(times[i])).toFixed(2), samples: times[i].length,
}));
const out = [...lines, { what: 'gate_closed_step vs train_step (gate_open 0), one step', outputs: Object.keys(got).length, differing_outputs: differing, worst_relative_difference: worst }];
for (const l of out) console.log(JSON.stringify(l));
const save = arg('save', '');
if (save) {
  fs.mkdirSync(path.dirname(save), { recursive: true });
  fs.writeFileSync(save, out.map((l) => JSON.stringify(l)).join('\n') + '\n');
}
