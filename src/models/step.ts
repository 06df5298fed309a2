// The SSMAE training step as one graph body (DESIGN.md, "The SSMAE step"):
//   1. the teacher classifies the weak views of the unlabeled images;
//   2. the policy inputs (gate open, τ, agreement) turn its confidences into pseudo-label weights;
//   3. the student reconstructs hidden patches of labeled + unlabeled images and classifies labeled images and the
//      strong views of unlabeled ones: loss = λrec·rec + λl·ceL + λu·ceU;
//   4. backward, global-norm clipping, AdamW, EMA of the teacher.
// The body is a function of handles, so the same code builds a one-step graph or the body of an ONNX Loop.
import { gradients } from '../autodiff/index.js';
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { LabeledTargets, accuracy, crossEntropyPerExample, maskedCrossEntropy, mixedCrossEntropy } from './losses.js';
import { adamwFlat, emaUpdate } from './optim.js';
import { ParamSet, ParamSpec, paramInputs } from './params.js';
import { ModelConfig, arch, keepCount, numPatches } from './presets.js';
import { BuildOptions, Masking, classify, reconstructionLoss } from './vit.js';

export interface StepShapes {
  labeledBatch: number;   // Bl
  unlabeledBatch: number; // Bu
  /** Strong views the student classifies per step, S ≤ Bu (default Bu: all of them); see lossTerms. */
  strongCapacity?: number;
}

export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** One batch of the SSMAE step; images are uint8 [B, C, H, W]. labels, labelsMix, mixWeight: see LabeledTargets. */
export interface StepBatch extends LabeledTargets {
  labeledImages: Tensor;  // uint8 [Bl, C, H, W]
  weakImages: Tensor;     // uint8 [Bu, C, H, W]
  strongImages: Tensor;   // uint8 [Bu, C, H, W]
  masking?: Masking;      // over the Bl + Bu images of the reconstruction task (absent: pseudo_step, no reconstruction)
  /** Stochastic depth of the student's classification pass (labeled, then strong views): [depth, 2, Bl+Bu]. */
  dropPath?: Tensor;
  /** S: classify only the S strong views most likely to carry a pseudo-label (StepShapes.strongCapacity). */
  strongCapacity?: number;
}

/** The stochastic-depth input [depth, 2, N] of a graph whose student classifies N images; none when the model has no drop path. */
export function dropPathInput(g: Graph, cfg: ModelConfig, n: number, shape: number[] = [cfg.preset.depth, 2, n]): Tensor | undefined {
  if (arch(cfg.preset).dropPath === 0) return undefined;
  return g.input('drop_path', cfg.dtype, shape,
    "stochastic depth: per encoder block, branch (attention, MLP) and classified image, 0 (dropped) or 1/keep-probability");
}

/** Scalars that TypeScript decides between runs: the pseudo-label policy and the loss weights. */
export interface StepPolicy {
  gateOpen: Tensor;   // 1 or 0: pseudo-labels are used only when the gate is open
  tau: Tensor;        // [K] confidence threshold per class (fixed τ: the same value K times)
  daRatio: Tensor;    // [K] distribution alignment: teacher probabilities are multiplied by this and renormalized (ones: off)
  agree: Tensor;      // 1: also require the student's strong-view prediction to match the pseudo-label
  lambdaRec?: Tensor;     // absent with the masking: no reconstruction term
  lambdaL: Tensor;
  lambdaU: Tensor;
  labelSmoothing: Tensor; // ε of the labeled cross-entropy's smoothed targets (0: plain cross-entropy)
}

export interface LossTerms {
  loss: Tensor; rec: Tensor; ceL: Tensor; ceU: Tensor;
  maskRate: Tensor; accL: Tensor;
  pseudoLabel: Tensor;  // int64 [Bu]
  pseudoConf: Tensor;   // [Bu]
  pseudoWeight: Tensor; // [Bu] 1 where the pseudo-label was used
  teacherMean: Tensor;  // [K] mean teacher probabilities over the unlabeled batch, before alignment
}

