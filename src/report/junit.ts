// JUnit XML for `ssmae check`, in the shape the CI systems read: GitHub Actions (through a JUnit reporter action),
// GitLab (artifacts:reports:junit) and Jenkins (the junit step). It follows the Ant JUnit schema (JUnit.xsd, the
// one Jenkins' and GitLab's parsers derive from), which is the strictest of them: <testsuites> holds <testsuite>
// elements with name, tests, failures, errors, time, timestamp, hostname, id and package, each with <properties>,
// <testcase name classname time> (a <failure message type> when a figure regressed), <system-out> and <system-err>.
import os from 'node:os';
import { xmlEscape } from './xml.js';

export interface JUnitCase {
  name: string;
  /** Failure message (one line) and body; absent when the case passed. */
  failure?: { message: string; body: string };
  time?: number;
}

export interface JUnitSuite {
  name: string;
  /** Dotted name CI systems group by (e.g. ssmae.check). */
  classname: string;
  cases: JUnitCase[];
  properties?: Record<string, string>;
  out?: string;
  time: number;
  timestamp?: Date;
}

const text = (s: string) => xmlEscape(s).replace(/&#10;/g, '\n').replace(/&#9;/g, '\t');

export function junitXml(suite: JUnitSuite): string {
  const a = (s: string) => xmlEscape(s);
  const failures = suite.cases.filter((c) => c.failure).length;
  // xs:dateTime without a zone, as the schema's pattern requires.
  const timestamp = (suite.timestamp ?? new Date()).toISOString().slice(0, 19);
  const secs = (t: number) => t.toFixed(3);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${a(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="0" time="${secs(suite.time)}">`,
    `  <testsuite name="${a(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="0" skipped="0" ` +
      `time="${secs(suite.time)}" timestamp="${timestamp}" hostname="${a(os.hostname() || 'localhost')}" id="0" package="${a(suite.classname)}">`,
    '    <properties>',
    ...Object.entries(suite.properties ?? {}).map(([k, v]) => `      <property name="${a(k)}" value="${a(v)}"/>`),
    '    </properties>',
  ];
  for (const c of suite.cases) {
    const open = `    <testcase name="${a(c.name)}" classname="${a(suite.classname)}" time="${secs(c.time ?? 0)}"`;
    if (!c.failure) {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`, `      <failure message="${a(c.failure.message)}" type="regression">${text(c.failure.body)}</failure>`, '    </testcase>');
  }
  lines.push(`    <system-out>${text(suite.out ?? '')}</system-out>`, '    <system-err></system-err>', '  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
