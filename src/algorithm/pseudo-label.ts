// Pseudo-labeling a dump in bounded memory, resumably. Items are decoded a batch at a time (the next batch decodes
// while this one is classified), rows go to `<OUT>.partial` and each finished batch to the journal
// (label-journal.ts); at the end the meta is written and the partial file renamed to OUT. The same job started
// again after a crash, kill -9 or a stop signal continues from the journal. Batches are aligned to the shard's start,
// so a resumed job classifies exactly the batches an uninterrupted one would: the rows are identical.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, UsageError } from '../artifacts/files.js';
import { MemoryStore } from '../data/store.js';
import type { ItemSource } from '../data/stream.js';
import type { Classifier } from './classifier.js';
import { Counts, JournalWriter, readJournal, writeFully } from './label-journal.js';
import { hashFile, LabelMeta, META_FORMAT, metaFile, ModelProvenance, ShardRange, toolInfo } from './label-meta.js';
import { encodeRow, fileHeader, LabelFormat, LabelRow, topTwo } from './label-rows.js';

export interface LabelJob {
  out: string;
  format: LabelFormat;
  threshold: number;
  onlyAccepted: boolean;
  batch: number;
  items: ItemSource;
  shard: ShardRange;
  classifier: Classifier;
  classes: string[];
  model: ModelProvenance;
  /** Checked after each batch: once requested, the job stops at a batch boundary with its journal up to date. */
  stop?: { readonly requested: boolean };
  /** Items of the shard done so far (resumed ones included), after each batch. */
  onProgress?: (done: number, total: number) => void;
  log: (line: string) => void;
}

export interface LabelResult {
  /** done: OUT and its meta are written; stopped: the signal came first, the journal holds what is done. */
  status: 'done' | 'stopped';
  /** The item the job resumed at (null: started afresh). */
  resumedAt: number | null;
  done: number;
  meta?: LabelMeta;
}

/**
 * Images per batch when --batch is not given: 256 up to 64×64, then 2^20 / side² (20 at 224×224), because ONNX
 * Runtime's activations for a batch (float copies of the pixels, the patch embedding, attention) grow with the pixel
 * count: batches of 256 at 224×224 peaked at 2 GB whatever the dump's size (docs/BENCHMARKS.md).
 */
export function defaultLabelBatch(size: number): number {
  return Math.min(256, Math.max(8, Math.floor(2 ** 20 / (size * size))));
}

export function journalFile(out: string): string { return `${out}.journal`; }
export function partialFile(out: string): string { return `${out}.partial`; }

/** What must be equal for a journal to be continued: everything that changes a row. */
function identity(job: LabelJob): Record<string, unknown> {
  return {
    model: job.model.sha256, input: job.items.fingerprint, items: job.items.total,
    shard: [job.shard.start, job.shard.end], threshold: job.threshold, format: job.format,
    only_accepted: job.onlyAccepted, batch: job.batch, classes: job.classes,
  };
}

function differences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

export async function pseudoLabel(job: LabelJob): Promise<LabelResult> {
  const track = { fresh: false, commits: 0 };
  try {
    return await labelJob(job, track);
  } catch (e) {
    // A write that failed (a full disk) before anything was committed leaves no file behind; once batches are in
    // the journal, the partial file and the journal stay, so that after freeing space the same command resumes.
    if (track.fresh && track.commits === 0) {
      for (const f of [partialFile(job.out), journalFile(job.out)]) fs.rmSync(f, { force: true });
    }
    throw e;
  }
}

