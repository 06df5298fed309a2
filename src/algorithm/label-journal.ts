// The journal of a pseudo-label job: `<OUT>.journal`, JSON lines. The first line names the job (model, input, shard,
// settings); then one line per finished batch with the items done, the byte length of `<OUT>.partial` holding
// exactly those rows, and the running counts. A batch's line is appended only after its rows are synced to disk, so
// a line never promises rows that a crash could lose; the line itself needs no sync (lost, it only means that batch
// is done again). After a crash or kill -9 the partial file is cut back to the last line's length and the job
// continues at its item: no row is lost or written twice. A torn last line (killed mid-write) is ignored.
import fs from 'node:fs';

export interface Counts { rows: number; accepted: number; rejected: number; unreadable: number }

export interface JournalHead { journal: 1; job: Record<string, unknown>; started_at: string }
export interface JournalBatch { end: number; bytes: number; counts: Counts }
export interface JournalResume { resumed_at: number; time: string }

export interface JournalState {
  head: JournalHead;
  /** The last finished batch (none yet: undefined). */
  last?: JournalBatch;
  resumes: JournalResume[];
}

export function readJournal(file: string): JournalState | undefined {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  let state: JournalState | undefined;
  for (const line of complete.split('\n')) {
    if (!line) continue;
    let v: Record<string, unknown>;
    try { v = JSON.parse(line) as Record<string, unknown>; } catch { break; }
    if (!state) {
      if (v.journal !== 1) return undefined;
      state = { head: v as unknown as JournalHead, resumes: [] };
    } else if ('resumed_at' in v) state.resumes.push(v as unknown as JournalResume);
    else state.last = v as unknown as JournalBatch;
  }
  return state;
}

/** Appends journal lines (the head line synced). */
export class JournalWriter {
  private constructor(private readonly fd: number) {}

  static create(file: string, head: JournalHead): JournalWriter {
    const w = new JournalWriter(fs.openSync(file, 'w'));
    w.append(head);
    fs.fsyncSync(w.fd);
    return w;
  }

  /** Continues a journal; a torn last line is cut off first. */
  static reopen(file: string): JournalWriter {
    const text = fs.readFileSync(file);
    fs.truncateSync(file, text.lastIndexOf(0x0a) + 1);
    return new JournalWriter(fs.openSync(file, 'a'));
  }

  append(entry: JournalHead | JournalBatch | JournalResume): void {
    writeFully(this.fd, Buffer.from(`${JSON.stringify(entry)}\n`));
  }

  close(): void { fs.closeSync(this.fd); }
}

export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
