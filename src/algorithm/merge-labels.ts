// Joining the files of a sharded pseudo-label job into one. Each shard's meta must name the same model, input,
// threshold, classes and output settings; each file must still be the one its meta describes (sha256); and the
// shards' item ranges must tile the input exactly once (no gap, no overlap). Rows are copied in item order, the CSV
// header once, so the result is byte for byte what one job over the whole input writes.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, writeFileAtomic } from '../artifacts/files.js';
import { writeFully } from './label-journal.js';
import { hashFile, LabelMeta, META_FORMAT, metaFile, toolInfo } from './label-meta.js';
import { fileHeader } from './label-rows.js';

interface Shard { file: string; meta: LabelMeta }

function readShard(file: string): Shard {
  const mf = metaFile(file);
  if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist; give the files pseudo-label --out wrote`);
  if (!fs.existsSync(mf)) {
    throw new UsageError(`${mf} not found: ${file} is not a finished pseudo-label output (an unfinished one has ${file}.journal; run its command again)`);
  }
  let meta: LabelMeta;
  try { meta = JSON.parse(fs.readFileSync(mf, 'utf8')) as LabelMeta; } catch (e) {
    throw new UsageError(`${mf} is not valid JSON (${(e as Error).message}); re-run the pseudo-label job that wrote ${file}`);
  }
  if (meta.format !== META_FORMAT) throw new UsageError(`${mf}: format ${String(meta.format)}, expected ${META_FORMAT}`);
  if (hashFile(file).sha256 !== meta.output.sha256) {
    throw new UsageError(`${file} does not match the sha256 in ${mf} (changed after it was written); re-run its pseudo-label job`);
  }
  return { file, meta };
}

/** The first field of `keys` on which two shards disagree, described for a message. */
function mismatch(a: Shard, b: Shard): string | undefined {
  const fields: [string, (m: LabelMeta) => unknown][] = [
    ['model', (m) => m.model.sha256], ['input', (m) => m.input.fingerprint], ['input size', (m) => m.input.items],
    ['threshold', (m) => m.threshold], ['classes', (m) => m.classes], ['format', (m) => m.output.format],
    ['--only-accepted', (m) => m.output.only_accepted],
  ];
  for (const [name, get] of fields) {
    const [x, y] = [JSON.stringify(get(a.meta)), JSON.stringify(get(b.meta))];
    if (x !== y) {
      const show = name === 'model' ? ` (model ${x.slice(1, 13)}… from ${a.meta.model.run} vs ${y.slice(1, 13)}… from ${b.meta.model.run})` :
        name === 'input' ? ` (${a.meta.input.spec} vs ${b.meta.input.spec})` : ` (${x} vs ${y})`;
      return `${a.file} and ${b.file} come from different ${name === 'model' ? 'models' : name === 'input' ? 'inputs' : `settings: ${name}`}${show}`;
    }
  }
  return undefined;
}

export function mergeLabels(files: string[], out: string): LabelMeta {
  if (files.length === 0) throw new UsageError('merge-labels needs at least one shard file');
  const resolvedOut = path.resolve(out);
  if (files.some((f) => path.resolve(f) === resolvedOut)) throw new UsageError(`--out ${out} is also one of the shards; write the merge to another file`);
  const shards = files.map(readShard);
  for (const s of shards.slice(1)) {
    const why = mismatch(shards[0], s);
    if (why) throw new UsageError(`${why}; merge only the shards of one job`);
  }
  shards.sort((a, b) => a.meta.shard.start - b.meta.shard.start || a.meta.shard.end - b.meta.shard.end);
  const items = shards[0].meta.input.items;
  let covered = 0;
  for (let i = 0; i < shards.length; i++) {
    const { start, end } = shards[i].meta.shard;
    if (start < covered) {
      throw new UsageError(`${shards[i - 1].file} (items ${shards[i - 1].meta.shard.start}..${shards[i - 1].meta.shard.end - 1}) and ` +
        `${shards[i].file} (items ${start}..${end - 1}) overlap; give each shard once`);
    }
    if (start > covered) {
      throw new UsageError(`items ${covered}..${start - 1} of ${items} are in none of the given files (a shard is missing); ` +
        `run its pseudo-label job and include its output`);
    }
    covered = end;
  }
  if (covered < items) {
    throw new UsageError(`items ${covered}..${items - 1} of ${items} are in none of the given files (a shard is missing); run its pseudo-label job and include its output`);
  }

  const first = shards[0].meta;
  const header = Buffer.from(fileHeader(first.output.format));
  const tmp = `${out}.partial`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeFully(fd, header);
    for (const s of shards) {
      const body = fs.readFileSync(s.file);
      if (!body.subarray(0, header.length).equals(header)) throw new UsageError(`${s.file} does not start with the expected header`);
      writeFully(fd, body.subarray(header.length));
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const sum = (k: 'rows' | 'accepted' | 'rejected' | 'unreadable' | 'items') => shards.reduce((t, s) => t + s.meta.counts[k], 0);
  const meta: LabelMeta = {
    format: META_FORMAT, tool: toolInfo(), model: first.model, threshold: first.threshold, classes: first.classes,
    input: first.input, shard: { index: null, count: null, start: 0, end: items },
    output: { file: path.basename(out), format: first.output.format, only_accepted: first.output.only_accepted, ...hashFile(tmp) },
    counts: { items: sum('items'), rows: sum('rows'), accepted: sum('accepted'), rejected: sum('rejected'), unreadable: sum('unreadable') },
    started_at: shards.map((s) => s.meta.started_at).sort()[0], finished_at: shards.map((s) => s.meta.finished_at).sort().at(-1)!,
    resumed: shards.some((s) => s.meta.resumed), resumes: [],
    merged_from: shards.map((s) => ({ file: s.file, shard: s.meta.shard, sha256: s.meta.output.sha256, resumed: s.meta.resumed })),
  };
  writeFileAtomic(metaFile(out), `${JSON.stringify(meta, null, 2)}\n`);
  fs.renameSync(tmp, out);
  return meta;
}

