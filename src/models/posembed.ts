// Position tables: MAE's fixed 2-D sine-cosine table (get_2d_sincos_pos_embed), and the 2-D bicubic resampling MAE's
// fine-tuning uses to move a learned table to another grid (interpolate_pos_embed: torch's bicubic, A = −0.75,
// align_corners=False). Plain arrays, row-major [rows, D]; no graph.

/**
 * MAE's table for a g×g grid of width D (a multiple of 4), as get_2d_sincos_pos_embed: the first half of the channels
 * encodes the patch's column, the second half its row, each as [sin, cos] at D/4 frequencies 1/10000^(i/(D/4)).
 * With `cls`, a zero row comes first (the CLS token's). Computed in float64, as numpy does.
 */
export function maeSincos2d(g: number, D: number, cls: boolean): Float64Array {
  return sincosGrid(g, D, 'column', cls ? 1 : 0);
}

/**
 * A 2-D sine-cosine table for a g×g grid of width D (a multiple of 4), after `lead` zero rows: the first half of the
 * channels encodes the `first` coordinate, the second half the other, each as [sin, cos] at D/4 frequencies
 * 1/10000^(i/(D/4)). MAE's own table puts the column first; ssmae's learned tables start from the row-first one.
 */
export function sincosGrid(g: number, D: number, first: 'row' | 'column', lead = 0): Float64Array {
  if (D % 4 !== 0) throw new Error(`a sine-cosine table needs a width divisible by 4, got ${D}`);
  const q = D / 4;
  const out = new Float64Array((g * g + lead) * D);
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      const row = out.subarray((lead + r * g + c) * D, (lead + r * g + c + 1) * D);
      const [a, b] = first === 'row' ? [r, c] : [c, r];
      for (let i = 0; i < q; i++) {
        const omega = 1 / 10000 ** (i / q);
        row[i] = Math.sin(a * omega);
        row[q + i] = Math.cos(a * omega);
        row[2 * q + i] = Math.sin(b * omega);
        row[3 * q + i] = Math.cos(b * omega);
      }
    }
  }
  return out;
}

/** Largest |a − b| over two tables of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function cubic1(x: number, A: number): number { return ((A + 2) * x - (A + 3)) * x * x + 1; }
function cubic2(x: number, A: number): number { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

/** torch's bicubic taps along one axis for output index o: the four source indices (clamped) and their weights. */
function taps(o: number, inSize: number, outSize: number): { idx: number[]; w: number[] } {
  const A = -0.75;
  const real = (o + 0.5) * (inSize / outSize) - 0.5;
  const i0 = Math.floor(real);
  const t = real - i0;
  const w = [cubic2(t + 1, A), cubic1(t, A), cubic1(1 - t, A), cubic2(2 - t, A)];
  const idx = [-1, 0, 1, 2].map((k) => Math.min(inSize - 1, Math.max(0, i0 + k)));
  return { idx, w };
}

/**
 * Resamples a table of g×g rows (width D, row-major grid) to n×n rows with torch.nn.functional.interpolate(...,
 * mode='bicubic', align_corners=False), channel by channel.
 */
export function bicubicResize(table: ArrayLike<number>, g: number, n: number, D: number): Float64Array {
  const out = new Float64Array(n * n * D);
  const tx = Array.from({ length: n }, (_, o) => taps(o, g, n));
  for (let oy = 0; oy < n; oy++) {
    const ty = tx[oy];
    for (let ox = 0; ox < n; ox++) {
      const t = tx[ox];
      const dst = (oy * n + ox) * D;
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let a = 0; a < 4; a++) {
          let row = 0;
          for (let b = 0; b < 4; b++) row += t.w[b] * table[(ty.idx[a] * g + t.idx[b]) * D + d];
          acc += ty.w[a] * row;
        }
        out[dst + d] = acc;
      }
    }
  }
  return out;
}

/**
 * A position table (optionally with a leading CLS row) moved from a g×g to an n×n grid. `how`: 'sincos' recomputes
 * MAE's table at the new grid (what MAE does for its fixed tables; the CLS row is kept as it is); 'bicubic'
 * resamples the patch rows (MAE's interpolate_pos_embed, for tables that were trained).
 */
export function resizePosTable(table: ArrayLike<number>, g: number, n: number, D: number, cls: boolean,
  how: 'sincos' | 'bicubic'): Float64Array {
  const off = cls ? 1 : 0;
  const patches = Array.prototype.slice.call(table, off * D) as number[];
  const moved = how === 'sincos' ? maeSincos2d(n, D, false) : bicubicResize(patches, g, n, D);
  const out = new Float64Array((off + n * n) * D);
  for (let i = 0; i < off * D; i++) out[i] = table[i];
  out.set(moved, off * D);
  return out;
}