async function labelJob(job: LabelJob, track: { fresh: boolean; commits: number }): Promise<LabelResult> {
  const { out, shard } = job;
  const jfile = journalFile(out);
  const pfile = partialFile(out);
  const id = identity(job);
  let state = readJournal(jfile);
  if (state) {
    const diff = differences(id, state.head.job);
    if (diff.length > 0) {
      throw new UsageError(`${jfile} belongs to another pseudo-label job (${diff.join(', ')} differ${diff.length === 1 ? 's' : ''}); ` +
        `run the same command as before to resume it, or delete ${jfile} to start afresh`);
    }
    if (!fs.existsSync(pfile)) {
      // Killed after the rename that finishes a job: OUT is complete if its meta matches the journal's job.
      if (finishedBefore(out, job)) {
        fs.rmSync(jfile);
        job.log(`${out} was already complete (its journal is removed)`);
        const meta = JSON.parse(fs.readFileSync(metaFile(out), 'utf8')) as LabelMeta;
        return { status: 'done', resumedAt: shard.end, done: shard.end - shard.start, meta };
      }
      state = undefined; // the rows are gone: start again
    }
  }

  let fd: number;
  let journal: JournalWriter;
  let pos = shard.start;
  let counts: Counts = { rows: 0, accepted: 0, rejected: 0, unreadable: 0 };
  let resumedAt: number | null = null;
  let startedAt: string;
  if (state) {
    const bytes = state.last?.bytes ?? Buffer.byteLength(fileHeader(job.format));
    fs.truncateSync(pfile, bytes);
    fd = fs.openSync(pfile, 'a');
    pos = state.last?.end ?? shard.start;
    counts = state.last?.counts ?? counts;
    resumedAt = pos;
    startedAt = state.head.started_at;
    journal = JournalWriter.reopen(jfile);
    const resume = { resumed_at: pos, time: new Date().toISOString() };
    journal.append(resume);
    state.resumes.push(resume);
    job.log(`resuming ${out}: ${pos - shard.start} of ${shard.end - shard.start} images already labeled (journal ${jfile})`);
  } else {
    track.fresh = true;
    fd = fs.openSync(pfile, 'w');
    writeFully(fd, Buffer.from(fileHeader(job.format)));
    fs.fsyncSync(fd);
    startedAt = new Date().toISOString();
    journal = JournalWriter.create(jfile, { journal: 1, job: id, started_at: startedAt });
    state = { head: { journal: 1, job: id, started_at: startedAt }, resumes: [] };
  }

  const total = shard.end - shard.start;
  job.onProgress?.(pos - shard.start, total);
  let committed = Promise.resolve();
  try {
    const next = (from: number) => (from < shard.end ? job.items.read(from, Math.min(from + job.batch, shard.end)) : null);
    let pending = next(pos);
    while (pending) {
      const batch = await pending;
      pending = next(batch.end); // decodes while this batch is classified
      const rows = await classify(job, batch);
      let text = '';
      for (const r of rows) {
        if (r.error !== null) counts.unreadable++;
        else if (r.accepted) counts.accepted++;
        else counts.rejected++;
        if (job.onlyAccepted && !r.accepted) continue;
        text += encodeRow(r, job.format);
        counts.rows++;
      }
      writeFully(fd, Buffer.from(text));
      pos = batch.end;
      // The sync runs on libuv's pool while the next batch is classified; the journal line follows it.
      const entry = { end: pos, bytes: fs.fstatSync(fd).size, counts: { ...counts } };
      committed = committed.then(() => fsyncAsync(fd)).then(() => { journal.append(entry); track.commits++; });
      job.onProgress?.(pos - shard.start, total);
      if (job.stop?.requested && pos < shard.end) {
        pending?.catch(() => {}); // the decode in flight is not needed
        await committed;
        return { status: 'stopped', resumedAt, done: pos - shard.start };
      }
    }
    await committed;
  } finally {
    await committed.catch(() => {});
    fs.closeSync(fd);
    journal.close();
  }

  const meta: LabelMeta = {
    format: META_FORMAT, tool: toolInfo(), model: job.model, threshold: job.threshold, classes: job.classes,
    input: { spec: job.items.spec, resolved: job.items.resolved, items: job.items.total, fingerprint: job.items.fingerprint },
    shard, output: { file: path.basename(out), format: job.format, only_accepted: job.onlyAccepted, ...hashFile(pfile) },
    counts: { items: total, ...counts }, started_at: startedAt, finished_at: new Date().toISOString(),
    resumed: state.resumes.length > 0, resumes: state.resumes,
  };
  writeFileAtomic(metaFile(out), `${JSON.stringify(meta, null, 2)}\n`);
  fs.renameSync(pfile, out);
  fs.rmSync(jfile);
  return { status: 'done', resumedAt, done: total, meta };
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((done, fail) => fs.fsync(fd, (e) => (e ? fail(e) : done())));
}

function finishedBefore(out: string, job: LabelJob): boolean {
  if (!fs.existsSync(out) || !fs.existsSync(metaFile(out))) return false;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile(out), 'utf8')) as LabelMeta;
    return meta.model.sha256 === job.model.sha256 && meta.input.fingerprint === job.items.fingerprint &&
      meta.shard.start === job.shard.start && meta.shard.end === job.shard.end && hashFile(out).sha256 === meta.output.sha256;
  } catch {
    return false;
  }
}

async function classify(job: LabelJob, batch: Awaited<ReturnType<ItemSource['read']>>): Promise<LabelRow[]> {
  const decoded = batch.failures.filter((f) => f === null).length;
  const k = job.classes.length;
  const logits = decoded > 0 ? await job.classifier.logits(new MemoryStore(batch.images, job.classifier.channels, job.classifier.size), decoded, job.batch) : new Float32Array(0);
  const { label, conf, margin } = topTwo(logits, k);
  const rows: LabelRow[] = [];
  let j = 0;
  for (let i = batch.start; i < batch.end; i++) {
    const failure = batch.failures[i - batch.start];
    const p = job.items.id(i);
    if (failure !== null) {
      rows.push({ path: p, label: null, classIndex: null, confidence: null, margin: null, accepted: false, error: failure });
      continue;
    }
    rows.push({ path: p, label: job.classes[label[j]], classIndex: label[j], confidence: conf[j], margin: margin[j],
      accepted: conf[j] >= job.threshold, error: null });
    j++;
  }
  return rows;
}