/**
 * The labeled targets as graph inputs: labels, and CutMix's second label and share per image (labels_mix,
 * mix_weight; all-zero weights: no mixing). `stack` K: stacked per step on a leading axis, for a chunk.
 */
export function labeledTargetInputs(g: Graph, dt: FloatDType, bl: number, stack?: number): LabeledTargets {
  const k = stack === undefined ? [] : [stack];
  const per = stack === undefined ? '' : ' per step';
  return {
    labels: g.input('labels', 'int64', [...k, bl], `class index of each labeled image${per}`),
    labelsMix: g.input('labels_mix', 'int64', [...k, bl], `CutMix: class of the image pasted into each labeled image${per} (any class where mix_weight is 0)`),
    mixWeight: g.input('mix_weight', dt, [...k, bl], `CutMix: share of each labeled image's pixels pasted from the labels_mix image${per}; target (1 − w)·y + w·y′ (0: not mixed)`),
  };
}

/** train_step.onnx's inputs; `reconstruction` false leaves out the masking and lambda_rec (pseudo_step.onnx). */
export function stepInputs(g: Graph, cfg: ModelConfig, shapes: StepShapes, reconstruction = true): { batch: StepBatch; policy: StepPolicy } {
  const { labeledBatch: bl, unlabeledBatch: bu } = shapes;
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const b = bl + bu;
  const dt = cfg.dtype;
  const scalar = (name: string, doc: string) => g.input(name, dt, [], doc);
  return {
    batch: {
      labeledImages: g.input('images_labeled', 'uint8', [bl, ...img], 'labeled images, uint8 NCHW'),
      ...labeledTargetInputs(g, dt, bl),
      weakImages: g.input('images_weak', 'uint8', [bu, ...img], 'weak views of the unlabeled images (teacher, reconstruction)'),
      strongImages: g.input('images_strong', 'uint8', [bu, ...img], 'strong views of the same unlabeled images (student)'),
      masking: reconstruction ? {
        idsKeep: g.input('ids_keep', 'int64', [b, keepCount(cfg)], 'visible patch indices per image (labeled first, then unlabeled)'),
        idsRestore: g.input('ids_restore', 'int64', [b, numPatches(cfg)], 'inverse of the patch shuffle'),
        mask: g.input('mask', dt, [b, numPatches(cfg)], '1 where a patch is hidden'),
      } : undefined,
      dropPath: dropPathInput(g, cfg, b),
      strongCapacity: shapes.strongCapacity,
    },
    policy: {
      gateOpen: scalar('gate_open', '1 when the validation gate is open, else 0'),
      tau: g.input('tau', dt, [cfg.classes], 'confidence threshold per class: a pseudo-label of class c needs confidence ≥ tau[c]'),
      daRatio: g.input('da_ratio', dt, [cfg.classes], 'distribution alignment: target class prior / running mean of teacher predictions (ones: off)'),
      agree: scalar('agree', '1 to require weak/strong agreement for a pseudo-label'),
      lambdaRec: reconstruction ? scalar('lambda_rec', 'weight of the reconstruction loss') : undefined,
      lambdaL: scalar('lambda_l', 'weight of the labeled cross-entropy'),
      lambdaU: scalar('lambda_u', 'weight of the pseudo-label cross-entropy'),
      labelSmoothing: labelSmoothingInput(g, dt),
    },
  };
}

/** The inputs of gate_closed_step.onnx: those of train_step.onnx without the strong views and the selection policy. */
export function closedStepInputs(g: Graph, cfg: ModelConfig, shapes: StepShapes): { batch: ClosedBatch; policy: ClosedPolicy } {
  const { labeledBatch: bl, unlabeledBatch: bu } = shapes;
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const b = bl + bu;
  const dt = cfg.dtype;
  return {
    batch: {
      labeledImages: g.input('images_labeled', 'uint8', [bl, ...img], 'labeled images, uint8 NCHW'),
      ...labeledTargetInputs(g, dt, bl),
      weakImages: g.input('images_weak', 'uint8', [bu, ...img], 'weak views of the unlabeled images (reconstruction)'),
      masking: {
        idsKeep: g.input('ids_keep', 'int64', [b, keepCount(cfg)], 'visible patch indices per image (labeled first, then unlabeled)'),
        idsRestore: g.input('ids_restore', 'int64', [b, numPatches(cfg)], 'inverse of the patch shuffle'),
        mask: g.input('mask', dt, [b, numPatches(cfg)], '1 where a patch is hidden'),
      },
    },
    policy: {
      lambdaRec: g.input('lambda_rec', dt, [], 'weight of the reconstruction loss'),
      lambdaL: g.input('lambda_l', dt, [], 'weight of the labeled cross-entropy'),
      labelSmoothing: labelSmoothingInput(g, dt),
    },
  };
}

