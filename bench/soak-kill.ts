// Soak test of crash safety: trains a small model, kills `ssmae train` with SIGKILL at random moments of training (a
// step, a metrics append or a checkpoint write) --kills times, continuing it each time with --resume, then lets
// it finish and compares the result with a run that was never killed: model.onnx bytes, metrics rows (time/ figures
// aside) and gate decisions. After each kill the checkpoint on disk must load (its sha256 checked) at a step no
// earlier than the one before. Prints one line per kill and a summary; writes both to --out.
//   node dist/bench/soak-kill.js --kills 20 --steps 300 --out bench/results/soak-kill
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { Rng } from '../src/data/rng.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

const a = yargs(hideBin(process.argv))
  .option('kills', { type: 'number', default: 20, describe: 'SIGKILLs before the run may finish' })
  .option('steps', { type: 'number', default: 300, describe: 'optimizer steps of the run' })
  .option('max-delay-ms', { type: 'number', default: 1500, describe: 'each kill comes uniformly 0..this after training starts (the first line on stderr: "resuming at step", or the first step logged)' })
  .option('seed', { type: 'number', default: 1, describe: 'seeds the kill moments' })
  .option('out', { type: 'string', default: 'bench/results/soak-kill', describe: 'folder for log.txt' })
  .strict()
  .parseSync();

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-soak-'));
const lines: string[] = [];
const say = (l: string) => { console.log(l); lines.push(l); };

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssmae ${args[0]} exited ${r.status}:\n${r.stderr}`);
  return r;
}

/** Three classes of 8×8 gray PNGs with seeded noise. */
async function writeTree(root: string, perClass: number): Promise<void> {
  const rng = new Rng(11);
  for (const c of ['bright', 'dark', 'stripes']) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(64);
      for (let j = 0; j < 64; j++) {
        const base = c === 'bright' ? 210 : c === 'dark' ? 40 : (j % 2 ? 230 : 20);
        px[j] = Math.max(0, Math.min(255, base + Math.round((rng.next() - 0.5) * 40)));
      }
      await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(path.join(root, c, `${i}.png`));
    }
  }
}

function rows(run: string): unknown[] {
  return fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k.startsWith('time/')) delete r[k];
    return r;
  });
}

function modelOf(run: string): Buffer {
  const out = `${run}.onnx`;
  cli(['export-model', '--run', run, '--out', out]);
  return fs.readFileSync(out);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const art = path.join(work, 'art');
  const labeled = path.join(work, 'labeled');
  await writeTree(labeled, 16);
  cli(['export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art]);
  const train = (out: string) => ['train', '--artifacts', art, '--labeled', labeled, '--labels-per-class', '4', '--val-per-class', '2',
    '--seed', '5', '--threads', '1', '--quiet', '--cache-dir', path.join(work, 'cache'), '--steps', String(a.steps),
    '--checkpoint-every', '5', '--eval-every', '10', '--log-every', '3', '--warmup-steps', '10', '--out', out, '--resume'];
  const whole = path.join(work, 'whole');
  cli(train(whole));
  say(`uninterrupted run: ${a.steps} steps in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const run = path.join(work, 'killed');
  const ckpt = path.join(run, 'checkpoint.safetensors');
  const rng = new Rng(a.seed);
  let ok = 0;
  let last = 0;
  let removedTotal = 0;
  for (let k = 1; k <= a.kills; k++) {
    const delay = Math.floor(rng.next() * a['max-delay-ms']);
    const child = spawn(process.execPath, [CLI, ...train(run)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on('data', () => {
      if (!timer && /^(resuming at step|step \d+:)/m.test(stderr)) timer = setTimeout(() => child.kill('SIGKILL'), delay);
    });
    const code = await exited;
    clearTimeout(timer);
    const cleaned = /removed (\d+) temporary file/.exec(stderr);
    if (cleaned) removedTotal += Number(cleaned[1]);
    const logged = [...stderr.matchAll(/^step (\d+):/gm)].map((m) => Number(m[1])).at(-1) ?? null;
    const temps = fs.existsSync(run) ? fs.readdirSync(run).filter((f) => f.endsWith('.tmp')) : [];
    let held: number | null = null;
    let problem = '';
    if (code !== null) problem = `the run was not killed (exit ${code}); lower --max-delay-ms or raise --steps`;
    else if (fs.existsSync(ckpt)) {
      try {
        held = loadCheckpoint(ckpt).loop.step;
        if (held < last) problem = `checkpoint went back from step ${last} to ${held}`;
      } catch (e) {
        problem = `checkpoint does not load: ${(e as Error).message}`;
      }
    }
    if (!problem) ok++;
    if (held !== null) last = held;
    say(`kill ${String(k).padStart(2)}: ${String(delay).padStart(4)} ms into training, last step logged ${logged ?? '-'}, ` +
      `checkpoint at step ${held ?? '-'}${temps.length ? `, torn temporary file left: ${temps.join(' ')}` : ''}` + (problem ? ` -- FAILED: ${problem}` : ''));
  }
  const fin = cli(train(run));
  const removed = /removed (\d+) temporary file/.exec(fin.stderr);
  if (removed) removedTotal += Number(removed[1]);
  const sameModel = modelOf(whole).equals(modelOf(run));
  const sameRows = JSON.stringify(rows(whole)) === JSON.stringify(rows(run));
  const sameGate = fs.readFileSync(path.join(whole, 'gate.jsonl'), 'utf8') === fs.readFileSync(path.join(run, 'gate.jsonl'), 'utf8');
  say(`finished after the kills (torn temporary files removed at the starts that followed: ${removedTotal}): model.onnx ` +
    `${sameModel ? 'byte-identical to' : 'DIFFERS from'} the uninterrupted run's; metrics rows ${sameRows ? 'identical' : 'DIFFER'}; ` +
    `gate log ${sameGate ? 'identical' : 'DIFFERS'}`);
  const passed = ok === a.kills && sameModel && sameRows && sameGate;
  say(`result: ${ok} of ${a.kills} kills left a loadable checkpoint no earlier than the one before; ` +
    `final run ${sameModel && sameRows && sameGate ? 'identical' : 'NOT identical'} (${((Date.now() - t0) / 1000).toFixed(0)} s in all)`);
  fs.mkdirSync(a.out, { recursive: true });
  fs.writeFileSync(path.join(a.out, 'log.txt'), lines.join('\n') + '\n');
  fs.rmSync(work, { recursive: true, force: true });
  process.exitCode = passed ? 0 : 1;
}

await main();
