// Chunks: K optimizer steps in one run, as an ONNX Loop over a one-step body with the parameters, AdamW moments and
// EMA as loop-carried state. Through onnxruntime-node every run copies its inputs and outputs through host memory;
// carrying the state inside the Loop pays that copy once per K steps (DESIGN.md, "Performance").
// Per-step inputs arrive stacked on a leading K axis and are read inside the body with Gather(iteration); per-step
// statistics leave stacked the same way (scan outputs).
//   train_chunk.onnx      — K SSMAE steps (the body of train_step.onnx);
//   supervised_chunk.onnx — K supervised steps (the body of supervised_step.onnx).
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { LabeledTargets } from './losses.js';
import { ParamSpec } from './params.js';
import { ModelConfig, keepCount, numPatches } from './presets.js';
import { OptimHyper, OptimState, STATE_KINDS, STAT_OUTPUTS, StepShapes, closedBody, dropPathInput, evalSpecs, labelSmoothingInput, labeledTargetInputs, stateInputs, stepBody, supervisedBody } from './step.js';
import { BuildOptions } from './vit.js';

/** The outer inputs every chunk starts with: the state, the step count before the chunk, the fixed optimizer scalars. */
interface ChunkInputs {
  state: OptimState;
  step: Tensor;                                                     // scalar: steps taken before the chunk
  fixed: Omit<OptimHyper, 'step' | 'lr'>;                           // weight decay, clip norm, EMA decay
}

function chunkInputs(g: Graph, specs: readonly ParamSpec[], dt: FloatDType): ChunkInputs {
  const scalar = (name: string, doc: string) => g.input(name, dt, [], doc);
  return {
    state: stateInputs(g, specs, dt),
    step: g.input('step', dt, [], 'optimizer steps taken before this chunk (the chunk takes step+1 … step+K)'),
    fixed: {
      weightDecay: scalar('weight_decay', 'AdamW decoupled weight decay'),
      clipNorm: scalar('clip_norm', 'global gradient-norm clip'),
      emaDecay: scalar('ema_decay', 'teacher EMA decay'),
    },
  };
}

/** A per-step output of the body; the chunk outputs it stacked as `name` [K, …value's shape]. */
interface PerStep { name: string; value: Tensor; doc: string }

/** What one iteration computes from the carried state, its step number (1-based, as AdamW's bias correction counts) and `at`, which reads this iteration's slice of a stacked input. */
type ChunkBody = (body: Graph, state: OptimState, step: Tensor, at: (stacked: Tensor) => Tensor) => { state: OptimState; perStep: PerStep[] };

/**
 * Appends the Loop of K iterations of `step` to `g` and its outputs: new.step, new.<kind>.<name> for the state, then
 * each per-step output stacked on K. The body: (iteration, cond, step, state…) → (cond, step, new state…, per-step…).
 */
function loopSteps(g: Graph, specs: readonly ParamSpec[], K: number, inputs: ChunkInputs, step: ChunkBody): void {
  const dt = inputs.step.dtype;
  const body = new Graph('ssmae_step_body', g);
  const r = body.scope('k', () => {
    const iter = body.input('k/iteration', 'int64', [], 'iteration number');
    const condIn = body.input('k/cond_in', 'bool', [], 'loop condition');
    const stepIn = body.input('k/step_in', dt, [], 'steps taken so far');
    const carried: OptimState = { p: {}, m: {}, v: {}, ema: {} };
    for (const kind of STATE_KINDS) for (const s of specs) carried[kind][s.name] = body.input(`k/${kind}.${s.name}`, dt, s.shape);
    const stepNow = body.add(stepIn, body.scalar(dt, 1));
    return { condIn, step: stepNow, ...step(body, carried, stepNow, (t) => body.gather(t, iter, 0)) };
  });
  body.output(body.identity(r.condIn), 'k/cond_out');
  body.output(r.step, 'k/step_out');
  for (const kind of STATE_KINDS) for (const s of specs) body.output(r.state[kind][s.name], `k/new.${kind}.${s.name}`);
  for (const o of r.perStep) body.output(o.value, `k/${o.name}`);

  const carriedIn = [inputs.step, ...STATE_KINDS.flatMap((kind) => specs.map((s) => inputs.state[kind][s.name]))];
  const scans = r.perStep.map((o) => ({ dtype: o.value.dtype, shape: [K, ...o.value.shape] }));
  const outs = g.loop(g.constant('int64', [], [K]), null, carriedIn, body, scans);
  let i = 0;
  g.output(outs[i++], 'new.step');
  for (const kind of STATE_KINDS) for (const s of specs) g.output(outs[i++], `new.${kind}.${s.name}`, `updated ${kind}.${s.name}`);
  for (const o of r.perStep) g.output(outs[i++], o.name, o.doc);
}

