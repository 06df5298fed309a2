// Graceful stop: SIGTERM or SIGINT at a random moment of training ends train after the step in flight with a
// checkpoint at the step reached and the command that continues it (exit 5); stopped three times and continued
// each time, the run ends bit-identical to one that never stopped (model.onnx bytes, metrics rows, gate log). A
// second signal stops at once (exit 128 + signal), leaving the last checkpoint loadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadCheckpoint } from '../src/algorithm/checkpoint.js';
import { CLI, assertSameRuns, cli, continueCommand, ok, writeTree } from './helpers/runs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-cli-stop-'));
const art = path.join(tmp, 'art');
const labeled = path.join(tmp, 'labeled');
const STEPS = 40;
// Log and eval intervals that do not line up with the checkpoints: a stop falls inside a metrics interval.
const train = (out: string) => ['train', '--artifacts', art, '--labeled', labeled, '--labels-per-class', '3', '--val-per-class', '2',
  '--seed', '7', '--threads', '1', '--quiet', '--cache-dir', path.join(tmp, 'cache'), '--steps', String(STEPS),
  '--checkpoint-every', '10', '--eval-every', '4', '--log-every', '3', '--warmup-steps', '3', '--out', out];

const ready = (async () => {
  await writeTree(labeled, 8, 3);
  ok(cli('export', '--preset', 'vit-micro-d2-p4', '--image-size', '8', '--channels', '1', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
})();

/**
 * Starts `args`, waits until training has logged step `atStep` or a later one, then after `delayMs` sends `signals`
 * (all at once); resolves with the exit code and stderr. Waiting for a step, not for a time, keeps the stop inside the
 * run however fast the machine steps.
 */
async function signalDuringTraining(args: string[], atStep: number, delayMs: number, signals: NodeJS.Signals[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let training!: () => void;
  const started = new Promise<void>((resolve) => { training = resolve; });
  child.stderr.on('data', (d) => {
    stderr += d;
    if ([...stderr.matchAll(/^step (\d+):/gm)].some((m) => Number(m[1]) >= atStep)) training();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([started, exited]);
  await new Promise((r) => setTimeout(r, delayMs));
  for (const s of signals) child.kill(s);
  return { code: await exited, stderr };
}

test(`SIGTERM/SIGINT at random moments, three times: each stop saves a checkpoint at the step reached; continued, the run equals an uninterrupted one`, async () => {
  await ready;
  const whole = path.join(tmp, 'whole');
  ok(cli(...train(whole)), `train ${STEPS}`);
  const run = path.join(tmp, 'stopped');
  const ckpt = path.join(run, 'checkpoint.safetensors');
  let args = train(run);
  let reached = 0;
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGTERM'];
  for (const [i, sig] of signals.entries()) {
    // A random logged step a little after the last stop (steps are logged every 3), then a random moment inside the
    // step, evaluation or checkpoint in flight: three stops stay well inside the 40 steps.
    const atStep = reached + 1 + Math.floor(Math.random() * 6);
    const delay = Math.floor(Math.random() * 40);
    const r = await signalDuringTraining(args, atStep, delay, [sig]);
    const what = `stop ${i + 1} (${sig} ${delay} ms after step ${atStep} or the first logged one after it)`;
    assert.equal(r.code, 5, `${what}: expected exit 5, got ${r.code}:\n${r.stderr}`);
    const m = new RegExp(`ssmae: stopped by ${sig} at step (\\d+) of ${STEPS}; checkpoint (\\S+) holds it`).exec(r.stderr);
    assert.ok(m, `${what}:\n${r.stderr}`);
    const step = Number(m[1]);
    assert.equal(m[2], ckpt);
    assert.equal(loadCheckpoint(ckpt).loop.step, step, `${what}: the checkpoint is not at the step the message names`);
    assert.ok(step > reached && step < STEPS, `${what}: step ${step} after ${reached}`);
    // The rows written are durable and end at or before the stop.
    const rows = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number });
    assert.ok(rows.length > 0 && rows.at(-1)!.step <= step);
    assert.deepEqual(fs.readdirSync(run).filter((f) => f.endsWith('.tmp')), []);
    reached = step;
    args = continueCommand(r.stderr);
    assert.ok(args.includes('--resume'));
  }
  const last = cli(...args);
  ok(last, 'the continue command, to the end');
  assert.match(last.stderr, new RegExp(`resuming at step ${reached}\\b`));
  assertSameRuns(whole, run, STEPS);
});

test('a second signal stops at once (exit 128 + signal); the last checkpoint still loads, no temporary file is left', async () => {
  await ready;
  const run = path.join(tmp, 'twice');
  // Two different signals sent together are both delivered (two of one kind may merge into one), in an order the
  // kernel picks: the second one seen exits at once with its code, 130 (SIGINT) or 143 (SIGTERM).
  const r = await signalDuringTraining(train(run), 1, 0, ['SIGTERM', 'SIGINT']);
  assert.ok(r.code === 130 || r.code === 143, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, /second signal \((SIGTERM|SIGINT)\): stopped at once/);
  assert.deepEqual(fs.readdirSync(run).filter((f) => f.endsWith('.tmp')), []);
  const ckpt = path.join(run, 'checkpoint.safetensors');
  if (fs.existsSync(ckpt)) assert.ok(loadCheckpoint(ckpt).loop.step >= 0);
});
