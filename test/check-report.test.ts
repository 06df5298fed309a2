// ssmae check and ssmae report on one tiny trained run (three colour classes of 8×8 PNGs, 30 steps):
// - check against the run's own baseline passes (exit 0); against a baseline 5 points better it fails (exit 1), with
//   a table of what moved and JUnit XML that a test parses and holds to the JUnit schema's required elements and
//   attributes; a saved evaluation (eval --json) gives the same verdict; bad input is one line and exit 2;
// - report.html opened in headless Chromium: no console error, no request but the file itself, every chart present
//   and non-empty, every image decoded, and a screenshot that is not blank; train --report writes one too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { Browser } from './helpers/chromium.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-check-report-'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');
const CLASSES = ['blue', 'green', 'red'];

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function ok(r: ReturnType<typeof cli>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function oneLineError(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.equal(r.status, 2, `expected exit 2, got ${r.status}:\n${r.stdout}\n${r.stderr}`);
  // Decoding progress (printed when decoding takes longer than a moment, as on a loaded machine) is not the error.
  const lines = r.stderr.trim().split('\n').filter((l) => !/^decoding .*: \d+% \(/.test(l));
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^ssmae: error: /);
  assert.match(lines[0], re);
}

let seed = 777;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

/** An 8×8 RGB PNG whose dominant channel is `cls` (red, green or blue), with noise. */
async function writeImage(file: string, cls: string): Promise<void> {
  const c = CLASSES.indexOf(cls) === 0 ? 2 : CLASSES.indexOf(cls) === 1 ? 1 : 0;
  const px = Buffer.alloc(8 * 8 * 3);
  for (let i = 0; i < 64; i++) for (let k = 0; k < 3; k++) px[i * 3 + k] = Math.round((k === c ? 170 : 20) + rnd() * 60);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(file);
}

const art = path.join(tmp, 'art');
const run = path.join(tmp, 'run');
const testDir = path.join(tmp, 'test');
const baseline = path.join(tmp, 'ci', 'baseline.json');

const ready = (async () => {
  for (const c of CLASSES) for (let i = 0; i < 10; i++) await writeImage(path.join(tmp, 'labeled', c, `${i}.png`), c);
  // The test folder: 6 images per class folder, one of which shows another class's colour, so even a perfect model
  // scores 15/18 and a baseline 5 points better is a possible figure.
  for (const [j, c] of CLASSES.entries()) {
    for (let i = 0; i < 6; i++) await writeImage(path.join(testDir, c, `t${i}.png`), i === 0 ? CLASSES[(j + 1) % 3] : c);
  }
  ok(cli('export', '--preset', 'vit-micro-p4', '--image-size', '8', '--channels', '3', '--classes', '3',
    '--batch-labeled', '4', '--batch-unlabeled', '4', '--out', art), 'export');
  ok(cli('train', '--artifacts', art, '--labeled', path.join(tmp, 'labeled'), '--labels-per-class', '4', '--val-per-class', '2',
    '--out', run, '--steps', '30', '--eval-every', '10', '--log-every', '5', '--warmup-steps', '5', '--lr', '2e-3',
    '--gate-metric', 'acc', '--gate-threshold', '0.3', '--threads', '1', '--quiet', '--report'), 'train');
})();

interface Row { figure: string; status: string }
function tableRows(stdout: string): Row[] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('figure'));
  assert.ok(head >= 0, `no table in:\n${stdout}`);
  return lines.slice(head + 1).filter((l) => /\s(ok|REGRESSED|improved|not measured)$/.test(l))
    .map((l) => ({ figure: l.split(/\s{2,}/)[0], status: l.trim().split(/\s{2,}/).pop()! }));
}

