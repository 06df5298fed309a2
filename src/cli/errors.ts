// Exit codes: 0 success, 1 `check` found a regression (the one failure that is an answer, not an error), 70 an
// unexpected failure (a bug: the stack is printed; sysexits.h's EX_SOFTWARE), 2 a problem with the user's input
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

export const EXIT_REGRESSED = 1;
export const EXIT_WRITE = 4;
/** An internal error (sysexits.h's EX_SOFTWARE), apart from 1 so that a CI job can tell a regression from a crash. */
export const EXIT_INTERNAL = 70;
export const EXIT_STOPPED = 5;

export function exitCodeFor(e: unknown): number {
  if (e instanceof DivergedError) return 3;
  if (e instanceof WriteError) return EXIT_WRITE;
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof DataError || e instanceof ShapeError || e instanceof DeviceError) return 2;
  return EXIT_INTERNAL;
}

export function reportError(e: unknown): never {
  const code = exitCodeFor(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === EXIT_INTERNAL) console.error(`ssmae: internal error (exit ${EXIT_INTERNAL}), please report it with this trace:\n${e instanceof Error ? e.stack : String(e)}`);
  else console.error(`ssmae: error: ${msg}`);
  process.exit(code);
}
