// Progress of image decoding for the commands that load sources: a live counter on a terminal, a line per 10%
// otherwise (CI logs), nothing for loads that finish at once (cache hits).
export function decodeProgress(what: string): (done: number, total: number) => void {
  const tty = process.stderr.isTTY;
  const start = Date.now();
  let lastDecile = -1;
  return (done, total) => {
    if (Date.now() - start < 2000 && done < total) return;
    if (tty) {
      process.stderr.write(`\rdecoding ${what}: ${done}/${total}${done === total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor((10 * done) / Math.max(total, 1));
    if (decile !== lastDecile && Date.now() - start >= 2000) {
      lastDecile = decile;
      process.stderr.write(`decoding ${what}: ${done}/${total}\n`);
    }
  };
}