test('check: a run against its own baseline passes, exit 0, every figure ok; a saved evaluation gives the same verdict', async () => {
  await ready;
  const wrote = ok(cli('check', '--run', run, '--data', testDir, '--baseline', baseline, '--write-baseline', '--threads', '1'), 'write-baseline');
  assert.match(wrote, /wrote baseline/);
  const b = JSON.parse(fs.readFileSync(baseline, 'utf8'));
  assert.equal(b.n, 18);
  assert.ok(b.figures.accuracy <= 15 / 18 + 1e-12, `accuracy ${b.figures.accuracy} cannot beat 15/18 on this folder`);
  assert.deepEqual(Object.keys(b.figures.per_class).sort(), CLASSES);
  assert.equal(typeof b.figures.pseudo_precision, 'number', 'labels-per-class hides labels, so precision is measured');
  const opened = fs.readFileSync(path.join(run, 'gate.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((d) => d.changed && d.open);
  assert.equal(b.figures.gate_opened_at, opened?.step ?? null);

  const junit = path.join(tmp, 'pass.xml');
  const r = cli('check', '--run', run, '--data', testDir, '--baseline', baseline, '--junit', junit, '--threads', '1');
  const out = ok(r, 'check against its own baseline');
  const rows = tableRows(out);
  assert.deepEqual(rows.map((x) => x.figure), ['accuracy', ...CLASSES.map((c) => `accuracy of class ${c}`), 'pseudo-label precision', 'gate opened at step']);
  assert.ok(rows.every((x) => x.status === 'ok'), out);
  const suite = checkJUnit(fs.readFileSync(junit, 'utf8'));
  assert.equal(suite.failures, 0);
  assert.equal(suite.cases.length, rows.length);

  const saved = path.join(tmp, 'eval.json');
  fs.writeFileSync(saved, ok(cli('eval', '--run', run, '--data', testDir, '--json', '--confusion', path.join(tmp, 'c.csv'), '--threads', '1'), 'eval'));
  const again = ok(cli('check', '--run', run, '--evaluation', saved, '--baseline', baseline), 'check --evaluation');
  assert.ok(tableRows(again).every((x) => x.status === 'ok'), again);
});

test('check: against a baseline 5 points better it fails with exit 1, names the figure, and the JUnit XML holds to the schema', async () => {
  await ready;
  const b = JSON.parse(fs.readFileSync(baseline, 'utf8'));
  const better = path.join(tmp, 'better.json');
  const worst = CLASSES.reduce((w, c) => (b.figures.per_class[c] < b.figures.per_class[w] ? c : w), CLASSES[0]);
  b.figures.accuracy += 0.05;
  fs.writeFileSync(better, JSON.stringify(b));
  const junit = path.join(tmp, 'reports', 'fail.xml');
  const r = cli('check', '--run', run, '--data', testDir, '--baseline', better, '--junit', junit, '--threads', '1');
  assert.equal(r.status, 1, `expected exit 1:\n${r.stdout}\n${r.stderr}`);
  const rows = tableRows(r.stdout);
  assert.deepEqual(rows.filter((x) => x.status === 'REGRESSED').map((x) => x.figure), ['accuracy']);
  assert.match(r.stdout, /-5\.00 pt/);
  assert.match(r.stdout, /FAIL: 1 figure\(s\) regressed beyond tolerance .*: accuracy/);
  const suite = checkJUnit(fs.readFileSync(junit, 'utf8'));
  assert.equal(suite.failures, 1);
  const failed = suite.cases.filter((c) => c.failure);
  assert.deepEqual(failed.map((c) => c.name), ['accuracy']);
  assert.match(failed[0].failure!, /^accuracy: .*-5\.00 points, tolerance 1\.00/);
  // A per-class tolerance of 0.06 lets a 5-point drop of one class pass; 0.04 does not.
  const perClass = JSON.parse(fs.readFileSync(baseline, 'utf8'));
  perClass.figures.per_class[worst] = Math.min(1, perClass.figures.per_class[worst] + 0.05);
  fs.writeFileSync(better, JSON.stringify(perClass));
  assert.equal(cli('check', '--run', run, '--data', testDir, '--baseline', better, '--tolerance', 'per-class=0.06', '--threads', '1').status, 0);
  const tight = cli('check', '--run', run, '--data', testDir, '--baseline', better, '--tolerance', 'per-class=0.04', '--threads', '1');
  assert.equal(tight.status, 1, tight.stdout);
  assert.deepEqual(tableRows(tight.stdout).filter((x) => x.status === 'REGRESSED').map((x) => x.figure), [`accuracy of class ${worst}`]);
});

test('check --tta flip: the baseline records it, the flip figure equals eval --tta flip\'s, and a check with another --tta is refused (exit 2)', async () => {
  await ready;
  const flipBase = path.join(tmp, 'ci', 'baseline-flip.json');
  ok(cli('check', '--run', run, '--data', testDir, '--baseline', flipBase, '--tta', 'flip', '--write-baseline', '--threads', '1'), 'check --tta flip --write-baseline');
  const b = JSON.parse(fs.readFileSync(flipBase, 'utf8'));
  assert.equal(b.tta, 'flip');
  const e = JSON.parse(ok(cli('eval', '--run', run, '--data', testDir, '--json', '--tta', 'flip', '--confusion', path.join(tmp, 'cf.csv'), '--threads', '1'), 'eval --tta flip').trim());
  assert.equal(e.tta, 'flip');
  assert.equal(b.figures.accuracy, e.accuracy);
  assert.equal(cli('check', '--run', run, '--data', testDir, '--baseline', flipBase, '--tta', 'flip', '--threads', '1').status, 0);
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', flipBase, '--threads', '1'),
    /measured with --tta flip, this check with --tta none; check with --tta flip, or write a new baseline/);
  // The default baseline (written without --tta) says none, and a flip check against it is refused the same way.
  assert.equal(JSON.parse(fs.readFileSync(baseline, 'utf8')).tta, 'none');
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', baseline, '--tta', 'flip', '--threads', '1'), /measured with --tta none, this check with --tta flip/);
});

test('check: an internal error exits 70 with its stack, apart from a regression (1) and bad input (2); eval --cache-dir gives the in-memory figures', async () => {
  await ready;
  const saved = path.join(tmp, 'eval-internal.json');
  fs.writeFileSync(saved, ok(cli('eval', '--run', run, '--data', testDir, '--json', '--threads', '1'), 'eval'));
  const own = path.join(tmp, 'ci', 'baseline-internal.json');
  ok(cli('check', '--run', run, '--evaluation', saved, '--baseline', own, '--write-baseline'), 'check --write-baseline');
  // A bug simulated from outside the code: console.log, which check calls to print its table, throws.
  const r = spawnSync(process.execPath, ['--import', 'data:text/javascript,console.log=()=>{throw new TypeError("simulated bug")}', CLI,
    'check', '--run', run, '--evaluation', saved, '--baseline', own], { encoding: 'utf8' });
  assert.equal(r.status, 70, `expected exit 70:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^ssmae: internal error \(exit 70\), please report it with this trace:\nTypeError: simulated bug\n\s+at /);
  // The same command without the bug passes: the 70 came from the bug alone.
  assert.equal(cli('check', '--run', run, '--evaluation', saved, '--baseline', own).status, 0);
  // eval --cache-dir: the images decoded into one cache file and read from it give the figures decoded into memory
  // gave, and the second time nothing is decoded (the file is not rewritten).
  const cacheDir = path.join(tmp, 'eval-cache');
  const args = ['eval', '--run', run, '--data', testDir, '--json', '--threads', '1', '--cache-dir', cacheDir];
  assert.equal(ok(cli(...args), 'eval --cache-dir'), fs.readFileSync(saved, 'utf8'));
  const files = fs.readdirSync(cacheDir).filter((f) => f.endsWith('.u8cache'));
  assert.equal(files.length, 1);
  const written = fs.statSync(path.join(cacheDir, files[0])).mtimeMs;
  assert.equal(ok(cli(...args), 'eval --cache-dir, again'), fs.readFileSync(saved, 'utf8'));
  assert.equal(fs.statSync(path.join(cacheDir, files[0])).mtimeMs, written, 'the cache was written again');
});

test('check: bad input is one line naming what to do, exit 2', async () => {
  await ready;
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', path.join(tmp, 'none.json')), /baseline .*none\.json not found; create it .* --write-baseline/);
  oneLineError(cli('check', '--run', run, '--baseline', baseline), /exactly one of --data SOURCE .* or --evaluation FILE/);
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', baseline, '--tolerance', 'acc=0.1'), /--tolerance acc=0\.1: .* is not one of accuracy=…/);
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', baseline, '--tolerance', '5'), /--tolerance 5: a fraction below 1/);
  const broken = path.join(tmp, 'broken.json');
  fs.writeFileSync(broken, JSON.stringify({ ...JSON.parse(fs.readFileSync(baseline, 'utf8')), figures: { accuracy: 1.5 } }));
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', broken), /broken\.json: field figures\.accuracy should be a fraction in \[0, 1\]/);
  const other = path.join(tmp, 'other.json');
  fs.writeFileSync(other, JSON.stringify({ ...JSON.parse(fs.readFileSync(baseline, 'utf8')), n: 999 }));
  oneLineError(cli('check', '--run', run, '--data', testDir, '--baseline', other), /measured on 999 images .* this check on 18/);
  // a saved evaluation of another step of the run (it trained on since) is refused; one without a step is compared
  const e = JSON.parse(ok(cli('eval', '--run', run, '--data', testDir, '--json', '--threads', '1'), 'eval'));
  assert.ok(Number.isInteger(e.step) && e.step > 0, `eval --json names its step: ${e.step}`);
  const stale = path.join(tmp, 'stale.json');
  fs.writeFileSync(stale, JSON.stringify({ ...e, step: e.step - 1 }));
  oneLineError(cli('check', '--run', run, '--evaluation', stale, '--baseline', baseline),
    new RegExp(`stale\\.json was made at step ${e.step - 1} of its run, .* is at step ${e.step} .*ssmae eval --run`));
  const { step: _, ...stepless } = e;
  fs.writeFileSync(stale, JSON.stringify(stepless));
  assert.equal(cli('check', '--run', run, '--evaluation', stale, '--baseline', baseline).status, 0, 'an evaluation without a step is compared');
});

/**
 * Holds a JUnit XML document to the Ant JUnit schema (JUnit.xsd, the one Jenkins and GitLab read): <testsuites> of
 * <testsuite> with name, tests, failures, errors, time, timestamp (xs:dateTime without zone), hostname, id and
 * package, whose children are <properties>, then <testcase>s, then <system-out> and <system-err>; each <testcase>
 * has name, classname and time, and each <failure> a type. The counts must match the elements.
 */
function checkJUnit(xml: string): { failures: number; cases: { name: string; failure?: string }[] } {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => { if (level !== 'warning') errors.push(msg); } }).parseFromString(xml, 'text/xml');
  assert.deepEqual(errors, [], 'the JUnit file is not well-formed XML');
  const root = doc.documentElement!;
  assert.equal(root.nodeName, 'testsuites');
  const children = (e: Element) => Array.from(e.childNodes).filter((n) => n.nodeType === 1) as Element[];
  const suites = children(root);
  assert.equal(suites.length, 1);
  const suite = suites[0];
  assert.equal(suite.nodeName, 'testsuite');
  for (const attr of ['name', 'tests', 'failures', 'errors', 'time', 'timestamp', 'hostname', 'id', 'package']) {
    assert.ok(suite.hasAttribute(attr), `testsuite lacks the required attribute ${attr}`);
  }
  assert.match(suite.getAttribute('timestamp')!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  assert.match(suite.getAttribute('time')!, /^\d+(\.\d+)?$/);
  const kids = children(suite);
  const names = kids.map((k) => k.nodeName);
  assert.equal(names[0], 'properties');
  assert.deepEqual(names.slice(-2), ['system-out', 'system-err']);
  const cases = kids.slice(1, -2);
  assert.ok(cases.length > 0 && cases.every((c) => c.nodeName === 'testcase'), `children in schema order: ${names.join(', ')}`);
  for (const p of children(kids[0])) assert.ok(p.nodeName === 'property' && p.hasAttribute('name') && p.hasAttribute('value'));
  const out = cases.map((c) => {
    for (const attr of ['name', 'classname', 'time']) assert.ok(c.hasAttribute(attr), `testcase lacks ${attr}`);
    const f = children(c);
    assert.ok(f.length <= 1 && f.every((x) => x.nodeName === 'failure'), 'a testcase holds at most one failure here');
    if (f.length) assert.ok(f[0].hasAttribute('type') && f[0].hasAttribute('message'), 'failure lacks type or message');
    return { name: c.getAttribute('name')!, failure: f.length ? f[0].getAttribute('message')! : undefined };
  });
  const failures = out.filter((c) => c.failure).length;
  assert.equal(Number(suite.getAttribute('tests')), cases.length);
  assert.equal(Number(suite.getAttribute('failures')), failures);
  assert.equal(Number(suite.getAttribute('errors')), 0);
  assert.equal(Number(root.getAttribute('tests')), cases.length);
  assert.equal(Number(root.getAttribute('failures')), failures);
  return { failures, cases: out };
}

test('report.html in headless Chromium: no console error, no request but the file, every chart drawn, a screenshot that is not blank', async () => {
  await ready;
  const fromTrain = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
  assert.match(fromTrain, /accuracy on the validation split/, 'train --report wrote RUN/report.html on the validation split');
  ok(cli('report', '--run', run), 'report without --data');
  const bare = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
  assert.match(bare, /Make the report with --data SOURCE to see reconstructions/);
  assert.doesNotMatch(bare, /<img /);
  const html = path.join(tmp, 'report.html');
  ok(cli('report', '--run', run, '--data', testDir, '--out', html, '--threads', '1'), 'report');
  const url = pathToFileURL(html).href;
  const browser = Browser.launch(1200, 900);
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    browser.on((m) => {
      const p = m.params as Record<string, any> | undefined;
      if (m.sessionId !== page || !p) return;
      if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) problems.push(`console.${p.type}: ${JSON.stringify(p.args?.map((x: any) => x.value))}`);
      if (m.method === 'Runtime.exceptionThrown') problems.push(`exception: ${p.exceptionDetails?.text}`);
      if (m.method === 'Log.entryAdded' && p.entry?.level === 'error') problems.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`);
      if (m.method === 'Network.requestWillBeSent' && !String(p.request?.url).startsWith('data:')) requests.push(p.request.url);
    });
    const loaded = browser.waitFor('Page.loadEventFired', page);
    await browser.send('Page.navigate', { url }, page);
    await loaded;
    // The listeners work: a console error the test itself makes is seen (and then set aside).
    await browser.send('Runtime.evaluate', { expression: 'console.error("probe")' }, page);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(problems.filter((x) => x.includes('probe')).length, 1, `the console listener did not see the probe: ${problems}`);
    assert.deepEqual(problems.filter((x) => !x.includes('probe')), [], 'console errors on the page');
    assert.deepEqual(requests, [url], 'the page requested something besides itself');

    const { result } = await browser.send('Runtime.evaluate', {
      returnByValue: true,
      expression: `(() => {
        const charts = [...document.querySelectorAll('svg.chart')].map((s) => {
          const b = s.getBoundingClientRect();
          return { label: s.getAttribute('aria-label'), w: b.width, h: b.height,
            marks: s.querySelectorAll('path.series, rect.segment, rect.cell, rect.bar, circle').length,
            drawn: [...s.querySelectorAll('path.series, rect.segment, rect.cell, rect.bar')].filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 || r.height > 0; }).length };
        });
        const images = [...document.images].map((i) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.alt }));
        return { charts, images, sections: [...document.querySelectorAll('section')].map((s) => s.id), scripts: document.scripts.length,
          height: document.documentElement.scrollHeight };
      })()`,
    }, page) as { result: { value: { charts: { label: string; w: number; h: number; marks: number; drawn: number }[]; images: { ok: boolean; alt: string }[]; sections: string[]; scripts: number; height: number } } };
    const v = result.value;
    assert.deepEqual(v.sections, ['losses', 'validation', 'gate', 'pseudo', 'reconstructions', 'evaluation', 'config']);
    assert.deepEqual(v.charts.map((c) => c.label), ['loss terms over steps', 'validation accuracy and the gate threshold', 'gate timeline',
      'pseudo-label mask rate and precision', 'confusion matrix', 'accuracy per class']);
    for (const c of v.charts) assert.ok(c.w > 100 && c.h > 50 && c.marks > 0 && c.drawn > 0, `chart '${c.label}' is empty: ${JSON.stringify(c)}`);
    assert.equal(v.images.length, 8 * 3, 'eight reconstructions, three pictures each');
    assert.ok(v.images.every((i) => i.ok), 'an image did not decode');
    assert.equal(v.scripts, 0);

    const shot = await browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: 1200, height: Math.min(v.height, 4000), scale: 1 } }, page) as { data: string };
    const png = Buffer.from(shot.data, 'base64');
    fs.writeFileSync(path.join(tmp, 'report.png'), png);
    const stats = await sharp(png).stats();
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 1200);
    assert.ok(stats.channels.slice(0, 3).every((c) => c.stdev > 5), `screenshot looks blank: ${stats.channels.map((c) => c.stdev.toFixed(1))}`);
    assert.ok(stats.channels.slice(0, 3).some((c) => c.min < 100), 'screenshot has no dark pixels (no text or lines)');
  } finally {
    await browser.close();
  }
});

test('check, report and train --help teach the new options', () => {
  const help = (...args: string[]) => ok(cli(...args, '--help'), `${args.join(' ')} --help`);
  const check = help('check');
  for (const flag of ['--baseline', '--write-baseline', '--tolerance', '--junit', '--evaluation', '--data']) assert.match(check, new RegExp(`${flag}\\b`));
  assert.match(check, /gate-steps=N/);
  assert.match(help('report'), /--out[\s\S]*loads nothing/);
  assert.match(help('train'), /--report\s+at the end, write OUT\/report\.html/);
});
