// Small helpers the timing benchmarks share.

/** The median of xs (the mean of the two middle values when their number is even). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
