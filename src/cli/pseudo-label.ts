import type { Argv } from 'yargs';
import fs from 'node:fs';
import { format } from 'fast-csv';
import { Classifier, predictions } from '../algorithm/classifier.js';
import { posInt } from '../algorithm/config.js';
import { loadRun } from '../algorithm/run.js';
import { UsageError, asWriteError } from '../artifacts/files.js';
import { loadSource } from '../data/source.js';
import { DEVICES, Device } from '../runtime/session.js';
import { decodeProgress } from './progress.js';

export function parseShard(s: string | undefined): { index: number; count: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard ${s} is not valid; use i/N with 0 ≤ i < N, e.g. --shard 0/4 (shard indices start at 0)`);
  }
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function pseudoLabelCommand(y: Argv) {
  return y.command('pseudo-label', 'Label a dump of images with a trained run; writes a CSV path,label,confidence,...',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('input', { type: 'string', demandOption: true, describe: 'images to label: any folder (recursive), a CSV with a path column, or a built-in source' })
      .option('out', { type: 'string', demandOption: true, describe: 'CSV to write (header: path,label,confidence,class_index,accepted)' })
      .option('threshold', { type: 'number', default: 0, describe: 'rows with confidence below this get accepted=0 (they are still written, so nothing is lost)' })
      .option('only-accepted', { type: 'boolean', default: false, describe: 'write only rows at or above --threshold' })
      .option('shard', { type: 'string', describe: 'i/N: process only the i-th of N contiguous slices (deterministic; shards together cover the input once)' })
      .option('batch', { type: 'number', default: 256, describe: 'images per inference run' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores); 1 lets several jobs share a machine' })
      .example('$0 pseudo-label --run runs/pets --input dump/ --out labels.csv --threshold 0.95', 'label a folder')
      .example('$0 pseudo-label --run runs/pets --input dump/ --out labels-$I.csv --shard $I/8', 'one of 8 parallel jobs (e.g. a Kubernetes indexed Job or Slurm array)'),
    async (a) => {
      const shard = parseShard(a.shard);
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      if (!(a.threshold >= 0 && a.threshold <= 1)) throw new UsageError(`--threshold must be in [0, 1], got ${a.threshold}`);
      const run = loadRun(a.run);
      const m = run.artifacts.manifest;
      const set = await loadSource(a.input, { size: m.imageSize, channels: m.channels as 1 | 3, labeled: false, classes: run.classes, shard,
        onProgress: decodeProgress(a.input) });
      const clf = await Classifier.create(run.artifacts, run.weights, { device: a.device, threads: a.threads });
      const tmp = `${a.out}.${process.pid}.tmp`;
      const file = fs.createWriteStream(tmp);
      // A write that fails (a full disk) ends the command: the temporary file goes, a CSV already at --out stays.
      let failed: unknown = null;
      const closed = new Promise<void>((resolve) => { file.on('close', resolve); });
      file.on('error', (e) => { failed = e; });
      const fail = async (): Promise<never> => {
        process.stderr.write('\n'); // end the progress line
        file.destroy();
        await closed;
        fs.rmSync(tmp, { force: true });
        throw asWriteError(a.out, failed);
      };
      const csv = format({ headers: ['path', 'label', 'confidence', 'class_index', 'accepted'] });
      csv.pipe(file);
      const per = m.channels * m.imageSize * m.imageSize;
      let written = 0;
      let accepted = 0;
      const t0 = Date.now();
      // Streamed: each chunk's rows are written as soon as it is classified.
      for (let i = 0; i < set.n; i += a.batch) {
        if (failed) await fail();
        const b = Math.min(a.batch, set.n - i);
        const { label, conf } = predictions(await clf.logits(set.images.subarray(i * per, (i + b) * per), b), m.classes);
        for (let j = 0; j < b; j++) {
          const ok = conf[j] >= a.threshold;
          if (ok) accepted++;
          if (a['only-accepted'] && !ok) continue;
          csv.write([set.paths[i + j], run.classes[label[j]], conf[j].toFixed(6), label[j], ok ? 1 : 0]);
          written++;
        }
        process.stderr.write(`\rpseudo-labeled ${i + b}/${set.n}`);
      }
      await clf.release();
      await new Promise<void>((resolve) => { file.on('finish', resolve); file.on('error', () => resolve()); csv.end(); if (failed) resolve(); });
      if (failed) await fail();
      try {
        const fd = fs.openSync(tmp, 'r+');
        try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
        fs.renameSync(tmp, a.out);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw asWriteError(a.out, e);
      }
      const secs = (Date.now() - t0) / 1000;
      process.stderr.write('\n');
      console.log(`${a.out}: ${written} rows, ${accepted} at confidence ≥ ${a.threshold}` +
        (shard ? ` (shard ${shard.index}/${shard.count})` : '') + (set.skipped.length ? `, ${set.skipped.length} files skipped` : '') +
        `, ${(set.n / Math.max(secs, 1e-3)).toFixed(0)} images/s`);
    });
}
