// One exported graph under several ONNX Runtime session settings, timed alternately run by run in one process (so
// every setting sees the same machine load), and each setting's outputs compared with the first one's.
//   node dist/bench/session-ab.js --artifacts DIR [--graph train_step] [--rounds 8] [--configs seq:2,par:2x1,par:2x2]
// A config is seq:T (one node at a time, T intra-op threads) or par:IxT (ORT's parallel executor: I inter-op threads,
// each node T intra-op threads). Prints one JSON line per config: median ms after 2 warm-up runs, speed-up against
// the first config, and the largest absolute difference of any output from the first config's.
import fs from 'node:fs';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session, type SessionOptions } from '../src/runtime/session.js';
import type { HostTensor } from '../src/runtime/tensor.js';
import { feedsFor, stepFeeds } from './step-feeds.js';
import { median } from './timing.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const dir = arg('artifacts', '');
if (!dir) throw new Error('session-ab: --artifacts DIR is required (an `ssmae export` folder)');
const graph = arg('graph', 'train_step');
const rounds = Number(arg('rounds', '8'));
const warm = 2;

function parseConfig(c: string): SessionOptions {
  const seq = /^seq:(\d+)$/.exec(c);
  if (seq) return { threads: Number(seq[1]) };
  const par = /^par:(\d+)x(\d+)$/.exec(c);
  if (par) return { interOpThreads: Number(par[1]), threads: Number(par[2]) };
  throw new Error(`session-ab: config '${c}' is neither seq:T nor par:IxT`);
}
const configs = arg('configs', 'seq:2,par:2x1,par:2x2').split(',');
const opts = configs.map(parseConfig);

const maxDiff = (a: Record<string, HostTensor>, b: Record<string, HostTensor>) => {
  let m = 0;
  for (const k of Object.keys(a)) {
    const x = a[k].data as ArrayLike<number>;
    const y = b[k].data as ArrayLike<number>;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  }
  return m;
};

const art = loadArtifacts(dir, { verify: false });
const model = fs.readFileSync(`${dir}/${graph}.onnx`);
const sessions = await Promise.all(opts.map((o) => Session.create(model, o)));
const all = stepFeeds(art);
const feeds = sessions.map((s) => feedsFor(s, all));
const ms: number[][] = configs.map(() => []);
const outs: Record<string, HostTensor>[] = [];
for (let r = 0; r < warm + rounds; r++) {
  for (let i = 0; i < sessions.length; i++) {
    const t0 = performance.now();
    const out = await sessions[i].run(feeds[i]);
    const dt = performance.now() - t0;
    if (r >= warm) ms[i].push(dt);
    if (r === 0) outs[i] = out;
  }
}
for (const s of sessions) await s.release();
const base = median(ms[0]);
configs.forEach((c, i) => {
  const m = median(ms[i]);
  console.log(JSON.stringify({ what: 'session-ab', graph, config: c, rounds, median_ms: +m.toFixed(1),
    speedup_vs_first: +(base / m).toFixed(3), max_abs_diff_vs_first: maxDiff(outs[0], outs[i]), all_ms: ms[i].map((x) => +x.toFixed(1)) }));
});