/** The scalar input ε of the labeled cross-entropy's label smoothing; shared by every step and chunk graph. */
export function labelSmoothingInput(g: Graph, dt: FloatDType): Tensor {
  return g.input('label_smoothing', dt, [], 'label smoothing ε of the labeled cross-entropy: targets (1 − ε)·onehot + ε/K (0: off)');
}

/** Steps 1–3: teacher, selection, student losses. */
export function lossTerms(g: Graph, cfg: ModelConfig, W: ParamSet, T: ParamSet, batch: StepBatch, policy: StepPolicy,
  opts: BuildOptions = {}): LossTerms {
  const dt = cfg.dtype;
  const bl = batch.labeledImages.shape[0] as number;
  const bu = batch.weakImages.shape[0] as number;
  // 1. teacher on weak views
  const rawProbs = g.scope('teacher', () => g.softmax(classify(g, cfg, T, batch.weakImages, opts), -1)); // [Bu, K]
  // Distribution alignment (ReMixMatch): rescale by prior / running mean of predictions, so classes the teacher
  // over-predicts early do not flood the pseudo-labels.
  const aligned = g.mul(rawProbs, policy.daRatio);
  const teacherProbs = g.div(aligned, g.reduceSum(aligned, [1]));                // [Bu, K]
  const pseudoConf = g.reduceMax(teacherProbs, [1], false);                    // [Bu]
  const pseudoLabel = g.argMax(teacherProbs, 1);                               // [Bu]
  // 2. selection: gate · [conf ≥ τ(pseudo-label's class)] · (agreement if asked, below)
  const confident = g.cast(g.greaterOrEqual(pseudoConf, g.gather(policy.tau, pseudoLabel, 0)), dt);
  const selected = g.mul(confident, policy.gateOpen);                          // [Bu]
  const S = batch.strongCapacity ?? bu;
  // 3a. student classification of labeled images and strong views together. With a capacity S < Bu only S strong
  // views are classified: the selected ones, most confident first, then the most confident of the rest (weight 0).
  // While no more than S are selected this is the same step up to float rounding; beyond S, the least confident
  // selected views go untrained this step (and count as not pseudo-labeled in pseudo_weight).
  const pick = S < bu ? g.topK(g.add(g.mul(selected, g.scalar(dt, 2)), pseudoConf), S)[1] : null;  // int64 [S]
  const strong = pick ? g.gather(batch.strongImages, pick, 0) : batch.strongImages;              // [S, C, H, W]
  const dropPath = pick && batch.dropPath
    ? g.gather(batch.dropPath, g.concat([g.ints(Array.from({ length: bl }, (_, i) => i)), g.add(pick, g.constant('int64', [], [bl]))], 0), 2)
    : batch.dropPath;
  const logits = classify(g, cfg, W, g.concat([batch.labeledImages, strong], 0), opts, dropPath); // [Bl+S, K]
  const logitsL = g.slice(logits, [0], [0], [bl]);
  const logitsU = g.slice(logits, [0], [bl], [bl + S]);                        // [S, K]
  const labelU = pick ? g.gather(pseudoLabel, pick, 0) : pseudoLabel;          // [S]
  const agrees = g.cast(g.equal(g.argMax(logitsU, 1), labelU), dt);
  const one = g.scalar(dt, 1);
  const agreeFactor = g.add(g.sub(one, policy.agree), g.mul(policy.agree, agrees));
  const weightU = g.mul(pick ? g.gather(selected, pick, 0) : selected, agreeFactor); // [S]
  const pseudoWeight = pick ? g.scatterElementsAdd(g.mul(selected, g.scalar(dt, 0)), pick, weightU, 0) : weightU; // [Bu]
  // 3b. losses; ceU is the mean over all Bu unlabeled images, as without a capacity
  const ceL = mixedCrossEntropy(g, logitsL, batch, policy.labelSmoothing);
  const ceU = pick
    ? g.div(g.reduceSum(g.mul(crossEntropyPerExample(g, logitsU, labelU), weightU), [0], false), g.scalar(dt, bu))
    : maskedCrossEntropy(g, logitsU, pseudoLabel, pseudoWeight);
  // 3c. reconstruction of labeled and unlabeled images; pseudo_step (no masking) has no such term, and its loss is
  // what train_step's is with lambda_rec = 0: 0·rec + λl·ceL is λl·ceL exactly, and so are the gradients.
  const images = g.concat([batch.labeledImages, batch.weakImages], 0);
  const rec = batch.masking ? reconstructionLoss(g, cfg, W, images, batch.masking, opts) : g.scalar(dt, 0);
  const labeled = batch.masking && policy.lambdaRec ? g.add(g.mul(policy.lambdaRec, rec), g.mul(policy.lambdaL, ceL)) : g.mul(policy.lambdaL, ceL);
  const loss = g.add(labeled, g.mul(policy.lambdaU, ceU));
  return {
    loss, rec, ceL, ceU, pseudoLabel, pseudoConf, pseudoWeight,
    maskRate: g.reduceMean(pseudoWeight, [0], false),
    teacherMean: g.reduceMean(rawProbs, [0], false),
    accL: accuracy(g, logitsL, batch.labels),
  };
}

