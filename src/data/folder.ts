// Listing image folders. Labeled: DIR/<class>/**/<image>; unlabeled: every image anywhere under DIR.
// Hidden entries (names starting with '.') are ignored; any other non-image file is reported as skipped, so a
// user who dropped BMPs or PDFs into the tree learns why they were not used. Symbolic links are followed (datasets
// are often assembled from links), but each real folder is read once: a link back into the tree (`current -> .`,
// common in dumps) is reported and skipped, never followed round and round.

import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join } from 'node:path';
import { filesPlan, type FileEntry, type Listing, type Plan, type PlanOptions } from './plan.js';
import { compareClassNames, DataError } from './types.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.gif']);

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** stat that follows links; a broken link or a link loop is a reason to skip the entry, not an exception. */
function statEntry(path: string): Stats | { error: string } {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st ?? { error: 'broken link' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ELOOP' ? 'symbolic link loop (the link leads back to itself)' : `cannot be read (${code ?? (e as Error).message})` };
  }
}

/**
 * Appends every image under `dir` (sorted, depth-first) to `out`; returns the number found. `seen` holds the real
 * paths of the folders already read in this listing.
 */
function walk(dir: string, label: number, out: FileEntry[], skipped: Listing['skipped'], seen: Set<string>): number {
  const real = realpathSync(dir);
  if (seen.has(real)) {
    skipped.push({ path: dir, reason: `symbolic link to ${real}, a folder already read (a link loop or a second way in); not followed` });
    return 0;
  }
  seen.add(real);
  let listed;
  try {
    listed = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    skipped.push({ path: dir, reason: `folder cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    return 0;
  }
  const entries = listed
    .filter((e) => !isHidden(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let found = 0;
  let subfolders = 0;
  for (const e of entries) {
    const path = join(dir, e.name);
    const st = statEntry(path);
    if ('error' in st) {
      skipped.push({ path, reason: st.error });
    } else if (st.isDirectory()) {
      subfolders++;
      found += walk(path, label, out, skipped, seen);
    } else if (!IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) {
      skipped.push({ path, reason: `not an image file type (${extname(e.name) || 'no extension'})` });
    } else {
      out.push({ path, label, bytes: st.size, mtimeMs: st.mtimeMs });
      found++;
    }
  }
  // Report only the innermost empty folders, so one empty tree is one warning, not one per level.
  if (found === 0 && subfolders === 0) skipped.push({ path: dir, reason: 'folder contains no images' });
  return found;
}

function requireDir(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) throw new DataError(`image folder ${dir} does not exist; check the path`);
  if (!st.isDirectory()) throw new DataError(`${dir} is not a folder (expected an image folder or a .csv manifest)`);
}

/** One subfolder per class; `classes`, when given, fixes the label order and must name every subfolder. */
export function listLabeledFolder(dir: string, classes?: string[]): Listing {
  requireDir(dir);
  const top = readdirSync(dir, { withFileTypes: true }).filter((e) => !isHidden(e.name));
  const folders = top
    .filter((e) => { const st = statEntry(join(dir, e.name)); return !('error' in st) && st.isDirectory(); })
    .map((e) => e.name)
    .sort(compareClassNames);
  if (folders.length === 0) {
    throw new DataError(
      `${dir} has no class subfolders; a labeled image folder needs one subfolder per class (${dir}/<class>/<image>), ` +
        'or give a CSV manifest with columns path,label',
    );
  }
  const names = classes ?? folders;
  for (const f of folders) {
    if (!names.includes(f)) {
      throw new DataError(
        `${join(dir, f)}: folder name "${f}" is not one of the ${names.length} classes (${names.join(', ')}); ` +
          'rename or remove the folder, or use the class list that includes it',
      );
    }
  }
  const files: FileEntry[] = [];
  const skipped: Listing['skipped'] = [];
  for (const e of top) {
    if (!folders.includes(e.name)) skipped.push({ path: join(dir, e.name), reason: 'not inside a class folder' });
  }
  const seen = new Set([realpathSync(dir)]);
  for (const f of folders) walk(join(dir, f), names.indexOf(f), files, skipped, seen);
  return { files, classes: names.slice(), skipped };
}

/** Every image under `dir`, recursively, with label -1. */
export function listUnlabeledFolder(dir: string, classes?: string[]): Listing {
  requireDir(dir);
  const files: FileEntry[] = [];
  const skipped: Listing['skipped'] = [];
  walk(dir, -1, files, skipped, new Set());
  return { files, classes: classes?.slice() ?? [], skipped };
}

/**
 * Many paths below one folder: their relative parts in one buffer (UTF-8, back to back) with offsets, ~1 byte per
 * character and no object per path; `get` joins the folder back on.
 */
export class PathList {
  private readonly view: Buffer;
  constructor(readonly root: string, readonly bytes: Uint8Array, readonly offsets: Uint32Array) {
    this.view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number { return this.offsets.length - 1; }
  get(i: number): string { return join(this.root, this.view.toString('utf8', this.offsets[i], this.offsets[i + 1])); }
}

/**
 * A dump to pseudo-label: every non-hidden file under `dir` (sorted, depth-first, links followed), images or not,
 * so that each file becomes one output row — a file that cannot be an image carries its reason from the start.
 * `fingerprint` is the sha256 of every file's path relative to `dir`, size and mtime, in listing order: two jobs
 * that list the same dump get the same fingerprint wherever it is mounted.
 */
export interface DumpListing {
  paths: PathList;
  /** [index, why the file cannot be decoded (not an image type, broken link, empty)]; candidate images are absent. */
  reasons: [number, string][];
  fingerprint: string;
  /** Warning lines: innermost folders without any file, links to folders already read (not rows). */
  warnings: string[];
}

export function listDumpFolder(dir: string): DumpListing {
  requireDir(dir);
  const chunks: Buffer[] = [];
  let offsets = new Uint32Array(1024);
  let count = 0;
  let bytes = 0;
  const reasons: [number, string][] = [];
  const warnings: string[] = [];
  const hash = createHash('sha256');
  const seen = new Set<string>(); // real paths of the folders read: each is read once, so link loops end
  const visit = (folder: string, rel: string): number => {
    const real = realpathSync(folder);
    if (seen.has(real)) {
      warnings.push(`warning: skipped ${folder}: symbolic link to ${real}, a folder already read (a link loop or a second way in); not followed`);
      return 0;
    }
    seen.add(real);
    const names = readdirSync(folder).filter((n) => !isHidden(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let found = 0;
    let subfolders = 0;
    for (const name of names) {
      const path = join(folder, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const entry = statEntry(path);
      const st = 'error' in entry ? undefined : entry;
      if (st?.isDirectory()) {
        subfolders++;
        found += visit(path, relPath);
        continue;
      }
      const b = Buffer.from(relPath);
      chunks.push(b);
      bytes += b.length;
      if (count + 2 > offsets.length) { const o = new Uint32Array(offsets.length * 2); o.set(offsets); offsets = o; }
      offsets[++count] = bytes;
      const i = count - 1;
      found++;
      if (!st) reasons.push([i, (entry as { error: string }).error]);
      else if (!IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) reasons.push([i, `not an image file type (${extname(name) || 'no extension'})`]);
      else if (st.size === 0) reasons.push([i, 'empty file (0 bytes)']);
      hash.update(`${relPath}\0${st?.size ?? -1}\0${Math.floor(st?.mtimeMs ?? 0)}\n`);
    }
    if (found === 0 && subfolders === 0) warnings.push(`warning: ${folder}: folder contains no files`);
    return found;
  };
  visit(dir, '');
  const all = new Uint8Array(bytes); // its own ArrayBuffer (not Node's shared pool), so it can be transferred
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  return { paths: new PathList(dir, all, offsets.slice(0, count + 1)), reasons, fingerprint: hash.digest('hex'), warnings };
}

/** An image folder as a source: labeled (one subfolder per class) or unlabeled (every image below it). */
export function folderPlan(dir: string, spec: string, options: PlanOptions): Plan {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) {
    throw new DataError(
      `data source "${spec}" not found; give an image folder, a .csv manifest, mnist:train|test, ` +
        'fashion-mnist:train|test, idx:IMAGES[,LABELS], cifar10-bin:DIR or cifar100-bin:DIR',
    );
  }
  return filesPlan(options.labeled ? listLabeledFolder(dir, options.classes) : listUnlabeledFolder(dir, options.classes), options);
}
