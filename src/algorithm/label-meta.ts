// `<OUT>.meta.json`, the provenance of a pseudo-label file: which model made it (sha256 of its graph and weights,
// the run and artifacts it came from), with which tool and τ, over which input and shard, what came out and when.
// merge-labels reads these to prove that shards belong together and cover their input exactly once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sha256File } from '../artifacts/files.js';
import { TOOL_VERSION } from '../artifacts/version.js';
import type { Tta } from './classifier.js';
import type { Run } from './run.js';
import type { Counts } from './label-journal.js';
import type { LabelFormat } from './label-rows.js';

export const META_FORMAT = 'ssmae-labels/1';

export interface ModelProvenance {
  /**
   * sha256 over eval.onnx's sha256 and every weight it is fed (name and bytes, in the graph's input order), and the
   * test-time augmentation when there is one: the same weights with and without it label differently.
   */
  sha256: string;
  run: string;
  step: number;
  checkpoint_sha256: string;
  artifacts: string;
  preset: string;
  image_size: number;
  channels: number;
  eval_graph_sha256: string;
  /** Test-time augmentation of the predictions (absent in files written before it existed: none). */
  tta?: Tta;
}

export interface InputProvenance { spec: string; resolved: string; items: number; fingerprint: string }
export interface ShardRange { index: number | null; count: number | null; start: number; end: number }

export interface LabelMeta {
  format: typeof META_FORMAT;
  tool: { name: 'ssmae'; version: string };
  model: ModelProvenance;
  threshold: number;
  classes: string[];
  input: InputProvenance;
  /** The item range [start, end) of the input this file covers (a merged file: the whole of it). */
  shard: ShardRange;
  output: { file: string; format: LabelFormat; only_accepted: boolean; sha256: string; bytes: number };
  counts: Counts & { items: number };
  started_at: string;
  finished_at: string;
  resumed: boolean;
  /** Where each resume picked up (item index) and when. */
  resumes: { resumed_at: number; time: string }[];
  /** For a merged file: the shard files it joined. */
  merged_from?: { file: string; shard: ShardRange; sha256: string; resumed: boolean }[];
}

export function metaFile(out: string): string { return `${out}.meta.json`; }

export function modelProvenance(run: Run, tta: Tta = 'none'): ModelProvenance {
  const m = run.artifacts.manifest;
  const evalSha = m.files[m.graphs.eval.file];
  const h = crypto.createHash('sha256').update(`${evalSha}\n`);
  for (const input of m.graphs.eval.inputs) {
    if (!input.name.startsWith('p.')) continue;
    const w = run.weights.get(input.name.slice(2))!;
    h.update(`${input.name}\0${w.constructor.name}\0`).update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  if (tta !== 'none') h.update(`tta\0${tta}\0`);
  return {
    sha256: h.digest('hex'),
    run: path.resolve(run.dir),
    step: run.step,
    checkpoint_sha256: sha256File(run.weightsFile),
    artifacts: path.resolve(run.artifacts.dir),
    preset: m.preset.name,
    image_size: m.imageSize,
    channels: m.channels,
    eval_graph_sha256: evalSha,
    tta,
  };
}

export function toolInfo(): LabelMeta['tool'] { return { name: 'ssmae', version: TOOL_VERSION }; }

/** sha256 and size of a file, read in pieces (label files can be large). */
export function hashFile(file: string): { sha256: string; bytes: number } {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let bytes = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: h.digest('hex'), bytes };
}
