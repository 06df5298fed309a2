// The train command's help and flag handling: documented options and examples, unknown flags rejected with exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lastFlagWins } from '../src/cli/args.js';

const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('train --help documents --labels-per-class, --gate-threshold and has examples', () => {
  const r = cli('train', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--labels-per-class/);
  assert.match(r.stdout, /--gate-threshold/);
  assert.match(r.stdout, /--resume/);
  // The gate's rules, thresholds, label smoothing and compute skipping, each saying when to use what.
  for (const flag of ['--gate-metric', '--gate-confidence', '--gate-min-confident', '--gate-min-step', '--threshold ', '--label-smoothing', '--skip-closed']) {
    assert.ok(r.stdout.includes(flag), `${flag} missing from train --help`);
  }
  assert.match(r.stdout.replace(/\s+/g, ' '), /confident-acc \(the SSMAE paper's rule, the default\)/);
  assert.match(r.stdout.replace(/\s+/g, ' '), /FlexMatch's curriculum \(Zhang et al\., 2021\)/);
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /ssmae train --artifacts \S+/);
});

test('unknown flags and missing required flags exit 2 without a stack trace', () => {
  for (const args of [['train', '--artifacts', 'a', '--labeled', 'b', '--out', 'c', '--labels-per-klass', '3'], ['train', '--labeled', 'b'], ['frobnicate']]) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /^ssmae: error: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace was printed');
  }
  assert.match(cli('train', '--artifacts', 'a', '--labeled', 'b', '--out', 'c', '--labels-per-klass', '3').stderr, /labels-per-klass/);
});

test('a flag given twice takes its last value', () => {
  const e = cli('eval', '--run', '/nonexistent-run-a', '--run', '/nonexistent-run-b', '--data', 'x');
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /nonexistent-run-b/);
  assert.doesNotMatch(e.stderr, /nonexistent-run-a/);
});

test('eval and pseudo-label refuse a --threads that is not a positive integer, before reading anything', () => {
  for (const args of [['eval', '--run', '/nonexistent-run', '--data', 'x', '--threads', '0'],
    ['pseudo-label', '--run', '/nonexistent-run', '--input', 'x', '--out', 'y.csv', '--threads', '1.5']]) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /^ssmae: error: --threads must be a positive integer, got (0|1\.5)\n$/);
  }
});

test('a number flag given again as 1 is 1, not the sum yargs would make of it', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-dup-')), 'art');
  const r = cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '1', '--classes', '2',
    '--batch-labeled', '4', '--batch-unlabeled', '3', '--batch-labeled', '1', '--batchUnlabeled=2', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  assert.equal(m.labeledBatch, 1);
  assert.equal(m.unlabeledBatch, 2);
});

test('lastFlagWins keeps the last of each flag and its value, in every spelling', () => {
  assert.deepEqual(lastFlagWins(['train', '--steps', '2400', '--flip', '--lr', '-1', '--steps', '1', '--no-flip']),
    ['train', '--lr', '-1', '--steps', '1', '--no-flip']);
  assert.deepEqual(lastFlagWins(['--labels-per-class=3', '--labelsPerClass', '5', '--', '--steps', '1', '--steps', '2']),
    ['--labelsPerClass', '5', '--', '--steps', '1', '--steps', '2']);
});
