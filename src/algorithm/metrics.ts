// Run logs: one JSON line per interval in metrics.jsonl (namespaced keys), the same rows in metrics.csv with a
// fixed header, and gate decisions in gate.jsonl. On resume, rows past the checkpoint's step are dropped so the
// files read as if the run had never stopped. A row that cannot be written (a full disk) leaves both files as they
// were and throws a WriteError naming the file.
import fs from 'node:fs';
import path from 'node:path';
import { appendFileDurable, syncFile, writeFileAtomic } from '../artifacts/files.js';
import type { GateDecision, ValidationFigures } from './gate.js';

export const CSV_COLUMNS = [
  'step', 'train/loss', 'train/rec_loss', 'train/ce_labeled', 'train/ce_pseudo', 'train/pseudo_mask_rate',
  'train/pseudo_precision', 'train/acc_labeled', 'train/grad_norm', 'train/lr', 'val/acc', 'gate/open',
  'time/step_ms', 'time/images_per_s', 'val/confident_acc', 'val/confident_rate', 'train/tau_mean',
] as const;

// Figures of optional features go to metrics.jsonl only: a new CSV column would make resume drop every row of a
// run that began with the earlier header.
export const JSONL_ONLY = ['train/replay_pool', 'train/replay_precision'] as const;

export type Row = Partial<Record<(typeof CSV_COLUMNS)[number] | (typeof JSONL_ONLY)[number], number | null>> & { step: number };

export class MetricsLog {
  readonly jsonl: string;
  readonly csv: string;

  constructor(runDir: string, resumeStep: number | null) {
    this.jsonl = path.join(runDir, 'metrics.jsonl');
    this.csv = path.join(runDir, 'metrics.csv');
    if (resumeStep === null) {
      writeFileAtomic(this.jsonl, '');
      writeFileAtomic(this.csv, CSV_COLUMNS.join(',') + '\n');
    } else {
      truncateAfter(this.jsonl, resumeStep, (line) => (JSON.parse(line) as Row).step, 0);
      truncateAfter(this.csv, resumeStep, (line) => (line.split(',').length === CSV_COLUMNS.length ? Number(line.split(',')[0]) : NaN), 1);
    }
  }

  write(row: Row): void {
    const jsonlBefore = fs.statSync(this.jsonl).size;
    appendFileDurable(this.jsonl, JSON.stringify(row) + '\n');
    const cells = CSV_COLUMNS.map((c) => {
      const v = row[c];
      return v === undefined || v === null || Number.isNaN(v) ? '' : String(v);
    });
    try {
      appendFileDurable(this.csv, cells.join(',') + '\n');
    } catch (e) {
      fs.truncateSync(this.jsonl, jsonlBefore); // the row goes in both files or in neither
      throw e;
    }
  }

  /** Makes the rows written so far durable (before a checkpoint that counts on them, and on a stop). */
  sync(): void {
    syncFile(this.jsonl);
    syncFile(this.csv);
  }
}

/**
 * Keeps the first `header` lines and the rows whose step is ≤ `step`. A row that does not parse (a line torn by a
 * crash during its append) or has no step is dropped.
 */
export function truncateAfter(file: string, step: number, stepOf: (line: string) => number, header = 0): void {
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const rowStep = (l: string) => {
    try { return stepOf(l); } catch { return NaN; }
  };
  const kept = lines.filter((l, i) => i < header || rowStep(l) <= step);
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

export function readMetrics(runDir: string): Row[] {
  const f = path.join(runDir, 'metrics.jsonl');
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
}

/** A run's gate decisions (gate.jsonl), in order; the first with `changed && open` is where the gate opened. */
export function readGateLog(runDir: string): GateDecision[] {
  const f = path.join(runDir, 'gate.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as GateDecision);
}

/**
 * Running means of the step statistics over one log interval, pseudo-label precision and throughput. Each figure is
 * the mean over the steps that reported it (a supervised step between joint steps reports no reconstruction or
 * pseudo-label figures); a figure no step of the interval reported is null.
 */
export class IntervalStats {
  private sums: Record<string, number> = {};
  private counts: Record<string, number> = {};
  private steps = 0;
  private precHit = 0;
  private precN = 0;
  private images = 0;
  private start = performance.now();

  /** `images`: how many images the step trained on (a supervised step: its labeled batch only). */
  add(stats: Record<string, number>, pseudoLabel: BigInt64Array, pseudoWeight: ArrayLike<number>, hiddenLabels: Int32Array,
    images: number): void {
    for (const [k, v] of Object.entries(stats)) {
      this.sums[k] = (this.sums[k] ?? 0) + v;
      this.counts[k] = (this.counts[k] ?? 0) + 1;
    }
    this.steps++;
    this.images += images;
    for (let i = 0; i < pseudoWeight.length; i++) {
      if (pseudoWeight[i] > 0 && hiddenLabels[i] >= 0) {
        this.precN++;
        if (Number(pseudoLabel[i]) === hiddenLabels[i]) this.precHit++;
      }
    }
  }

  /** What a checkpoint written inside the interval keeps of it, so a resumed run continues the same row. */
  state(): unknown {
    return { sums: this.sums, counts: this.counts, steps: this.steps, precHit: this.precHit, precN: this.precN, images: this.images };
  }

  /** Continues an interval saved by state() (its clock restarts: time/ figures are the new process's own). */
  restore(s: unknown): void {
    const v = s as { sums: Record<string, number>; counts?: Record<string, number>; steps: number; precHit: number; precN: number; images: number };
    this.sums = { ...v.sums };
    // Checkpoints of earlier versions: every step reported every figure.
    this.counts = v.counts ? { ...v.counts } : Object.fromEntries(Object.keys(v.sums).map((k) => [k, v.steps]));
    this.steps = v.steps;
    this.precHit = v.precHit;
    this.precN = v.precN;
    this.images = v.images;
    this.start = performance.now();
  }

  get empty(): boolean { return this.steps === 0; }

  imagesPerSec(): number {
    return this.images / Math.max((performance.now() - this.start) / 1000, 1e-9);
  }

  /** The interval's row; starts a new interval. */
  row(step: number, lr: number, val: ValidationFigures | null, gateOpen: boolean): Row {
    const mean = (k: string) => (this.counts[k] ? this.sums[k] / this.counts[k] : null);
    const seconds = (performance.now() - this.start) / 1000;
    const row: Row = {
      step, 'train/loss': mean('loss'), 'train/rec_loss': mean('rec_loss'), 'train/ce_labeled': mean('ce_labeled'),
      'train/ce_pseudo': mean('ce_pseudo'), 'train/pseudo_mask_rate': mean('pseudo_mask_rate'),
      'train/pseudo_precision': this.precN ? this.precHit / this.precN : null, 'train/acc_labeled': mean('acc_labeled'),
      'train/grad_norm': mean('grad_norm'), 'train/lr': lr, 'val/acc': val?.acc ?? null, 'gate/open': gateOpen ? 1 : 0,
      'time/step_ms': (seconds * 1000) / this.steps, 'time/images_per_s': this.images / seconds,
      'val/confident_acc': val?.confidentAcc ?? null, 'val/confident_rate': val?.confidentRate ?? null,
    };
    this.sums = {};
    this.counts = {};
    this.steps = 0;
    this.images = 0;
    this.precHit = 0;
    this.precN = 0;
    this.start = performance.now();
    return row;
  }
}