/** This iteration's slice of the stacked labeled targets. */
const targetsAt = (t: LabeledTargets, at: (stacked: Tensor) => Tensor): LabeledTargets =>
  ({ labels: at(t.labels), labelsMix: at(t.labelsMix), mixWeight: at(t.mixWeight) });

/** The step statistics (STAT_OUTPUTS order) as per-step outputs. */
const statsPerStep = (stats: readonly Tensor[]): PerStep[] =>
  stats.map((value, i) => ({ name: STAT_OUTPUTS[i], value, doc: `${STAT_OUTPUTS[i]} of each step [K]` }));

/** train_chunk.onnx: K SSMAE steps; the pseudo-label policy is fixed within the chunk. */
export function buildTrainChunk(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, K: number,
  opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_train_chunk');
  const dt = cfg.dtype;
  const { labeledBatch: bl, unlabeledBatch: bu } = shapes;
  const b = bl + bu;
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const L = numPatches(cfg);
  const inputs = chunkInputs(g, specs, dt);
  const scalar = (name: string, doc: string) => g.input(name, dt, [], doc);
  const policy = {
    gateOpen: scalar('gate_open', '1 when the validation gate is open, else 0 (fixed within a chunk)'),
    tau: g.input('tau', dt, [cfg.classes], 'confidence threshold per class (fixed within a chunk)'),
    daRatio: g.input('da_ratio', dt, [cfg.classes], 'distribution alignment ratio (fixed within a chunk; ones: off)'),
    agree: scalar('agree', '1 to require weak/strong agreement for a pseudo-label'),
    lambdaRec: scalar('lambda_rec', 'weight of the reconstruction loss'),
    lambdaL: scalar('lambda_l', 'weight of the labeled cross-entropy'),
    lambdaU: scalar('lambda_u', 'weight of the pseudo-label cross-entropy'),
    labelSmoothing: labelSmoothingInput(g, dt),
  };
  const stacks = {
    lr: g.input('lr', dt, [K], 'learning rate of each step'),
    labeledImages: g.input('images_labeled', 'uint8', [K, bl, ...img], 'labeled images per step'),
    targets: labeledTargetInputs(g, dt, bl, K),
    weakImages: g.input('images_weak', 'uint8', [K, bu, ...img], 'weak views per step'),
    strongImages: g.input('images_strong', 'uint8', [K, bu, ...img], 'strong views per step'),
    idsKeep: g.input('ids_keep', 'int64', [K, b, keepCount(cfg)], 'visible patches per step'),
    idsRestore: g.input('ids_restore', 'int64', [K, b, L], 'inverse shuffles per step'),
    mask: g.input('mask', dt, [K, b, L], 'hidden-patch masks per step'),
    dropPath: dropPathInput(g, cfg, b, [K, cfg.preset.depth, 2, b]),
  };
  loopSteps(g, specs, K, inputs, (body, state, step, at) => {
    const r = stepBody(body, cfg, specs, state, { step, lr: at(stacks.lr), ...inputs.fixed }, {
      labeledImages: at(stacks.labeledImages), ...targetsAt(stacks.targets, at),
      weakImages: at(stacks.weakImages), strongImages: at(stacks.strongImages),
      masking: { idsKeep: at(stacks.idsKeep), idsRestore: at(stacks.idsRestore), mask: at(stacks.mask) },
      dropPath: stacks.dropPath ? at(stacks.dropPath) : undefined,
      strongCapacity: shapes.strongCapacity,
    }, policy, opts);
    const t = r.terms;
    return {
      state: r.state,
      perStep: [
        ...statsPerStep([t.loss, t.rec, t.ceL, t.ceU, t.maskRate, t.accL, r.gradNorm]),
        { name: 'pseudo_label', value: t.pseudoLabel, doc: 'teacher argmax per step and unlabeled image [K, Bu]' },
        { name: 'pseudo_conf', value: t.pseudoConf, doc: 'teacher confidence [K, Bu]' },
        { name: 'pseudo_weight', value: t.pseudoWeight, doc: '1 where the pseudo-label was used [K, Bu]' },
        { name: 'teacher_mean', value: t.teacherMean, doc: 'mean teacher probabilities per step [K, classes]' },
      ],
    };
  });
  return g;
}

