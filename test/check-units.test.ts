// The pieces behind check and report, on known answers: tolerance parsing, the comparison's direction rules (only a
// fall beyond tolerance fails; a gate that opens later or never is worse), JUnit text round-tripping through an XML
// parser whatever the names hold, and the charts' tick values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import { Figures, compare, defaultTolerance, parseTolerance } from '../src/algorithm/baseline.js';
import { gateOpenedAt, pseudoLabelPrecision } from '../src/algorithm/run-figures.js';
import { junitXml } from '../src/report/junit.js';
import { niceTicks } from '../src/report/svg.js';

test('parseTolerance: one number sets the three fractions, key=value pairs set each, anything else is refused', () => {
  const d = defaultTolerance(50);
  assert.deepEqual(d, { accuracy: 0.01, perClass: 0.05, precision: 0.02, gateSteps: 50 });
  assert.deepEqual(parseTolerance(undefined, d), d);
  assert.deepEqual(parseTolerance('0.03', d), { accuracy: 0.03, perClass: 0.03, precision: 0.03, gateSteps: 50 });
  assert.deepEqual(parseTolerance('per-class=0.1,gate-steps=200', d), { accuracy: 0.01, perClass: 0.1, precision: 0.02, gateSteps: 200 });
  for (const bad of ['', 'x', '-0.1', '1', 'accuracy=2', 'acc=0.1', 'accuracy=', 'accuracy=0.1=2']) {
    assert.throws(() => parseTolerance(bad, d), /--tolerance/, bad);
  }
});

test('compare: a fall beyond tolerance regresses, within it is ok, a gain is improved; the gate is worse later or never', () => {
  const tol = { accuracy: 0.01, perClass: 0.05, precision: 0.02, gateSteps: 100 };
  const base: Figures = { accuracy: 0.8, per_class: { a: 0.9, b: 0.7 }, pseudo_precision: 0.9, gate_opened_at: 200 };
  const status = (now: Partial<Figures>) => Object.fromEntries(compare(base, { ...base, ...now }, tol).map((r) => [r.metric, r.status]));
  assert.deepEqual(status({}), { accuracy: 'ok', 'accuracy of class a': 'ok', 'accuracy of class b': 'ok', 'pseudo-label precision': 'ok', 'gate opened at step': 'ok' });
  assert.equal(status({ accuracy: 0.79 }).accuracy, 'ok', 'exactly the tolerance is allowed');
  assert.equal(status({ accuracy: 0.7899 }).accuracy, 'regressed');
  assert.equal(status({ accuracy: 0.85 }).accuracy, 'improved');
  assert.equal(status({ per_class: { a: 0.84, b: 0.7 } })['accuracy of class a'], 'regressed');
  assert.equal(status({ per_class: { a: 0.86, b: 0.7 } })['accuracy of class a'], 'ok');
  assert.equal(status({ pseudo_precision: null })['pseudo-label precision'], 'regressed', 'measured before, not now');
  assert.equal(status({ gate_opened_at: 300 })['gate opened at step'], 'ok');
  assert.equal(status({ gate_opened_at: 301 })['gate opened at step'], 'regressed');
  assert.equal(status({ gate_opened_at: null })['gate opened at step'], 'regressed');
  assert.equal(status({ gate_opened_at: 50 })['gate opened at step'], 'improved');
  const never = compare({ ...base, gate_opened_at: null, pseudo_precision: null }, { ...base, gate_opened_at: null, pseudo_precision: null }, tol);
  assert.deepEqual(never.slice(-2).map((r) => r.status), ['not measured', 'ok']);
});

test('run figures: the gate opens at the first changed-and-open decision; precision is weighted by mask rate over open intervals', () => {
  assert.equal(gateOpenedAt([{ step: 10, value: 0.2, open: false, changed: false, reason: '' }, { step: 20, value: 0.6, open: true, changed: true, reason: '' },
    { step: 30, value: 0.7, open: true, changed: false, reason: '' }]), 20);
  assert.equal(gateOpenedAt([]), null);
  const rows = [
    { step: 10, 'gate/open': 0, 'train/pseudo_mask_rate': 0, 'train/pseudo_precision': null },
    { step: 20, 'gate/open': 1, 'train/pseudo_mask_rate': 0.25, 'train/pseudo_precision': 0.6 },
    { step: 30, 'gate/open': 1, 'train/pseudo_mask_rate': 0.75, 'train/pseudo_precision': 1 },
  ];
  const p = pseudoLabelPrecision(rows);
  assert.ok(Math.abs(p.precision! - (0.25 * 0.6 + 0.75 * 1) / 1) < 1e-12);
  assert.equal(p.maskRate, 0.5);
  assert.deepEqual(pseudoLabelPrecision(rows.slice(0, 1)), { precision: null, maskRate: null });
});

test('junitXml: names and messages with markup, quotes, newlines and control characters come back intact from an XML parser', () => {
  const name = 'accuracy of class <a & "b"> \'c\'\tné';
  const message = 'line 1\nline 2 < 3 && "x"';
  const xml = junitXml({ name: 'suite & co', classname: 'ssmae.check', time: 1.5, properties: { 'data': 'dir/<x>' },
    cases: [{ name: `${name}\u0001`, failure: { message, body: 'a\n<b>\n' } }, { name: 'plain' }], out: 'out & about' });
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (l, m) => { if (l !== 'warning') errors.push(m); } }).parseFromString(xml, 'text/xml');
  assert.deepEqual(errors, []);
  const cases = doc.getElementsByTagName('testcase');
  assert.equal(cases.length, 2);
  assert.equal(cases[0].getAttribute('name'), name, 'the control character is dropped, the rest kept');
  const failure = cases[0].getElementsByTagName('failure')[0];
  assert.equal(failure.getAttribute('message'), message);
  assert.equal(failure.textContent, 'a\n<b>\n');
  assert.equal(doc.getElementsByTagName('property')[0].getAttribute('value'), 'dir/<x>');
  assert.equal(doc.getElementsByTagName('system-out')[0].textContent, 'out & about');
  assert.equal(doc.documentElement!.getAttribute('failures'), '1');
});

test('niceTicks: steps of 1, 2 or 5 × 10^k covering the range', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 800, 6), [0, 200, 400, 600, 800]);
  assert.deepEqual(niceTicks(0, 3600, 6), [0, 1000, 2000, 3000]);
  assert.deepEqual(niceTicks(0, 30, 6), [0, 5, 10, 15, 20, 25, 30]);
  assert.deepEqual(niceTicks(0.3, 2.7), [0.5, 1, 1.5, 2, 2.5]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});