/** The inputs of a gate-closed step: no strong views, and of the policy only the weights of the terms it has. */
export interface ClosedBatch extends LabeledTargets { labeledImages: Tensor; weakImages: Tensor; masking: Masking }
export interface ClosedPolicy { lambdaRec: Tensor; lambdaL: Tensor; labelSmoothing: Tensor }

/**
 * Steps 1–3 while the gate is closed: what train_step computes when gate_open = 0, without the work that is then
 * multiplied by 0 — no teacher forward, no classification of the strong views. loss = λrec·rec + λl·ceL; the
 * pseudo-label figures are 0.
 */
export function closedLossTerms(g: Graph, cfg: ModelConfig, W: ParamSet, batch: ClosedBatch, policy: ClosedPolicy,
  opts: BuildOptions = {}): { loss: Tensor; rec: Tensor; ceL: Tensor; accL: Tensor } {
  const logitsL = classify(g, cfg, W, batch.labeledImages, opts);                         // [Bl, K]
  const ceL = mixedCrossEntropy(g, logitsL, batch, policy.labelSmoothing);
  const rec = reconstructionLoss(g, cfg, W, g.concat([batch.labeledImages, batch.weakImages], 0), batch.masking, opts);
  const loss = g.add(g.mul(policy.lambdaRec, rec), g.mul(policy.lambdaL, ceL));
  return { loss, rec, ceL, accL: accuracy(g, logitsL, batch.labels) };
}

/** The gate-closed step as a body: closedLossTerms, then the same optimizer; statistics in STAT_OUTPUTS order. */
export function closedBody(g: Graph, cfg: ModelConfig, specs: readonly ParamSpec[], state: OptimState, hyper: OptimHyper,
  batch: ClosedBatch, policy: ClosedPolicy, opts: BuildOptions = {}): { state: OptimState; stats: Tensor[] } {
  const t = closedLossTerms(g, cfg, state.p, batch, policy, opts);
  const r = optimizerUpdate(g, specs, state, hyper, t.loss);
  const zero = g.scalar(cfg.dtype, 0);
  return { state: r.state, stats: [t.loss, t.rec, t.ceL, zero, zero, t.accL, r.gradNorm] };
}

