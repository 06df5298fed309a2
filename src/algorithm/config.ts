// The training configuration in layers — defaults, then a JSON file, then flags — validated strictly: an unknown
// key or a wrong type is an error, not a silent default. The resolved whole is saved in every run and checkpoint.
import fs from 'node:fs';
import { UsageError } from '../artifacts/files.js';
import { Device, DEVICES } from '../runtime/session.js';
import { GATE_DEFAULTS, GATE_METRICS, GateConfig } from './gate.js';
import { THRESHOLD_MODES, ThresholdMode } from './thresholds.js';

export type Method = 'ssmae' | 'no-gate' | 'labels-only' | 'mae-finetune';
export const METHODS: readonly Method[] = ['ssmae', 'no-gate', 'labels-only', 'mae-finetune'];

export interface TrainConfig {
  artifacts: string;
  labeled: string;
  unlabeled: string | null;   // null: the rest of the labeled source (after --labels-per-class) is the unlabeled set
  labelsPerClass: number | null; // null: every labeled image keeps its label
  valPerClass: number;
  out: string;
  method: Method;
  steps: number;
  pretrainSteps: number | null; // mae-finetune: steps 1..N reconstruct only, the rest fine-tune on the labels
  device: Device;
  threads: number | null;
  seed: number;
  lr: number;          // peak learning rate (after warmup)
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  clipNorm: number;
  emaDecay: number;
  teacher: 'ema' | 'student';
  tau: number;
  threshold: ThresholdMode; // how τ is set per class (thresholds.ts)
  thresholdMomentum: number; // freematch's EMA factor
  agree: boolean;
  distAlign: boolean;  // distribution alignment of the teacher's predictions (ReMixMatch)
  lambdaRec: number;
  lambdaL: number;
  lambdaU: number;
  labelSmoothing: number; // ε of the labeled cross-entropy's smoothed targets
  cutmix: number;      // probability that a labeled image gets a CutMix box from another (0: off)
  // ssmae, no-gate: after each joint step, this many steps on the labels alone (schedule.ts). Methods without joint
  // steps take it without effect, so that one recipe serves every method of a comparison.
  labeledSteps: number;
  // Share of the labeled batch of those steps taken by replayed pseudo-labels (replay.ts); 0: off.
  pseudoReplay: number;
  gate: GateConfig;
  skipClosed: boolean;  // joint steps with the gate closed run gate_closed_step.onnx (no teacher, no strong views)
  flip: boolean;       // horizontal flips in augmentation (off for digits and text)
  cropPad: number | null; // pixels of pad-and-random-crop in the weak view; null: 1/8 of the image side
  evalEvery: number;
  logEvery: number;
  checkpointEvery: number;
  keepBest: boolean;   // write the weights of the best evaluation so far to OUT/best.safetensors (best.ts)
  cacheDir: string | null;
}

// Defaults, each with why.
export const TRAIN_DEFAULTS: Omit<TrainConfig, 'artifacts' | 'labeled' | 'out'> = {
  unlabeled: null,
  labelsPerClass: null,
  valPerClass: 10,       // enough to rank the gate's decision, few enough to leave labels for training
  method: 'ssmae',
  steps: 1000,
  // mae-finetune only; null = half of --steps. An even split gives the label-efficiency comparison (labels-only,
  // mae-finetune, no-gate, ssmae at the same number of steps) one pre-training and one fine-tuning budget of the same
  // size, without a second number to tune. Resuming a run needs the same N: it is saved in config.json.
  pretrainSteps: null,
  device: 'cpu',
  threads: null,         // = cores
  seed: 0,
  lr: 1e-3,              // small ViTs from scratch train well at 1e-3 with AdamW and warmup
  minLr: 1e-5,
  warmupSteps: 50,
  weightDecay: 0.05,     // MAE / DeiT
  clipNorm: 1.0,
  emaDecay: 0.99,        // a time constant of ~100 steps: the teacher follows within a short CPU run
  teacher: 'ema',
  tau: 0.95,             // FixMatch's confidence threshold
  threshold: 'fixed',    // the same τ for every class, as before
  // FreeMatch's paper uses 0.999 over 2^20 steps; runs here are thousands of steps, so a ~100-step time constant
  thresholdMomentum: 0.99,
  agree: false,
  distAlign: true,       // rescales pseudo-label probabilities toward a uniform class prior; off: --no-dist-align
  lambdaRec: 1,
  lambdaL: 1,
  lambdaU: 1,
  labelSmoothing: 0,     // off, as before; 0.1 is the small-data ViTs' usual value (DeiT, CCT)
  cutmix: 0,             // off, as before
  // 0: every step joint, as before. A labels-only step costs ~1/7 of an open joint step on the CPU, so a run with a
  // fixed wall time can give the classifier more updates on the labels between its joint steps.
  labeledSteps: 0,
  pseudoReplay: 0,       // off, as before
  gate: GATE_DEFAULTS,
  skipClosed: true,      // the same training up to rounding (docs/BENCHMARKS.md), ~2x faster steps until the gate opens
  flip: false,
  cropPad: null,
  evalEvery: 50,
  logEvery: 10,
  checkpointEvery: 100,
  keepBest: false,       // off, as before: the last step's weights are what eval and pseudo-label use
  cacheDir: null,        // = <out>/../.cache or the run's own folder
};

