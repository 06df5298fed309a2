// The labels-only baseline's own graph (supervised_step.onnx) must train the classifier exactly as the full SSMAE
// step does with the reconstruction and pseudo-label terms weighted 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportArtifacts } from '../src/artifacts/export.js';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { evalSpecs } from '../src/models/step.js';
import { writeTopBottomFolder } from './helpers/tinydata.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-supervised-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

test('labels-only through supervised_step.onnx matches train_step.onnx with λrec = λu = 0', async () => {
  const data = await writeTopBottomFolder(path.join(tmp, 'labeled'));
  const shape = { preset: 'vit-micro-p4', imageSize: 8, channels: 1, classes: 2, labeledBatch: 2, unlabeledBatch: 4 };
  const withGraph = exportArtifacts({ ...shape, out: path.join(tmp, 'art-sup') });
  exportArtifacts({ ...shape, out: path.join(tmp, 'art-full'), graphs: ['train_step', 'eval'] });
  assert.ok(withGraph.graphs.supervised_step, 'export writes supervised_step.onnx');
  for (const kind of ['sup', 'full']) {
    const r = spawnSync(process.execPath, [CLI, 'train', '--artifacts', path.join(tmp, `art-${kind}`), '--labeled', data,
      '--labels-per-class', '3', '--val-per-class', '2', '--method', 'labels-only', '--steps', '15', '--eval-every', '5',
      '--warmup-steps', '3', '--threads', '1', '--quiet', '--out', path.join(tmp, `run-${kind}`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const a = loadCheckpoint(path.join(tmp, 'run-sup', 'checkpoint.safetensors')).model;
  const b = loadCheckpoint(path.join(tmp, 'run-full', 'checkpoint.safetensors')).model;
  let worst = 0;
  let moved = 0;
  for (const s of evalSpecs(withGraph.parameters)) {
    for (const kind of ['p', 'm', 'v', 'ema'] as const) {
      const x = a[kind].get(s.name)!;
      const y = b[kind].get(s.name)!;
      const scale = Math.max(1e-12, ...Array.from(y, Math.abs));
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
      if (kind === 'm') moved = Math.max(moved, scale);
    }
  }
  console.log(`supervised_step vs train_step (λrec = λu = 0), 15 steps: worst relative difference ${worst.toExponential(2)} (bound 1e-4)`);
  assert.ok(moved > 0, 'the optimizer moved');
  assert.ok(worst <= 1e-4, `classifier state differs by ${worst}`);
});
