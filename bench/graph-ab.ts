// The same graphs of two artifact folders (e.g. this build's export and an older build's), timed alternately run by
// run in one process, so both sides see the same machine load: the ratio is the figure to quote on a shared machine.
// Both folders must be exports of the same model and batch (the feeds are made from --before's manifest).
//   node dist/bench/graph-ab.js --before DIR --after DIR [--graphs train_step,gate_closed_step,eval] [--rounds 8] [--threads 1] [--eval-batch 256]
// eval.onnx gets --eval-batch random images (the batch pseudo-label and eval classify at a time).
// Prints one JSON line per graph: medians of each side (after 2 warm-up runs each) and after/before speed-up.
import fs from 'node:fs';
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { evalFeeds, feedsFor, stepFeeds } from './step-feeds.js';
import { median } from './timing.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const before = arg('before', '');
const after = arg('after', '');
if (!before || !after) throw new Error('graph-ab: --before DIR and --after DIR are required (two `ssmae export` folders)');
const graphs = arg('graphs', 'train_step,gate_closed_step,supervised_step').split(',');
const rounds = Number(arg('rounds', '8'));
const threads = Number(arg('threads', '1'));
const warm = 2;

const evalBatch = Number(arg('eval-batch', '256'));
const beforeArt = loadArtifacts(before, { verify: false });
const feeds = { ...stepFeeds(beforeArt), ...(graphs.includes('eval') ? evalFeeds(beforeArt, evalBatch) : {}) };
for (const name of graphs) {
  const sides = [before, after].map((d) => `${d}/${name}.onnx`);
  if (!sides.every((f) => fs.existsSync(f))) { console.log(JSON.stringify({ what: 'graph-ab', graph: name, skipped: 'missing in one folder' })); continue; }
  const sessions = await Promise.all(sides.map((f) => Session.create(fs.readFileSync(f), { threads })));
  const f = sessions.map((s) => feedsFor(s, feeds));
  const ms: number[][] = [[], []];
  for (let r = 0; r < warm + rounds; r++) {
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await sessions[i].run(f[i]);
      if (r >= warm) ms[i].push(performance.now() - t0);
    }
  }
  for (const s of sessions) await s.release();
  const [b, a] = ms.map(median);
  console.log(JSON.stringify({ what: 'graph-ab', graph: name, threads, rounds, ...(name === 'eval' ? { eval_batch: evalBatch } : {}), before_ms: +b.toFixed(1), after_ms: +a.toFixed(1), speedup: +(b / a).toFixed(3), before_all: ms[0].map((x) => +x.toFixed(1)), after_all: ms[1].map((x) => +x.toFixed(1)) }));
}