type Raw = Record<string, unknown>;

function checkType(key: string, value: unknown, def: unknown, where: string): void {
  const expected = def === null ? null : typeof def;
  if (expected === null) return; // nullable fields accept their non-null type; checked in validate()
  if (typeof value !== expected) throw new UsageError(`${where}: '${key}' must be a ${expected}, got ${JSON.stringify(value)}`);
}

/** Merges `layer` into `base`, rejecting unknown keys and wrong types. */
export function mergeLayer<T extends object>(base: T, layer: Raw, where: string): T {
  const out: Raw = { ...(base as Raw) };
  for (const [k, v] of Object.entries(layer)) {
    if (v === undefined) continue;
    if (!(k in out)) throw new UsageError(`${where}: unknown key '${k}'; known keys: ${Object.keys(out).join(', ')}`);
    const d = out[k];
    if (d !== null && typeof d === 'object' && !Array.isArray(d)) {
      if (typeof v !== 'object' || v === null) throw new UsageError(`${where}: '${k}' must be an object`);
      out[k] = mergeLayer(d as Raw, v as Raw, `${where}.${k}`);
    } else {
      if (v !== null) checkType(k, v, d, where);
      out[k] = v;
    }
  }
  return out as T;
}

export function loadConfigFile(file: string): Raw {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Raw;
  } catch (e) {
    throw new UsageError(`cannot read --config ${file}: ${(e as Error).message}`);
  }
}

/** Applies a method's fixed settings (the ablations are the same loop with some terms switched off). */
function applyMethod(c: TrainConfig): TrainConfig {
  switch (c.method) {
    case 'ssmae': return c;
    case 'no-gate': return { ...c, gate: { ...c.gate, alwaysOpen: true } };
    case 'labels-only': return { ...c, lambdaRec: 0, lambdaU: 0 };
    // Reconstruction, then the labels (the trainer switches the terms by step); never pseudo-labels.
    case 'mae-finetune': return { ...c, lambdaU: 0, pretrainSteps: c.pretrainSteps ?? Math.floor(c.steps / 2) };
    default: return c; // an unknown method: validate() says which ones there are
  }
}

