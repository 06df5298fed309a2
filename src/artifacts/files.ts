// File helpers shared by artifacts, runs and checkpoints: writes that cannot lie (every byte written or an error),
// atomic replacement (temporary file, fsync, rename, so a crash never leaves a torn file), appends that leave the
// file as it was when they fail, and sha256.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** writeSync moves at most 2 GiB per call; larger buffers go in pieces. */
const CHUNK = 1 << 28;

/** What an errno means to a user who has to fix it. */
const CAUSES: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only filesystem',
  EIO: 'input/output error (a failing disk or a lost network mount)',
  ENOENT: 'the folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EMFILE: 'too many open files',
  SHORT: 'the disk accepted no more bytes',
};

/**
 * A file could not be written. The CLI prints the message alone and exits with code 4. `file` and `code` (an errno
 * name such as ENOSPC) say what failed; `reason` is the cause in words. The writer that throws it has already removed
 * its temporary file and left the previous file as it was.
 */
export class WriteError extends Error {
  readonly reason: string;
  constructor(readonly file: string, readonly code: string, readonly notes: string[] = []) {
    const cause = CAUSES[code] ?? code;
    super([`cannot write ${file}: ${cause}${CAUSES[code] && code !== 'SHORT' ? ` (${code})` : ''}`, ...notes].join('; '));
    this.reason = cause;
  }

  /** The same error with one more sentence (e.g. the last good checkpoint and how to continue). */
  withNote(note: string): WriteError {
    return new WriteError(this.file, this.code, [...this.notes, note]);
  }
}

/** Turns an fs error into a WriteError for `file` (a WriteError passes through). */
export function asWriteError(file: string, e: unknown): WriteError {
  if (e instanceof WriteError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string') return new WriteError(file, code);
  throw e;
}

/** Writes every byte of `data` at the file's position, or throws (a write that takes no bytes is an error too). */
function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length;) {
    const n = fs.writeSync(fd, data, off, Math.min(CHUNK, data.length - off));
    if (n <= 0) throw Object.assign(new Error('short write'), { code: 'SHORT' });
    off += n;
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse to fsync a folder; the file itself is already durable.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** `.NAME.PID.tmp` beside the file: hidden, and removable once PID is gone (removeStaleTempFiles). */
function tempFileFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/**
 * Removes the temporary files that writers killed outright (SIGKILL, power loss) left in `dir`: those whose process
 * is gone. Returns their names.
 */
export function removeStaleTempFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const stale = fs.readdirSync(dir).filter((f) => {
    const m = /^\..+\.(\d+)\.tmp$/.exec(f);
    return m !== null && !processAlive(Number(m[1]));
  });
  for (const f of stale) fs.rmSync(path.join(dir, f), { force: true });
  return stale;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AtomicOptions {
  /** Keep the file being replaced under this name (a hard link, so no extra bytes are written). */
  keepPrevious?: string;
}

/**
 * Replaces `file` with `data` (one buffer, a string, or parts written one after another) so that the file is
 * always either the old one or the whole new one. On any error the temporary file is removed, the old file is
 * untouched and a WriteError naming `file` is thrown.
 */
export function writeFileAtomic(file: string, data: Uint8Array | string | readonly Uint8Array[], opts: AtomicOptions = {}): void {
  const tmp = writeTemp(file, data);
  try {
    if (opts.keepPrevious) keepPrevious(file, opts.keepPrevious);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asWriteError(file, e);
  }
  // Make the rename itself durable.
  syncDir(path.dirname(file));
}

/** Writes `data` whole to `file`'s temporary file and syncs it; on any error removes it and throws a WriteError. */
function writeTemp(file: string, data: Uint8Array | string | readonly Uint8Array[]): string {
  const tmp = tempFileFor(file);
  const parts = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    for (const p of parts) writeAll(fd, p);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (e) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing; the write error is the one to report */ }
    }
    fs.rmSync(tmp, { force: true });
    throw asWriteError(file, e);
  }
}

/**
 * Several files replaced together (an artifact directory): each is written whole to a temporary file first, and
 * only when all are written are they renamed into place, so a failure part way leaves every old file as it was.
 */
export class StagedFiles {
  private readonly staged: { tmp: string; file: string }[] = [];

  write(file: string, data: Uint8Array | string): void {
    try {
      this.staged.push({ tmp: writeTemp(file, data), file });
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Renames every staged file into place, in the order written (write the file that vouches for the others last). */
  commit(): void {
    for (const { tmp, file } of this.staged) {
      try {
        fs.renameSync(tmp, file);
      } catch (e) {
        this.abort();
        throw asWriteError(file, e);
      }
    }
    for (const dir of new Set(this.staged.map((s) => path.dirname(s.file)))) syncDir(dir);
    this.staged.length = 0;
  }

  /** Removes the temporary files not yet renamed. */
  abort(): void {
    for (const { tmp } of this.staged) fs.rmSync(tmp, { force: true });
    this.staged.length = 0;
  }
}

/** `prev` becomes a second name of `file`'s current content (nothing when there is none yet). */
function keepPrevious(file: string, prev: string): void {
  if (!fs.existsSync(file)) return;
  fs.rmSync(prev, { force: true });
  try {
    fs.linkSync(file, prev);
  } catch {
    // A filesystem without hard links: a copy (costs the bytes of one more file).
    fs.copyFileSync(file, prev);
  }
}

/**
 * Appends `text` to `file` (created if missing). When the append fails part way (a full disk), the file is cut
 * back to its length before, so no torn line is left, and a WriteError naming `file` is thrown.
 */
export function appendFileDurable(file: string, text: string): void {
  const before = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a');
    writeAll(fd, Buffer.from(text));
  } catch (e) {
    if (fd !== undefined) {
      try { fs.ftruncateSync(fd, before); } catch { /* the append error is the one to report */ }
    }
    throw asWriteError(file, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsync of a file that exists (a log, before a checkpoint that counts on it). */
export function syncFile(file: string): void {
  if (!fs.existsSync(file)) return;
  const fd = fs.openSync(file, 'r+');
  try { fs.fsyncSync(fd); } catch (e) { throw asWriteError(file, e); } finally { fs.closeSync(fd); }
}

export function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}

/** Creates `dir` (and parents) and checks that it can be written, with an error that says what to do. */
export function ensureWritableDir(dir: string, flag = '--out'): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code && CAUSES[code] ? `${CAUSES[code]} (${code})` : code ?? (e as Error).message;
    throw new UsageError(`cannot write to ${flag} ${dir}: ${why}; ` +
      `choose a directory you can write, e.g. ${flag} ./artifacts/my-model`);
  }
}

/** A mistake in what the user asked for: the CLI prints the message alone and exits with code 2. */
export class UsageError extends Error {}
