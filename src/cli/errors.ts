// Exit codes: 0 success, 1 an unexpected failure (a bug: the stack is printed), 2 a problem with the user's input
// (bad flag, missing file, bad data, a damaged checkpoint, a device that is not there: one line that says what to
// do), 3 training diverged (NaN/inf loss), 4 a file could not be written (disk full, permission, read-only: one line
// naming the file, the cause and the last good checkpoint), 5 stopped by SIGTERM/SIGINT after saving a checkpoint;
// 128 + the signal's number (130, 143) when a second signal stopped it at once.
import { UsageError, WriteError } from '../artifacts/files.js';
import { DeviceError } from '../runtime/session.js';
import { ConfigError } from '../models/presets.js';
import { DivergedError } from '../algorithm/trainer.js';
import { DataError } from '../data/types.js';
import { ShapeError } from '../graph/shapes.js';

export const EXIT_WRITE = 4;
export const EXIT_STOPPED = 5;

export function exitCodeFor(e: unknown): number {
  if (e instanceof DivergedError) return 3;
  if (e instanceof WriteError) return EXIT_WRITE;
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof DataError || e instanceof ShapeError || e instanceof DeviceError) return 2;
  return 1;
}

export function reportError(e: unknown): never {
  const code = exitCodeFor(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 1) console.error(e instanceof Error ? e.stack : e);
  else console.error(`ssmae: error: ${msg}`);
  process.exit(code);
}
