import type { Argv } from 'yargs';
import fs from 'node:fs';
import path from 'node:path';
import { posInt } from '../algorithm/config.js';
import { TTAS, type Tta } from '../algorithm/classifier.js';
import { evaluateRun } from '../algorithm/evaluate.js';
import { loadRun } from '../algorithm/run.js';
import { writeFileAtomic } from '../artifacts/files.js';
import { loadSource } from '../data/source.js';
import { DEVICES, Device } from '../runtime/session.js';
import { BEST_OPTION } from './options.js';
import { decodeProgress, tenths } from './progress.js';

export function evalCommand(y: Argv) {
  return y.command('eval', 'Evaluate a trained run on a labeled source: accuracy, per-class accuracy, confusion matrix',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('best', BEST_OPTION)
      .option('data', { type: 'string', demandOption: true, describe: 'labeled source (same forms as train --labeled), e.g. mnist:test' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object (accuracy, per_class, confusion, n) instead of tables' })
      .option('confusion', { type: 'string', describe: 'where to write the confusion matrix CSV (default RUN/confusion.csv)' })
      .option('cache-dir', { type: 'string', describe: 'decode --data into this folder and read the images from there by offset (memory then holds a batch, not the set; a second command on the same data decodes nothing). Default: decoded into memory' })
      .option('tta', { choices: TTAS, default: 'none' as Tta, describe: 'test-time augmentation: flip also classifies each image\'s mirror image and averages the two softmax outputs (twice the time; for photos, whose mirror image is the same class, not for digits or text)' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores); 1 lets several jobs share a machine' })
      .example('$0 eval --run runs/mnist --data mnist:test', 'test accuracy of a run')
      .example('$0 eval --run runs/cifar --data cifar10/test --tta flip', 'with the mirror images averaged in')
      .example('$0 eval --run runs/pets --data data/test/ --json | jq .accuracy', 'for CI'),
    async (a) => {
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      const run = loadRun(a.run, { best: a.best });
      const m = run.artifacts.manifest;
      const set = await loadSource(a.data, { size: m.imageSize, channels: m.channels as 1 | 3, labeled: true, classes: run.classes,
        cacheDir: a['cache-dir'], onProgress: decodeProgress(a.data) });
      const t0 = Date.now();
      const e = await evaluateRun(run, set, { device: a.device, threads: a.threads, tta: a.tta,
        onProgress: tenths(`eval ${a.data}`, 'images', { quietFor: 2000 }) });
      const { confusion, per_class: perClass } = e;
      const csvFile = a.confusion ?? path.join(a.run, 'confusion.csv');
      const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
      writeFileAtomic(csvFile, ['true\\predicted', ...run.classes].map(quote).join(',') + '\n' +
        confusion.map((row, i) => [quote(run.classes[i]), ...row].join(',')).join('\n') + '\n');
      const result = { data: a.data, accuracy: e.accuracy, n: e.n, skipped: e.skipped, per_class: perClass, confusion, confusion_csv: csvFile, step: e.step, best: a.best, tta: e.tta };
      if (a.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(`${a.data}: accuracy ${(result.accuracy * 100).toFixed(2)}% on ${set.n} images (run ${a.run} at step ${run.step}${a.best ? ', its best validation' : ''}${e.tta === 'none' ? '' : `, tta ${e.tta}`}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      const w = Math.max(5, ...run.classes.map((c) => c.length));
      for (const c of run.classes) console.log(`  ${c.padEnd(w)}  ${perClass[c] === null ? '   -' : ((perClass[c] as number) * 100).toFixed(1).padStart(5)}%`);
      console.log(`confusion matrix (rows: true class, columns: predicted): ${csvFile}`);
      if (!fs.existsSync(csvFile)) throw new Error('confusion matrix was not written');
    });
}
