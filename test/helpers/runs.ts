// Helpers for end-to-end tests of runs: the CLI as a child process, a small seeded image tree, and the check that
// two runs are the same (byte-identical exported model, the same metrics rows and gate decisions).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { loadCheckpoint } from '../../src/algorithm/checkpoint.js';

export const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/cli/main.js');

export function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

export function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** 8×8 gray PNGs: "bright", "dark" and vertical "stripes", with seeded noise so every image differs. */
export async function writeTree(root: string, perClass: number, seed: number): Promise<void> {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const c of ['bright', 'dark', 'stripes']) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(64);
      for (let j = 0; j < 64; j++) {
        const base = c === 'bright' ? 210 : c === 'dark' ? 40 : (j % 2 ? 230 : 20);
        px[j] = Math.max(0, Math.min(255, base + Math.round((rnd() - 0.5) * 40)));
      }
      await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(path.join(root, c, `${i}.png`));
    }
  }
}

export function rowsWithoutTime(run: string): Record<string, unknown>[] {
  return fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const row = JSON.parse(l) as Record<string, unknown>;
    for (const k of Object.keys(row)) if (k.startsWith('time/')) delete row[k];
    return row;
  });
}

/** The run's model.onnx (export-model), written beside the run directory. */
export function exportModel(run: string): Buffer {
  const out = path.join(path.dirname(run), `${path.basename(run)}.onnx`);
  ok(cli('export-model', '--run', run, '--out', out), `export-model ${run}`);
  return fs.readFileSync(out);
}

/** Runs `a` and `b` ended at `steps` with the same model (model.onnx bytes), metrics rows and gate decisions. */
export function assertSameRuns(a: string, b: string, steps = 20): void {
  const ma = exportModel(a);
  const mb = exportModel(b);
  assert.ok(ma.length > 1000);
  assert.ok(ma.equals(mb), 'model.onnx of the resumed run differs from the uninterrupted run');
  const ra = rowsWithoutTime(a);
  const rb = rowsWithoutTime(b);
  assert.ok(ra.length >= 4, `expected several metrics rows, got ${ra.length}`);
  assert.deepEqual(rb.map((r) => r.step), ra.map((r) => r.step), 'metrics rows are at different steps');
  assert.deepEqual(rb, ra);
  // Metrics must hold real numbers, not nulls everywhere.
  assert.ok(ra.every((r) => typeof r['train/loss'] === 'number' && Number.isFinite(r['train/loss'] as number)));
  const csvA = fs.readFileSync(path.join(a, 'metrics.csv'), 'utf8').split('\n').filter(Boolean);
  const csvB = fs.readFileSync(path.join(b, 'metrics.csv'), 'utf8').split('\n').filter(Boolean);
  assert.equal(csvB.length, csvA.length, 'metrics.csv has a different number of rows');
  assert.deepEqual(fs.readFileSync(path.join(b, 'gate.jsonl'), 'utf8'), fs.readFileSync(path.join(a, 'gate.jsonl'), 'utf8'));
  assert.equal(loadCheckpoint(path.join(b, 'checkpoint.safetensors')).loop.step, steps);
}

/** The command after "continue with: " in a message, as arguments for cli() (its words hold no spaces in tests). */
export function continueCommand(stderr: string): string[] {
  const m = /[Cc]ontinue with: ssmae (.+)$/m.exec(stderr);
  assert.ok(m, `no "continue with: ssmae ..." in:\n${stderr}`);
  return m[1].trim().split(' ');
}
