// Rows of a pseudo-label file and their two encodings, CSV (RFC 4180) and JSON lines. Every row ends with a newline,
// so shard files can be concatenated and appended to without gluing rows together.
//
// CSV cells are made safe for spreadsheets as OWASP's "CSV Injection" page recommends: a cell that starts with
// =, +, -, @, tab or carriage return (which Excel, LibreOffice and Google Sheets would run as a formula) gets a single
// quote in front. A cell that already starts with a single quote gets one too, so reading back is one rule without
// exceptions: a cell that starts with ' loses that first character. Cells holding a comma, a double quote, CR or LF
// are quoted, with double quotes doubled.

export type LabelFormat = 'csv' | 'jsonl';
export const LABEL_FORMATS: readonly LabelFormat[] = ['csv', 'jsonl'];

export interface LabelRow {
  path: string;
  /** null for an unreadable file. */
  label: string | null;
  classIndex: number | null;
  confidence: number | null;
  /** Softmax probability of the first class minus the second's. */
  margin: number | null;
  accepted: boolean;
  /** Why the file could not be labeled; null when it was. */
  error: string | null;
}

export const CSV_HEADER = ['path', 'label', 'class_index', 'confidence', 'margin', 'accepted', 'error'];

const FORMULA_START = /^[=+\-@\t\r']/;

/** One CSV cell, neutralised and quoted as needed. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The inverse of csvCell's neutralisation, for a cell a CSV reader has already unquoted. */
export function uncsvCell(value: string): string {
  return value.startsWith("'") ? value.slice(1) : value;
}

export function csvLine(cells: string[]): string {
  return `${cells.map(csvCell).join(',')}\n`;
}

const num = (v: number | null) => (v === null ? '' : v.toFixed(6));

export function encodeRow(row: LabelRow, format: LabelFormat): string {
  if (format === 'jsonl') {
    return `${JSON.stringify({
      path: row.path, label: row.label, class_index: row.classIndex,
      confidence: row.confidence === null ? null : Number(row.confidence.toFixed(6)),
      margin: row.margin === null ? null : Number(row.margin.toFixed(6)),
      accepted: row.accepted, error: row.error,
    })}\n`;
  }
  return csvLine([row.path, row.label ?? '', row.classIndex === null ? '' : String(row.classIndex), num(row.confidence),
    num(row.margin), row.accepted ? '1' : '0', row.error ?? '']);
}

/** What a file starts with before its rows: the CSV header line; nothing for JSON lines. */
export function fileHeader(format: LabelFormat): string {
  return format === 'csv' ? csvLine(CSV_HEADER) : '';
}

/** Argmax, its softmax probability and the margin to the runner-up, per row of logits [n, K]. */
export function topTwo(logits: Float32Array, k: number): { label: Int32Array; conf: Float32Array; margin: Float32Array } {
  const n = logits.length / k;
  const label = new Int32Array(n);
  const conf = new Float32Array(n);
  const margin = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    let best = 0;
    for (let j = 1; j < k; j++) if (row[j] > row[best]) best = j;
    let second = best === 0 ? 1 : 0;
    for (let j = 0; j < k; j++) if (j !== best && row[j] > row[second]) second = j;
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(row[j] - row[best]);
    label[i] = best;
    conf[i] = 1 / z;
    margin[i] = k > 1 ? (1 - Math.exp(row[second] - row[best])) / z : 1;
  }
  return { label, conf, margin };
}
