// Accuracy of a trained run on the hidden labels of its own unlabeled training images: the split is rebuilt from
// the run's config.json (source, --labels-per-class, --val-per-class, seed), the model classifies every unlabeled
// image, and the labels training never saw score it. For choosing settings without reading a test split.
//   node dist/bench/hidden-accuracy.js --run RUN [--threads 1] [--max 10000] [--tta flip] [--best]
// --max N scores a seeded sample of N of them (0: all; see hidden-sample.ts), drawn from every class; per_class
// says how many of each. --best scores the run's best-validation weights (train --keep-best).
import path from 'node:path';
import { Classifier, predictions, type Tta } from '../src/algorithm/classifier.js';
import { loadTrainingData } from '../src/algorithm/data.js';
import { loadRun } from '../src/algorithm/run.js';
import { subset } from '../src/data/types.js';
import { hiddenSample, perClass } from './hidden-sample.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const dir = arg('run', '');
if (!dir) { console.error('hidden-accuracy: --run RUN is required'); process.exit(2); }
const threads = Number(arg('threads', '1'));
const max = Number(arg('max', '10000'));
const tta = arg('tta', 'none') as Tta;
const best = process.argv.includes('--best');
const run = loadRun(dir, { best });
const cfg = run.config;
const m = run.artifacts.manifest;
const data = await loadTrainingData({
  labeled: cfg.labeled, unlabeled: cfg.unlabeled, labelsPerClass: cfg.labelsPerClass, valPerClass: cfg.valPerClass, seed: cfg.seed,
  size: m.imageSize, channels: m.channels as 1 | 3, classes: m.classes,
  cacheDir: cfg.cacheDir ?? path.join(path.dirname(path.resolve(dir)), '.cache', 'ssmae'), log: () => {},
});
const u = data.unlabeled;
if (!u.hiddenLabels) { console.error(`hidden-accuracy: ${dir}'s unlabeled images have no hidden labels`); process.exit(2); }
const sample = subset(u, hiddenSample(u.n, max, cfg.seed));
const hidden = sample.hiddenLabels!;
const n = sample.n;
const clf = await Classifier.create(run.artifacts, run.weights, { threads, tta });
const { label } = predictions(await clf.logits(sample.images, n), m.classes);
await clf.release();
let hit = 0;
for (let i = 0; i < n; i++) if (label[i] === hidden[i]) hit++;
console.log(JSON.stringify({
  run: dir, step: run.step, hidden_accuracy: hit / n, n, of: u.n, sample: n < u.n ? 'seeded' : 'all', per_class: perClass(hidden, m.classes), tta,
  ...(best ? { best: true } : {}),
}));
