// Learning rate: linear warmup to the peak, then cosine decay to minLr at the last step (MAE's schedule).

export interface LrSchedule { peak: number; warmupSteps: number; totalSteps: number; minLr: number }

export function learningRate(s: LrSchedule, step: number): number {
  if (step <= s.warmupSteps) return (s.peak * step) / Math.max(1, s.warmupSteps);
  const t = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  return s.minLr + (s.peak - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
}
