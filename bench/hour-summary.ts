// The CIFAR-10 hour's summary (bench/cifar10-cpu-60min.sh): its three result sets (gated SSMAE, labels-only with the
// same steps, labels-only with about the same wall time), each run on its line, each set's mean ± sample std over the
// seeds, and the gated run's gain over each labels-only set, paired by seed (a seed fixes the labeled split).
//
//   node dist/bench/hour-summary.js --out OUT [--sets ssmae,labels-only-same-steps,labels-only-same-time] [--header TEXT]
//
// reads OUT/<set>/results.jsonl (a set whose file is missing is left out) and prints the summary.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { meanStd, readJsonl, type RunResult } from './label-results.js';

export interface ResultSet { name: string; results: RunResult[] }

/** A fraction as percentage points with two decimals, halves rounded up: accuracies are counts over the test
 *  split, so a mean such as 1.635 points must not print as 1.63 because its double is 1.63499…. */
const points2 = (x: number) => (Math.round(Math.round(x * 1e8) / 1e4) / 100).toFixed(2);
const pct2 = (x: number | null | undefined) => (x == null ? '-' : `${points2(x)}%`);
const signed = (x: number) => `${x >= 0 ? '+' : '-'}${points2(Math.abs(x))}`;
const withStd = (xs: number[], f: (x: number) => string) => {
  const m = meanStd(xs);
  return m.std === null ? f(m.mean) : `${f(m.mean)} ± ${points2(m.std)}`;
};

function runLine(set: string, r: RunResult): string {
  if (r.status !== 'ok') return `${set}, seed ${r.seed}: failed (${(r.error ?? '').split('\n')[0]})`;
  const flip = r.test_acc_flip == null ? '' : ` (${pct2(r.test_acc_flip)} with --tta flip)`;
  const train = r.train_s == null ? '' : `, train ${(r.train_s / 60).toFixed(1)} min`;
  const gate = r.pseudo_labels ? `, gate opened at ${r.gate_open_step ?? 'never'}` +
    `, pseudo-labels ${pct2(r.pseudo_precision)} right at mask rate ${pct2(r.pseudo_mask_rate)}` : '';
  return `${set}, seed ${r.seed}: ${r.steps} steps, test ${pct2(r.test_acc)} of ${r.test_n}${flip}${train}${gate}`;
}

const okAcc = (set: ResultSet, seed: number) => {
  const r = set.results.find((x) => x.seed === seed && x.status === 'ok');
  return r?.test_acc ?? null;
};

/** The summary's lines. The first set is the gated one; every other set is compared with it. */
export function hourSummary(sets: ResultSet[]): string[] {
  const lines: string[] = [];
  for (const s of sets) for (const r of [...s.results].sort((a, b) => a.seed - b.seed)) lines.push(runLine(s.name, r));
  lines.push('');
  for (const s of sets) {
    const accs = s.results.filter((r) => r.status === 'ok' && r.test_acc != null).sort((a, b) => a.seed - b.seed);
    if (!accs.length) { lines.push(`${s.name}: no finished run`); continue; }
    lines.push(`${s.name}: test ${withStd(accs.map((r) => r.test_acc as number), points2)}% ` +
      `over seed${accs.length > 1 ? 's' : ''} ${accs.map((r) => r.seed).join(', ')}`);
  }
  const [gated, ...others] = sets;
  if (!gated) return lines;
  const seeds = [...new Set(gated.results.map((r) => r.seed))].sort((a, b) => a - b);
  for (const o of others) {
    const pairs = seeds.flatMap((seed) => {
      const a = okAcc(gated, seed);
      const b = okAcc(o, seed);
      return a !== null && b !== null ? [{ seed, d: a - b }] : [];
    });
    if (!pairs.length) continue;
    lines.push(`gain of ${gated.name} over ${o.name}, paired by seed: ${withStd(pairs.map((p) => p.d), signed)} points` +
      ` (${pairs.map((p) => `seed ${p.seed}: ${signed(p.d)}`).join(', ')})`);
  }
  return lines;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = opt('out');
  if (!out) throw new Error('hour-summary: --out OUT is required (the folder bench/cifar10-cpu-60min.sh wrote)');
  const names = (opt('sets') ?? 'ssmae,labels-only-same-steps,labels-only-same-time').split(',').filter(Boolean);
  const sets = names.map((name) => ({ name, file: path.join(out, name, 'results.jsonl') }))
    .filter((s) => fs.existsSync(s.file)).map((s) => ({ name: s.name, results: readJsonl<RunResult>(s.file) }));
  if (!sets.length) throw new Error(`hour-summary: no results.jsonl under ${out}/{${names.join(',')}}/`);
  const header = opt('header');
  console.log([...(header ? [header] : []), ...hourSummary(sets)].join('\n'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: Error) => { console.error(e.message); process.exit(1); });
}
