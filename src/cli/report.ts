import type { Argv } from 'yargs';
import fs from 'node:fs';
import path from 'node:path';
import { posInt } from '../algorithm/config.js';
import { loadRun } from '../algorithm/run.js';
import { writeFileAtomic } from '../artifacts/files.js';
import { loadSource } from '../data/source.js';
import { buildReport } from '../report/build.js';
import { DEVICES, Device } from '../runtime/session.js';
import { decodeProgress } from './progress.js';

export function reportCommand(y: Argv) {
  return y.command('report', 'Write one self-contained HTML page about a run: loss terms, validation and the gate, pseudo-labels, reconstructions, confusion matrix, configuration',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('data', { type: 'string', describe: 'labeled source (same forms as eval --data) for the confusion matrix, per-class accuracy and reconstructions; without it the page has the curves, the gate and the configuration' })
      .option('out', { type: 'string', describe: 'HTML file to write (default RUN/report.html); it loads nothing from anywhere, so it can be mailed or kept as a CI artifact' })
      .option('images', { type: 'number', default: 8, describe: 'reconstructions to show, spread evenly over --data' })
      .option('cache-dir', { type: 'string', describe: 'decode --data into this folder and read the images from there by offset (memory then holds a batch, not the set; a second command on the same data decodes nothing). Default: decoded into memory' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .example('$0 report --run runs/mnist --data mnist:test --out mnist-report.html', 'curves, gate, reconstructions and test-set confusion'),
    async (a) => {
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      posInt(a.images, '--images');
      const run = loadRun(a.run);
      const m = run.artifacts.manifest;
      const data = a.data === undefined ? undefined : {
        name: a.data,
        set: await loadSource(a.data, { size: m.imageSize, channels: m.channels as 1 | 3, labeled: true, classes: run.classes, cacheDir: a['cache-dir'],
          onProgress: decodeProgress(a.data) }),
      };
      const out = a.out ?? path.join(a.run, 'report.html');
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      writeFileAtomic(out, await buildReport(run, { data, images: a.images, device: a.device, threads: a.threads }));
      console.log(`wrote ${out} (${(fs.statSync(out).size / 1024).toFixed(0)} KB)`);
    });
}
