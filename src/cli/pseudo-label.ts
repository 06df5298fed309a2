import type { Argv } from 'yargs';
import fs from 'node:fs';
import path from 'node:path';
import { Classifier, TTAS, type Tta } from '../algorithm/classifier.js';
import { posInt } from '../algorithm/config.js';
import { modelProvenance } from '../algorithm/label-meta.js';
import { LABEL_FORMATS, LabelFormat } from '../algorithm/label-rows.js';
import { defaultLabelBatch, journalFile, pseudoLabel } from '../algorithm/pseudo-label.js';
import { loadRun } from '../algorithm/run.js';
import { BEST_OPTION } from './options.js';
import { UsageError, asWriteError } from '../artifacts/files.js';
import { shardRange } from '../data/spec.js';
import { openItems } from '../data/stream.js';
import { DEVICES, Device } from '../runtime/session.js';
import { tenths } from './progress.js';
import { EXIT_STOPPED } from './errors.js';
import { GracefulStop } from './stop.js';

export function parseShard(s: string | undefined): { index: number; count: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard ${s} is not valid; use i/N with 0 ≤ i < N, e.g. --shard 0/4 (shard indices start at 0)`);
  }
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function pseudoLabelCommand(y: Argv) {
  return y.command('pseudo-label', 'Label a dump of images with a trained run, in constant memory and resumably; writes rows path,label,class_index,confidence,margin,accepted,error and OUT.meta.json',
    (a) => a
      .option('run', { type: 'string', demandOption: true, describe: 'run directory written by ssmae train' })
      .option('best', BEST_OPTION)
      .option('input', { type: 'string', demandOption: true, describe: 'images to label: any folder (recursive; every file becomes a row, unreadable ones with the reason), a CSV with a path column, or a built-in source' })
      .option('out', { type: 'string', demandOption: true, describe: 'file to write (CSV by default); beside it OUT.meta.json (model sha256, run, input, shard, counts, times) and, while it runs, OUT.partial and OUT.journal' })
      .option('format', { choices: LABEL_FORMATS, default: 'csv' as LabelFormat, describe: 'csv (cells starting with = + - @ tab CR or \' get a leading \', see README) or jsonl (one JSON object per line)' })
      .option('threshold', { type: 'number', default: 0, describe: 'τ: rows with confidence below this get accepted=0 (they are still written, so nothing is lost)' })
      .option('only-accepted', { type: 'boolean', default: false, describe: 'write only rows at or above --threshold (rejected and unreadable files are then only counted in the meta)' })
      .option('shard', { type: 'string', describe: 'i/N: process only the i-th of N contiguous slices of the listing (deterministic); merge the N outputs with ssmae merge-labels' })
      .option('batch', { type: 'number', describe: 'images decoded and classified together; memory grows with it (ONNX Runtime\'s activations: ~7 MB per 224×224 image), not with the dump. Default: 256 up to 64×64 pixels, then 2^20 / side² (20 at 224×224). A resumed job must use the same value' })
      .option('tta', { choices: TTAS, default: 'none' as Tta, describe: 'test-time augmentation: flip also classifies each image\'s mirror image and averages the two softmax outputs (twice the time; for photos, not digits or text). Recorded in OUT.meta.json; shards to be merged must agree' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores); 1 lets several jobs share a machine' })
      .example('$0 pseudo-label --run runs/pets --input dump/ --out labels.csv --threshold 0.95', 'label a folder')
      .example('$0 pseudo-label --run runs/pets --input dump/ --out labels-$I.csv --shard $I/8', 'one of 8 parallel jobs (a Kubernetes indexed Job, a Slurm array, GNU parallel); then ssmae merge-labels labels-*.csv --out labels.csv')
      .epilogue('Killed, preempted or stopped (SIGTERM/SIGINT finish the batch in flight and its journal, then exit with code 5)? Run the same command again: it resumes from OUT.journal, and the rows are those of an uninterrupted run.'),
    async (a) => {
      const shard = parseShard(a.shard);
      if (a.batch !== undefined) posInt(a.batch, '--batch');
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      if (!(a.threshold >= 0 && a.threshold <= 1)) throw new UsageError(`--threshold must be in [0, 1], got ${a.threshold}`);
      const run = loadRun(a.run, { best: a.best });
      const m = run.artifacts.manifest;
      checkOut(a.out, a.input);
      const batch = a.batch ?? defaultLabelBatch(m.imageSize);
      const items = await openItems(a.input, { size: m.imageSize, channels: m.channels as 1 | 3 });
      for (const w of items.warnings.slice(0, 20)) console.error(w);
      if (items.total === 0) throw new UsageError(`--input ${a.input} holds no files to label`);
      const [start, end] = shard ? shardRange(items.total, shard) : [0, items.total];
      const clf = await Classifier.create(run.artifacts, run.weights, { device: a.device, threads: a.threads, tta: a.tta });
      const stop = new GracefulStop('finishing the batch in flight and its journal line');
      stop.arm();
      const t0 = Date.now();
      try {
        const r = await pseudoLabel({
          out: a.out, format: a.format, threshold: a.threshold, onlyAccepted: a['only-accepted'], batch, items,
          shard: { index: shard?.index ?? null, count: shard?.count ?? null, start, end },
          classifier: clf, classes: run.classes, model: modelProvenance(run, a.tta), stop,
          onProgress: tenths(`pseudo-label ${a.out}`, 'images'), log: (s) => console.error(s),
        }).catch((e: unknown) => { throw asWriteError(a.out, e); });
        const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
        if (r.status === 'stopped') {
          console.error(`pseudo-label: stopped by ${stop.signal} after ${r.done} of ${end - start} images; ` +
            `${journalFile(a.out)} holds them: run the same command again to resume`);
          process.exitCode = EXIT_STOPPED;
          return;
        }
        const c = r.meta!.counts;
        const fresh = r.done - (r.resumedAt === null ? 0 : r.resumedAt - start);
        console.log(`${a.out}: ${c.rows} rows; ${c.accepted} accepted at confidence ≥ ${a.threshold}, ${c.rejected} below, ` +
          `${c.unreadable} unreadable` + (shard ? ` (shard ${shard.index}/${shard.count}: items ${start}..${end - 1} of ${items.total})` : '') +
          (r.resumedAt !== null ? `; resumed at item ${r.resumedAt}` : '') +
          `; ${(fresh / secs).toFixed(0)} images/s; provenance in ${a.out}.meta.json`);
      } finally {
        stop.dispose();
        await clf.release();
        await items.close();
      }
    });
}

/** --out must be writable and must not lie inside a folder --input (its partial file would join the listing). */
function checkOut(out: string, input: string): void {
  const dir = path.dirname(path.resolve(out));
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`cannot write --out ${out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} on ${dir}); choose a file in a folder you can write`);
  }
  const st = fs.statSync(input, { throwIfNoEntry: false });
  const inDir = path.resolve(input) + path.sep;
  if (st?.isDirectory() && path.resolve(out).startsWith(inDir)) {
    throw new UsageError(`--out ${out} is inside --input ${input}: the output would become part of the input it labels; write it outside that folder`);
  }
}
