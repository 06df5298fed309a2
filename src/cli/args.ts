// Command-line arguments before yargs sees them.

/**
 * Keeps only the last occurrence of each `--flag` (with its value), so a flag given twice takes its last value.
 * yargs cannot be left to do this: its parser adds 1 to a number option given again as `1` (`--steps 2400 --steps 1`
 * reads 2400 + 1), whatever its duplicate-arguments setting. `--x=v`, `--x v`, `--no-x` and `--camelCase` spellings
 * of one option count as the same flag; a token after `--x` that does not start with `--` is its value (negative
 * numbers included); everything from a bare `--` on is left as it is.
 */
export function lastFlagWins(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  const groups: { key: string | null; tokens: string[] }[] = [];
  for (let i = 0; i < head.length; i++) {
    const t = head[i];
    if (!t.startsWith('--') || t.length === 2) {
      groups.push({ key: null, tokens: [t] });
      continue;
    }
    const name = t.slice(2).split('=')[0];
    const key = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^no-/, '');
    const tokens = [t];
    if (!t.includes('=') && i + 1 < head.length && !head[i + 1].startsWith('--')) tokens.push(head[++i]);
    groups.push({ key, tokens });
  }
  const last = new Map<string, number>();
  groups.forEach((g, i) => g.key !== null && last.set(g.key, i));
  const kept = groups.filter((g, i) => g.key === null || last.get(g.key) === i).flatMap((g) => g.tokens);
  return end < 0 ? kept : [...kept, ...args.slice(end)];
}
