// Two train steps of exported artifacts and nothing else, for measuring a step's peak memory from outside
// (/usr/bin/time -v: "Maximum resident set size"). --onnx runs another train_step.onnx with the same inputs.
//   /usr/bin/time -v node dist/bench/one-step.js --artifacts DIR [--onnx FILE] [--threads 2]
import { loadArtifacts } from '../src/artifacts/load.js';
import { Session } from '../src/runtime/session.js';
import { feedsFor, stepFeeds } from './step-feeds.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const a = loadArtifacts(arg('artifacts', ''), { verify: false });
const s = await Session.create(arg('onnx', a.path('train_step.onnx')), { threads: Number(arg('threads', '2')) });
const feeds = feedsFor(s, stepFeeds(a));
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  const out = await s.run(feeds);
  console.log(JSON.stringify({ what: 'one-step', step: i + 1, ms: +(performance.now() - t0).toFixed(0), loss: Number(out.loss.data[0]) }));
}
await s.release();
