// What each step trains and at what learning rate. Both are pure functions of the config and the step, so a run
// resumed at any step — across mae-finetune's phase boundary too — takes exactly the steps of one that never stopped.
import type { TrainConfig } from './config.js';

/**
 * joint: the SSMAE objective, rec + λl·ceL + λu·ceU with pseudo-labels held back by the gate (ssmae, no-gate);
 * reconstruct: masked reconstruction alone, so the classifier head gets no gradient (mae-finetune's pre-training);
 * supervised: cross-entropy on the labels alone (labels-only, and mae-finetune's fine-tuning).
 */
export type Phase = 'joint' | 'reconstruct' | 'supervised';

/**
 * The phase of step t (1 for the first step). With --labeled-steps N, ssmae and no-gate take N supervised steps
 * after each joint step: steps 1, N+2, 2N+3, … are joint.
 */
export function phaseOf(c: TrainConfig, t: number): Phase {
  switch (c.method) {
    case 'ssmae': case 'no-gate': return (t - 1) % (c.labeledSteps + 1) === 0 ? 'joint' : 'supervised';
    case 'labels-only': return 'supervised';
    case 'mae-finetune': return t <= (c.pretrainSteps as number) ? 'reconstruct' : 'supervised';
  }
}

/** Whether the method has joint steps, and so a gate that decides on pseudo-labels (at every evaluation). */
export function hasJointSteps(c: TrainConfig): boolean {
  return c.method === 'ssmae' || c.method === 'no-gate';
}

/**
 * Whether steps t and t+1 belong to different segments of the schedule (mae-finetune's pre-training and fine-tuning).
 * The supervised steps that --labeled-steps interleaves with joint steps are one segment with them.
 */
export function segmentEnds(c: TrainConfig, t: number): boolean {
  return c.method === 'mae-finetune' && phaseOf(c, t) !== phaseOf(c, t + 1);
}

/** The loss weights a phase feeds to train_step.onnx (supervised_step.onnx has only its cross-entropy). */
export function lossWeights(c: TrainConfig, phase: Phase): { rec: number; l: number; u: number } {
  switch (phase) {
    case 'joint': return { rec: c.lambdaRec, l: c.lambdaL, u: c.lambdaU };
    case 'reconstruct': return { rec: c.lambdaRec, l: 0, u: 0 };
    case 'supervised': return { rec: 0, l: c.lambdaL, u: 0 };
  }
}

// Learning rate: linear warmup to the peak, then cosine decay to minLr at the last step (MAE's schedule).

export interface LrSchedule { peak: number; warmupSteps: number; totalSteps: number; minLr: number }

export function learningRate(s: LrSchedule, step: number): number {
  if (step <= s.warmupSteps) return (s.peak * step) / Math.max(1, s.warmupSteps);
  const t = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  return s.minLr + (s.peak - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/**
 * The learning rate of step t: one warmup + cosine over the run; for mae-finetune one per phase — pre-training over
 * steps 1..N, then fine-tuning over N+1..steps from a fresh warmup — as MAE pre-trains and then fine-tunes, so the
 * fine-tuning does not start at the tail of the pre-training's decay. Both phases use --lr, --min-lr, --warmup-steps.
 */
export function learningRateAt(c: TrainConfig, t: number): number {
  const s = { peak: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps };
  if (c.method !== 'mae-finetune') return learningRate({ ...s, totalSteps: c.steps }, t);
  const n = c.pretrainSteps as number;
  return t <= n ? learningRate({ ...s, totalSteps: n }, t) : learningRate({ ...s, totalSteps: c.steps - n }, t - n);
}
