// Graceful stops for long commands. The first SIGTERM or SIGINT (Kubernetes and Slurm send SIGTERM, then wait before
// SIGKILL; Ctrl-C sends SIGINT) aborts the returned signal: the command finishes the unit of work in flight (a batch,
// a training step), saves what lets it resume, prints one line and exits with 128 + the signal's number, as a shell
// does for a process killed by it. A second signal exits at once.
import os from 'node:os';

export interface StopSignals {
  /** Aborted on the first SIGTERM/SIGINT; its `reason` is the signal's name. */
  signal: AbortSignal;
  /** The exit code for the signal received (128 + its number), or 0 when none came. */
  exitCode(): number;
  /** Removes the handlers (default behaviour again). */
  dispose(): void;
}

export function stopOnSignals(what: string): StopSignals {
  const ctl = new AbortController();
  const names = ['SIGTERM', 'SIGINT'] as const;
  let received: (typeof names)[number] | undefined;
  const handler = (name: (typeof names)[number]) => {
    if (received) {
      console.error(`${what}: second ${name}, stopping now`);
      process.exit(128 + os.constants.signals[name]);
    }
    received = name;
    console.error(`${what}: ${name} received; finishing the work in flight (send it again to stop at once)`);
    ctl.abort(name);
  };
  const handlers = names.map((n) => [n, () => handler(n)] as const);
  for (const [n, h] of handlers) process.on(n, h);
  return {
    signal: ctl.signal,
    exitCode: () => (received ? 128 + os.constants.signals[received] : 0),
    dispose: () => { for (const [n, h] of handlers) process.off(n, h); },
  };
}