/**
 * gate_closed_step.onnx: one SSMAE step while the validation gate is closed — reconstruction of labeled + unlabeled
 * images and cross-entropy on the labels, the same optimizer, state (EMA included) and statistics as train_step.onnx
 * with gate_open = 0, without the teacher's forward pass and the strong views' classification (DESIGN.md, "Dead
 * work": ~60% of the step's FLOPs at 16 + 48). No pseudo-label outputs: nothing is pseudo-labeled.
 */
export function buildClosedStep(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_gate_closed_step');
  const { state, hyper } = optimInputs(g, specs, cfg.dtype);
  const { batch, policy } = closedStepInputs(g, cfg, shapes);
  const r = closedBody(g, cfg, specs, state, hyper, batch, policy, opts);
  for (const kind of STATE_KINDS) {
    for (const s of specs) g.output(r.state[kind][s.name], `new.${kind}.${s.name}`, `updated ${kind}.${s.name}`);
  }
  r.stats.forEach((t, i) => g.output(t, STAT_OUTPUTS[i]));
  return g;
}

export interface OptimState { p: ParamSet; m: ParamSet; v: ParamSet; ema: ParamSet }
/** The optimizer state's parts, in the order graphs declare them: parameters, AdamW moments, EMA. */
export const STATE_KINDS = ['p', 'm', 'v', 'ema'] as const;
export interface OptimHyper {
  step: Tensor; lr: Tensor; weightDecay: Tensor; clipNorm: Tensor; emaDecay: Tensor;
}

/** The optimizer state as graph inputs p.*, m.*, v.*, ema.*, declared in STATE_KINDS order. */
export function stateInputs(g: Graph, specs: readonly ParamSpec[], dtype: FloatDType): OptimState {
  return {
    p: paramInputs(g, specs, dtype, 'p.', 'student parameter'),
    m: paramInputs(g, specs, dtype, 'm.', 'AdamW first moment'),
    v: paramInputs(g, specs, dtype, 'v.', 'AdamW second moment'),
    ema: paramInputs(g, specs, dtype, 'ema.', 'teacher (EMA) parameter; feed p.* for a student teacher'),
  };
}

export function optimInputs(g: Graph, specs: readonly ParamSpec[], dtype: FloatDType): { state: OptimState; hyper: OptimHyper } {
  const scalar = (name: string, doc: string) => g.input(name, dtype, [], doc);
  return {
    state: stateInputs(g, specs, dtype),
    hyper: {
      step: scalar('step', 'the optimizer step being taken, 1 for the first (bias correction)'),
      lr: scalar('lr', 'learning rate'),
      weightDecay: scalar('weight_decay', 'AdamW decoupled weight decay'),
      clipNorm: scalar('clip_norm', 'global gradient-norm clip'),
      emaDecay: scalar('ema_decay', 'teacher EMA decay'),
    },
  };
}

export interface StepResult { state: OptimState; terms: LossTerms; gradNorm: Tensor }

/** Steps 1–4: the whole SSMAE step as one body. */
export function stepBody(g: Graph, cfg: ModelConfig, specs: readonly ParamSpec[], state: OptimState, hyper: OptimHyper,
  batch: StepBatch, policy: StepPolicy, opts: BuildOptions = {}): StepResult {
  const terms = lossTerms(g, cfg, state.p, state.ema, batch, policy, opts);
  return { ...optimizerUpdate(g, specs, state, hyper, terms.loss), terms };
}

/**
 * Step 4: backward from `loss`, global-norm clipping, AdamW on every trainable parameter, EMA of the teacher. The
 * update runs over two flat buffers (the parameters with weight decay and those without), not tensor by tensor.
 */
