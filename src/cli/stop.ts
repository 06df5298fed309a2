// Graceful stop on SIGTERM and SIGINT, for commands whose work can be saved at safe points (train: between runs of
// the step graph; pseudo-label: between batches). Batch schedulers stop a job this way: Kubernetes sends SIGTERM and
// waits terminationGracePeriodSeconds (30 s by default) before SIGKILL; Slurm sends SIGTERM at the time limit, or a
// chosen signal earlier with --signal. The first signal asks the work to stop at its next safe point; a second one
// stops the process at once. Before the work has anything to save (while data are loaded), the first stops at once.
import os from 'node:os';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type StopSignalName = (typeof SIGNALS)[number];

export class GracefulStop {
  /** The signal that asked for the stop, or null. */
  signal: StopSignalName | null = null;
  private armed = false;
  private readonly handler = (s: NodeJS.Signals) => this.onSignal(s as StopSignalName);

  /** `what` ends the first notice: "finishing the step in flight, then saving a checkpoint". */
  constructor(private readonly what: string, private readonly log: (line: string) => void = (l) => console.error(l)) {
    for (const s of SIGNALS) process.on(s, this.handler);
  }

  /** From now on a first signal waits for the next safe point instead of stopping at once. */
  arm(): void { this.armed = true; }

  get requested(): boolean { return this.signal !== null; }

  dispose(): void {
    for (const s of SIGNALS) process.off(s, this.handler);
  }

  private onSignal(s: StopSignalName): void {
    const code = 128 + os.constants.signals[s];
    if (!this.armed) {
      this.log(`ssmae: ${s}: stopped before there was anything to save`);
      process.exit(code);
    }
    if (this.signal !== null) {
      this.log(`ssmae: second signal (${s}): stopped at once; the files on disk are as the last completed write left them`);
      process.exit(code);
    }
    this.signal = s;
    this.log(`ssmae: ${s}: ${this.what} (send it again to stop at once)`);
  }
}

/** A command line as a shell reads it back: words quoted only where they need it. */
export function shellCommand(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