/**
 * supervised_chunk.onnx: K supervised steps (labels-only, and mae-finetune's fine-tuning). Like supervised_step.onnx
 * its state is the parameters classification uses; the MAE decoder's is not an input.
 */
export function buildSupervisedChunk(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, K: number,
  opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_supervised_chunk');
  const used = evalSpecs(specs);
  const bl = shapes.labeledBatch;
  const inputs = chunkInputs(g, used, cfg.dtype);
  const labelSmoothing = labelSmoothingInput(g, cfg.dtype);
  const stacks = {
    lr: g.input('lr', cfg.dtype, [K], 'learning rate of each step'),
    images: g.input('images_labeled', 'uint8', [K, bl, cfg.channels, cfg.imageSize, cfg.imageSize], 'labeled images per step'),
    targets: labeledTargetInputs(g, cfg.dtype, bl, K),
    dropPath: dropPathInput(g, cfg, bl, [K, cfg.preset.depth, 2, bl]),
  };
  loopSteps(g, used, K, inputs, (body, state, step, at) => {
    const r = supervisedBody(body, cfg, used, state, { step, lr: at(stacks.lr), ...inputs.fixed }, at(stacks.images), targetsAt(stacks.targets, at), labelSmoothing, opts,
      stacks.dropPath ? at(stacks.dropPath) : undefined);
    return { state: r.state, perStep: statsPerStep(r.stats) };
  });
  return g;
}

/**
 * gate_closed_chunk.onnx: K steps of gate_closed_step.onnx (reconstruction + labeled cross-entropy, no teacher and no
 * strong views), for the stretches of a run during which the gate is closed.
 */
export function buildClosedChunk(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, K: number,
  opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_gate_closed_chunk');
  const dt = cfg.dtype;
  const { labeledBatch: bl, unlabeledBatch: bu } = shapes;
  const b = bl + bu;
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const L = numPatches(cfg);
  const inputs = chunkInputs(g, specs, dt);
  const policy = {
    lambdaRec: g.input('lambda_rec', dt, [], 'weight of the reconstruction loss'),
    lambdaL: g.input('lambda_l', dt, [], 'weight of the labeled cross-entropy'),
    labelSmoothing: labelSmoothingInput(g, dt),
  };
  const stacks = {
    lr: g.input('lr', dt, [K], 'learning rate of each step'),
    labeledImages: g.input('images_labeled', 'uint8', [K, bl, ...img], 'labeled images per step'),
    targets: labeledTargetInputs(g, dt, bl, K),
    weakImages: g.input('images_weak', 'uint8', [K, bu, ...img], 'weak views per step (reconstruction)'),
    idsKeep: g.input('ids_keep', 'int64', [K, b, keepCount(cfg)], 'visible patches per step'),
    idsRestore: g.input('ids_restore', 'int64', [K, b, L], 'inverse shuffles per step'),
    mask: g.input('mask', dt, [K, b, L], 'hidden-patch masks per step'),
  };
  loopSteps(g, specs, K, inputs, (body, state, step, at) => {
    const r = closedBody(body, cfg, specs, state, { step, lr: at(stacks.lr), ...inputs.fixed }, {
      labeledImages: at(stacks.labeledImages), ...targetsAt(stacks.targets, at), weakImages: at(stacks.weakImages),
      masking: { idsKeep: at(stacks.idsKeep), idsRestore: at(stacks.idsRestore), mask: at(stacks.mask) },
    }, policy, opts);
    return { state: r.state, perStep: statsPerStep(r.stats) };
  });
  return g;
}