export function optimizerUpdate(g: Graph, specs: readonly ParamSpec[], state: OptimState, hyper: OptimHyper,
  loss: Tensor): { state: OptimState; gradNorm: Tensor } {
  const trainable = specs.filter((s) => s.trainable);
  const grads = g.scope('backward', () => gradients(g, loss, trainable.map((s) => state.p[s.name])));
  const gradOf = new Map(trainable.map((s, i) => [s.name, grads[i]]));
  const out: OptimState = { p: { ...state.p }, m: { ...state.m }, v: { ...state.v }, ema: {} };
  // One flat buffer per (weight decay, learning-rate scale) pair: layer-wise lr decay gives each block its own scale.
  // Decaying parameters first, then by scale from the largest, so that without layer decay the two buffers are
  // (weight decay, no weight decay) as before.
  const keys = [...new Map(trainable.map((s) => [`${s.decay}:${s.lrScale ?? 1}`, { decay: s.decay, scale: s.lrScale ?? 1 }])).entries()]
    .sort(([, a], [, b]) => Number(b.decay) - Number(a.decay) || b.scale - a.scale).map(([k]) => k);
  const groups = keys.map((k) => trainable.filter((s) => `${s.decay}:${s.lrScale ?? 1}` === k));
  const r = g.scope('adamw', () => adamwFlat(g, groups.map((grp) => ({
    params: grp.map((s) => state.p[s.name]), m: grp.map((s) => state.m[s.name]), v: grp.map((s) => state.v[s.name]),
    grads: grp.map((s) => gradOf.get(s.name)!), ema: grp.map((s) => state.ema[s.name]), decay: grp[0].decay,
    lrScale: grp[0].lrScale,
  })), { lr: hyper.lr, weightDecay: hyper.weightDecay, step: hyper.step, ...ADAM }, hyper.clipNorm, hyper.emaDecay));
  groups.forEach((grp, i) => grp.forEach((s, j) => {
    out.p[s.name] = r.groups[i].params[j];
    out.m[s.name] = r.groups[i].m[j];
    out.v[s.name] = r.groups[i].v[j];
    out.ema[s.name] = r.groups[i].ema[j];
  }));
  g.scope('ema', () => {
    // A parameter that is not trained keeps its value in the teacher too (d·x + (1−d)·x is not always x in float).
    for (const s of specs) if (!s.trainable) out.ema[s.name] = g.identity(state.ema[s.name]);
  });
  return { state: out, gradNorm: r.norm };
}

/**
 * The supervised step as a body: cross-entropy on the labeled batch, and the optimizer over the parameters
 * classification uses (`specs`: evalSpecs of the model's). Statistics in STAT_OUTPUTS order; the reconstruction and
 * pseudo-label figures are 0.
 */
export function supervisedBody(g: Graph, cfg: ModelConfig, specs: readonly ParamSpec[], state: OptimState, hyper: OptimHyper,
  images: Tensor, targets: LabeledTargets, labelSmoothing: Tensor, opts: BuildOptions = {}, dropPath?: Tensor): { state: OptimState; stats: Tensor[] } {
  const logits = classify(g, cfg, state.p, images, opts, dropPath); // [Bl, classes]
  const ceL = mixedCrossEntropy(g, logits, targets, labelSmoothing);
  const r = optimizerUpdate(g, specs, state, hyper, ceL);
  const zero = g.scalar(cfg.dtype, 0);
  return { state: r.state, stats: [ceL, zero, ceL, zero, zero, accuracy(g, logits, targets.labels), r.gradNorm] };
}

/**
 * supervised_step.onnx: the labels-only baseline's step — cross-entropy on the labeled batch, and the optimizer over
 * the parameters classification uses. Same model and optimizer as SSMAE, without the teacher, the unlabeled images
 * and the reconstruction (about a sixth of the SSMAE step's work). The MAE decoder's state is not an input.
 */
export function buildSupervisedStep(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_supervised_step');
  const used = evalSpecs(specs);
  const { state, hyper } = optimInputs(g, used, cfg.dtype);
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const images = g.input('images_labeled', 'uint8', [shapes.labeledBatch, ...img], 'labeled images, uint8 NCHW');
  const targets = labeledTargetInputs(g, cfg.dtype, shapes.labeledBatch);
  const r = supervisedBody(g, cfg, used, state, hyper, images, targets, labelSmoothingInput(g, cfg.dtype), opts,
    dropPathInput(g, cfg, shapes.labeledBatch));
  for (const kind of STATE_KINDS) {
    for (const s of used) g.output(r.state[kind][s.name], `new.${kind}.${s.name}`, `updated ${kind}.${s.name}`);
  }
  r.stats.forEach((t, i) => g.output(t, STAT_OUTPUTS[i]));
  return g;
}

