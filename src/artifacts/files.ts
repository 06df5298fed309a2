// File helpers shared by artifacts, runs and checkpoints: atomic writes (temporary file, fsync, rename, so a crash
// never leaves a torn file) and sha256.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  // Make the rename itself durable.
  const dfd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
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
    throw new UsageError(`cannot write to ${flag} ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
      `choose a directory you can write, e.g. ${flag} ./artifacts/my-model`);
  }
}

/** A mistake in what the user asked for: the CLI prints the message alone and exits with code 2. */
export class UsageError extends Error {}
