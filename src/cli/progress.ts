// Progress lines for long commands. On a terminal: one live counter rewritten in place. Otherwise (CI logs, batch
// jobs, files): one line per 10% reached, each ending with a newline, so logs stay readable and grep-able.

export type ProgressFn = (done: number, total: number) => void;

/**
 * A reporter for `what` ("pseudo-label labels.csv", "train"), counting `unit`s. `quietFor` ms: a job that finishes
 * sooner prints nothing (cache hits). Each decile is printed once, the first time it is reached.
 */
export function tenths(what: string, unit: string, opts: { quietFor?: number; tty?: boolean; write?: (s: string) => void } = {}): ProgressFn {
  const tty = opts.tty ?? process.stderr.isTTY;
  const write = opts.write ?? ((s: string) => { process.stderr.write(s); });
  const quietFor = opts.quietFor ?? 0;
  const start = Date.now();
  let printed = -1; // the last decile printed
  let first: number | undefined;
  let shown = false;
  return (done, total) => {
    const elapsed = Date.now() - start;
    first ??= done;
    if (elapsed < quietFor && !shown) return;
    shown = true;
    const perSec = (1000 * (done - first)) / Math.max(elapsed, 1);
    const rate = done > first ? `, ${perSec.toFixed(perSec < 10 ? 1 : 0)} ${unit}/s` : '';
    if (tty) {
      write(`\r${what}: ${done}/${total} ${unit}${rate}${done >= total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor((10 * done) / Math.max(total, 1));
    if (decile <= printed) return;
    printed = decile;
    write(`${what}: ${decile * 10}% (${done}/${total} ${unit}${rate})\n`);
  };
}

/** Decoding progress of a source being loaded: quiet for loads under 2 s. */
export function decodeProgress(what: string): ProgressFn {
  return tenths(`decoding ${what}`, 'images', { quietFor: 2000 });
}