/** A flag that must be a positive integer (steps, intervals, counts, threads). */
export function posInt(v: number, flag: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${flag} must be a positive integer, got ${v}`);
}

export function validate(c: TrainConfig): TrainConfig {
  const bad = (msg: string): never => { throw new UsageError(msg); };
  const nonNeg = (v: number, flag: string) => { if (!(Number.isFinite(v) && v >= 0)) bad(`${flag} must be ≥ 0, got ${v}`); };
  posInt(c.steps, '--steps');
  posInt(c.evalEvery, '--eval-every');
  posInt(c.logEvery, '--log-every');
  posInt(c.checkpointEvery, '--checkpoint-every');
  posInt(c.valPerClass, '--val-per-class');
  if (c.labelsPerClass !== null) posInt(c.labelsPerClass, '--labels-per-class');
  if (c.threads !== null) posInt(c.threads, '--threads');
  if (c.cropPad !== null && !(Number.isInteger(c.cropPad) && c.cropPad >= 0)) bad(`--crop-pad must be an integer ≥ 0, got ${c.cropPad}`);
  if (!METHODS.includes(c.method)) bad(`--method must be one of ${METHODS.join(', ')}, got ${c.method}`);
  if (c.pretrainSteps !== null) {
    if (c.method !== 'mae-finetune') bad(`--pretrain-steps is for --method mae-finetune only, not ${c.method}`);
    if (!(Number.isInteger(c.pretrainSteps) && c.pretrainSteps >= 0)) bad(`--pretrain-steps must be an integer ≥ 0, got ${c.pretrainSteps}`);
  }
  if (!(Number.isInteger(c.labeledSteps) && c.labeledSteps >= 0)) bad(`--labeled-steps must be an integer ≥ 0, got ${c.labeledSteps}`);
  if (!(c.pseudoReplay >= 0 && c.pseudoReplay < 1)) bad(`--pseudo-replay must be a share in [0, 1), got ${c.pseudoReplay}`);
  if (c.pseudoReplay > 0 && c.labeledSteps === 0 && (c.method === 'ssmae' || c.method === 'no-gate')) {
    bad(`--pseudo-replay ${c.pseudoReplay} fills part of the steps on the labels between joint steps, and --labeled-steps 0 takes none; pass --labeled-steps N (N ≥ 1) with it`);
  }
  if (!DEVICES.includes(c.device)) bad(`--device must be one of ${DEVICES.join(', ')}, got ${c.device}`);
  if (!['ema', 'student'].includes(c.teacher)) bad(`--teacher must be ema or student, got ${c.teacher}`);
  if (!(c.lr > 0)) bad(`--lr must be > 0, got ${c.lr}`);
  for (const [v, f] of [[c.minLr, '--min-lr'], [c.weightDecay, '--weight-decay'], [c.lambdaRec, '--lambda-rec'],
    [c.lambdaL, '--lambda-l'], [c.lambdaU, '--lambda-u'], [c.warmupSteps, '--warmup-steps']] as const) nonNeg(v, f);
  if (!(c.clipNorm > 0)) bad(`--clip-norm must be > 0, got ${c.clipNorm}`);
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) bad(`--ema-decay must be in [0, 1), got ${c.emaDecay}`);
  if (!(c.labelSmoothing >= 0 && c.labelSmoothing < 1)) bad(`--label-smoothing must be in [0, 1), got ${c.labelSmoothing}`);
  if (!(c.cutmix >= 0 && c.cutmix <= 1)) bad(`--cutmix must be a probability in [0, 1], got ${c.cutmix}`);
  if (!(c.tau >= 0 && c.tau <= 1)) bad(`--tau must be in [0, 1], got ${c.tau}`);
  if (!THRESHOLD_MODES.includes(c.threshold)) bad(`--threshold must be one of ${THRESHOLD_MODES.join(', ')}, got ${c.threshold}`);
  if (!(c.thresholdMomentum >= 0 && c.thresholdMomentum < 1)) bad(`--threshold-momentum must be in [0, 1), got ${c.thresholdMomentum}`);
  if (!(c.gate.threshold >= 0 && c.gate.threshold <= 1)) bad(`--gate-threshold must be in [0, 1], got ${c.gate.threshold}`);
  posInt(c.gate.patience, '--gate-patience');
  if (!GATE_METRICS.includes(c.gate.metric)) bad(`--gate-metric must be one of ${GATE_METRICS.join(', ')}, got ${c.gate.metric}`);
  if (!(c.gate.confidence > 0 && c.gate.confidence <= 1)) bad(`--gate-confidence must be in (0, 1], got ${c.gate.confidence}`);
  posInt(c.gate.minConfident, '--gate-min-confident');
  if (!(Number.isInteger(c.gate.minStep) && c.gate.minStep >= 0)) bad(`--gate-min-step must be an integer ≥ 0, got ${c.gate.minStep}`);
  return c;
}

export function resolveConfig(flags: Raw, file?: string): TrainConfig {
  let c = { ...TRAIN_DEFAULTS, artifacts: '', labeled: '', out: '' } as TrainConfig;
  if (file) c = mergeLayer(c, loadConfigFile(file), file);
  c = mergeLayer(c, flags, 'flags');
  return validate(applyMethod(c));
}