/** Names of the per-step statistics every step graph outputs, in order. */
export const STAT_OUTPUTS = ['loss', 'rec_loss', 'ce_labeled', 'ce_pseudo', 'pseudo_mask_rate', 'acc_labeled', 'grad_norm'] as const;

function statTensors(terms: LossTerms, gradNorm?: Tensor): Tensor[] {
  const t = [terms.loss, terms.rec, terms.ceL, terms.ceU, terms.maskRate, terms.accL];
  return gradNorm ? [...t, gradNorm] : t;
}

/**
 * train_step.onnx: one SSMAE step; state in, new state and statistics out. With `reconstruction` false,
 * pseudo_step.onnx: the same step without the reconstruction term (no masking, no lambda_rec; rec_loss 0), i.e.
 * train_step with lambda_rec = 0 without the MAE's forward and backward passes, which are then multiplied by 0. The
 * decoder's state still goes through AdamW (zero gradient, weight decay), as it does in train_step at lambda_rec 0.
 */
export function buildTrainStep(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, opts: BuildOptions = {},
  reconstruction = true): Graph {
  const g = new Graph(reconstruction ? 'ssmae_train_step' : 'ssmae_pseudo_step');
  const { state, hyper } = optimInputs(g, specs, cfg.dtype);
  const { batch, policy } = stepInputs(g, cfg, shapes, reconstruction);
  const r = stepBody(g, cfg, specs, state, hyper, batch, policy, opts);
  for (const kind of STATE_KINDS) {
    for (const s of specs) g.output(r.state[kind][s.name], `new.${kind}.${s.name}`, `updated ${kind}.${s.name}`);
  }
  statTensors(r.terms, r.gradNorm).forEach((t, i) => g.output(t, STAT_OUTPUTS[i]));
  g.output(r.terms.pseudoLabel, 'pseudo_label', 'teacher argmax per unlabeled image');
  g.output(r.terms.pseudoConf, 'pseudo_conf', 'teacher confidence per unlabeled image');
  g.output(r.terms.pseudoWeight, 'pseudo_weight', '1 where the pseudo-label was used');
  g.output(r.terms.teacherMean, 'teacher_mean', 'mean teacher probabilities over the unlabeled batch [K]');
  return g;
}

/** gradients.onnx: loss terms and the gradient of every trainable parameter; no optimizer. */
export function buildGradients(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_gradients');
  const p = paramInputs(g, specs, cfg.dtype, 'p.', 'student parameter');
  const ema = paramInputs(g, specs, cfg.dtype, 'ema.', 'teacher parameter');
  const { batch, policy } = stepInputs(g, cfg, shapes);
  const terms = lossTerms(g, cfg, p, ema, batch, policy, opts);
  const trainable = specs.filter((s) => s.trainable);
  const grads = g.scope('backward', () => gradients(g, terms.loss, trainable.map((s) => p[s.name])));
  statTensors(terms).forEach((t, i) => g.output(t, STAT_OUTPUTS[i]));
  trainable.forEach((s, i) => g.output(grads[i], `grad.${s.name}`, `d loss / d ${s.name}`));
  return g;
}

/** eval.onnx: parameters + uint8 images [N, C, H, W] (N symbolic) → logits [N, K]. */
export function buildEval(cfg: ModelConfig, specs: readonly ParamSpec[], opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_eval');
  const p = paramInputs(g, evalSpecs(specs), cfg.dtype, 'p.', 'parameter');
  const images = g.input('images', 'uint8', ['N', cfg.channels, cfg.imageSize, cfg.imageSize], 'uint8 images NCHW');
  g.output(classify(g, cfg, p, images, opts), 'logits', 'class scores [N, K]');
  return g;
}

/** The parameters classification uses (the MAE decoder is only for reconstruction). */
export function evalSpecs(specs: readonly ParamSpec[]): ParamSpec[] {
  return specs.filter((s) => !s.name.startsWith('dec.'));
}
