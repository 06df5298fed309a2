import type { Argv } from 'yargs';
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'fast-csv';
import { posInt } from '../algorithm/config.js';
import { Embedder } from '../algorithm/embedder.js';
import { loadModelWeights } from '../algorithm/run.js';
import { BEST_OPTION } from './options.js';
import { UsageError } from '../artifacts/files.js';
import { writeNpy } from '../artifacts/npy.js';
import { arch } from '../models/presets.js';
import { loadSource } from '../data/source.js';
import { DEVICES, Device } from '../runtime/session.js';
import { decodeProgress } from './progress.js';

export function embedCommand(y: Argv) {
  return y.command('embed', 'Write one embedding per image (the encoder\'s output on the whole image) as float32 .npy [N, D], with a CSV of the paths in row order beside it',
    (a) => a
      .option('run', { type: 'string', describe: 'run directory written by ssmae train (its teacher\'s weights)' })
      .option('best', BEST_OPTION)
      .option('artifacts', { type: 'string', describe: 'or an artifact directory: its initial weights (e.g. straight after export --from-pretrained)' })
      .option('data', { type: 'string', demandOption: true, describe: 'images: any folder (recursive), a CSV with a path column, or a built-in source such as fashion-mnist:test' })
      .option('out', { type: 'string', demandOption: true, describe: 'FILE.npy to write; FILE.csv (row,path) is written beside it' })
      .option('pool', { choices: ['cls', 'mean'] as const, describe: 'the CLS token, or the mean of the patch tokens, of the last hidden state after the final norm (default: what the model\'s classifier reads)' })
      .option('batch', { type: 'number', default: 256, describe: 'images per inference run' })
      .option('cache-dir', { type: 'string', describe: 'decode --data into this folder and read the images from there by offset (memory then holds a batch, not the set; a second command on the same data decodes nothing). Default: decoded into memory' })
      .option('device', { choices: DEVICES, default: 'cpu' as Device, describe: 'execution provider' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .example('$0 embed --run runs/pets --data dump/ --out dump.npy', 'embeddings for near-duplicate search or clustering (numpy.load("dump.npy"))')
      .example('$0 embed --artifacts artifacts/mae-base --data photos/ --out photos.npy --pool mean', 'a pretrained checkpoint as it is, before any training'),
    async (a) => {
      if (a.threads !== undefined) posInt(a.threads, '--threads');
      posInt(a.batch, '--batch');
      if (!a.out.endsWith('.npy')) throw new UsageError(`--out ${a.out} must end in .npy (the CSV of paths goes beside it as .csv)`);
      const model = loadModelWeights(a.run, a.artifacts, a.best);
      const m = model.artifacts.manifest;
      const pool = a.pool ?? arch(m.preset).pool;
      if (pool === 'cls' && !arch(m.preset).cls) {
        throw new UsageError(`--pool cls: this model (${m.preset.name}) has no CLS token; use --pool mean`);
      }
      const set = await loadSource(a.data, { size: m.imageSize, channels: m.channels as 1 | 3, labeled: false, classes: model.classes ?? [],
        cacheDir: a['cache-dir'], onProgress: decodeProgress(a.data) });
      const emb = await Embedder.create(model.artifacts, model.weights, { device: a.device, threads: a.threads });
      const t0 = Date.now();
      let lastTenth = 0;
      const data = await emb.embed(set.images, set.n, pool, a.batch, (done) => {
        const tenth = Math.floor((10 * done) / set.n);
        if (tenth > lastTenth) { lastTenth = tenth; process.stderr.write(`embedded ${done}/${set.n}\n`); }
      });
      await emb.release();
      fs.mkdirSync(path.dirname(path.resolve(a.out)), { recursive: true });
      writeNpy(a.out, data, set.n, emb.dim);
      const csvFile = a.out.replace(/\.npy$/, '.csv');
      const tmp = `${csvFile}.${process.pid}.tmp`;
      const file = fs.createWriteStream(tmp);
      const csv = format({ headers: ['row', 'path'] });
      csv.pipe(file);
      set.paths.forEach((p, i) => csv.write([i, p]));
      await new Promise<void>((resolve, reject) => { file.on('finish', resolve); file.on('error', reject); csv.end(); });
      fs.renameSync(tmp, csvFile);
      const secs = (Date.now() - t0) / 1000;
      console.log(`${a.out}: float32 [${set.n}, ${emb.dim}] (${pool} pooling, ${model.what}); paths in row order: ${csvFile}` +
        (set.skipped.length ? `; ${set.skipped.length} files skipped` : '') + `; ${(set.n / Math.max(secs, 1e-3)).toFixed(0)} images/s`);
    });
}
