// Exit codes: 0 success, 1 an unexpected failure (a bug: the stack is printed), 2 a problem with the user's input
// (bad flag, missing file, bad data: one line that says what to do), 3 training diverged (NaN/inf loss).
import { UsageError } from '../artifacts/files.js';
import { ConfigError } from '../models/presets.js';
import { DivergedError } from '../algorithm/trainer.js';
import { DataError } from '../data/types.js';
import { ShapeError } from '../graph/shapes.js';

export function exitCodeFor(e: unknown): number {
  if (e instanceof DivergedError) return 3;
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof DataError || e instanceof ShapeError) return 2;
  return 1;
}

export function reportError(e: unknown): never {
  const code = exitCodeFor(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 1) console.error(e instanceof Error ? e.stack : e);
  else console.error(`ssmae: error: ${msg}`);
  process.exit(code);
}
