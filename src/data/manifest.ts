// CSV manifests: a header row `path,label` (label may be absent for unlabeled data), one image per row, paths
// relative to the CSV's own folder (absolute paths are kept). Row numbers in errors count the header as row 1,
// as spreadsheets show them.

import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as csv from 'fast-csv';
import { filesPlan, type FileEntry, type Listing, type Plan, type PlanOptions } from './plan.js';
import { compareClassNames, DataError } from './types.js';

async function readRows(file: string): Promise<Record<string, string>[]> {
  return new Promise((done, fail) => {
    const rows: Record<string, string>[] = [];
    csv
      .parseFile<Record<string, string>, Record<string, string>>(file, { headers: true, trim: true, strictColumnHandling: false })
      .on('error', (e: Error) => fail(new DataError(`${file}: cannot parse CSV: ${e.message}`)))
      .on('data', (row: Record<string, string>) => rows.push(row))
      .on('end', () => done(rows));
  });
}

/** Lists a manifest. `labeled` requires a label on every row; `classes`, when given, is the only allowed set. */
export async function listManifest(file: string, labeled: boolean, classes?: string[]): Promise<Listing> {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || !st.isFile()) throw new DataError(`CSV manifest ${file} does not exist; check the path`);
  const rows = await readRows(file);
  if (rows.length === 0) throw new DataError(`${file}: the manifest has no rows (expected a header "path,label" and one row per image)`);
  if (!('path' in rows[0])) {
    throw new DataError(`${file}: no "path" column; the first row must be a header such as "path,label"`);
  }
  const hasLabel = 'label' in rows[0];
  if (labeled && !hasLabel) {
    throw new DataError(`${file}: no "label" column; a labeled manifest needs the header "path,label"`);
  }

  // Classes: the given list, or every distinct label in the file, in the folder order (numbers numerically).
  let names: string[];
  if (classes) {
    names = classes.slice();
  } else {
    const seen = new Set<string>();
    for (const r of rows) if (hasLabel && r.label) seen.add(r.label);
    names = [...seen].sort(compareClassNames);
  }
  const index = new Map(names.map((c, i) => [c, i]));

  const base = dirname(file);
  const files: FileEntry[] = [];
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k];
    const where = `${file}, row ${k + 2}`;
    const rel = row.path ?? '';
    const label = hasLabel ? (row.label ?? '') : '';
    if (rel === '' && label === '') continue; // a blank line
    if (rel === '') throw new DataError(`${where}: empty path; every row needs the image's path (relative to ${base})`);
    let id = -1;
    if (label !== '') {
      const found = index.get(label);
      if (found === undefined) {
        throw new DataError(
          `${where}: label "${label}" is not one of the ${names.length} classes (${names.join(', ')}); ` +
            'correct the label, or use a class list that includes it',
        );
      }
      id = found;
    } else if (labeled) {
      throw new DataError(`${where}: empty label; every row of a labeled manifest needs a class name`);
    }
    const path = isAbsolute(rel) ? rel : resolve(base, rel);
    const fst = statSync(path, { throwIfNoEntry: false });
    if (!fst || !fst.isFile()) {
      throw new DataError(`${where}: image ${rel} not found (looked for ${path}); fix the path or remove the row`);
    }
    files.push({ path, label: id, bytes: fst.size, mtimeMs: fst.mtimeMs });
  }
  return { files, classes: names, skipped: [] };
}

/** A CSV manifest as a source. */
export async function manifestPlan(file: string, options: PlanOptions): Promise<Plan> {
  return filesPlan(await listManifest(file, options.labeled, options.classes), options);
}
