// Run logs: one JSON line per interval in metrics.jsonl (namespaced keys), the same rows in metrics.csv with a
// fixed header, and gate decisions in gate.jsonl. On resume, rows past the checkpoint's step are dropped so the
// files read as if the run had never stopped.
import fs from 'node:fs';
import path from 'node:path';

export const CSV_COLUMNS = [
  'step', 'train/loss', 'train/rec_loss', 'train/ce_labeled', 'train/ce_pseudo', 'train/pseudo_mask_rate',
  'train/pseudo_precision', 'train/acc_labeled', 'train/grad_norm', 'train/lr', 'val/acc', 'gate/open',
  'time/step_ms', 'time/images_per_s',
] as const;

export type Row = Partial<Record<(typeof CSV_COLUMNS)[number], number | null>> & { step: number };

export class MetricsLog {
  readonly jsonl: string;
  readonly csv: string;

  constructor(runDir: string, resumeStep: number | null) {
    this.jsonl = path.join(runDir, 'metrics.jsonl');
    this.csv = path.join(runDir, 'metrics.csv');
    if (resumeStep === null) {
      fs.writeFileSync(this.jsonl, '');
      fs.writeFileSync(this.csv, CSV_COLUMNS.join(',') + '\n');
    } else {
      truncateAfter(this.jsonl, resumeStep, (line) => (JSON.parse(line) as Row).step, 0);
      truncateAfter(this.csv, resumeStep, (line) => Number(line.split(',')[0]), 1);
    }
  }

  write(row: Row): void {
    fs.appendFileSync(this.jsonl, JSON.stringify(row) + '\n');
    const cells = CSV_COLUMNS.map((c) => {
      const v = row[c];
      return v === undefined || v === null || Number.isNaN(v) ? '' : String(v);
    });
    fs.appendFileSync(this.csv, cells.join(',') + '\n');
  }
}

function truncateAfter(file: string, step: number, stepOf: (line: string) => number, header: number): void {
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const kept = lines.filter((l, i) => i < header || stepOf(l) <= step);
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
}

export function readMetrics(runDir: string): Row[] {
  const f = path.join(runDir, 'metrics.jsonl');
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
}
