// train_chunk.onnx: K SSMAE steps in one run, as an ONNX Loop over the same step body with the parameters, AdamW
// moments and EMA as loop-carried state. Through onnxruntime-node every run copies its inputs and outputs through
// host memory; carrying the state inside the Loop pays that copy once per K steps (DESIGN.md, "Performance").
// Per-step inputs arrive stacked on a leading K axis and are read inside the body with Gather(iteration).
import { Graph } from '../graph/builder.js';
import { Tensor } from '../graph/types.js';
import { ParamSpec, paramInputs } from './params.js';
import { ModelConfig, keepCount, numPatches } from './presets.js';
import { OptimState, STATE_KINDS, STAT_OUTPUTS, StepShapes, stepBody } from './step.js';
import { BuildOptions } from './vit.js';


export function buildTrainChunk(cfg: ModelConfig, specs: readonly ParamSpec[], shapes: StepShapes, K: number,
  opts: BuildOptions = {}): Graph {
  const g = new Graph('ssmae_train_chunk');
  const dt = cfg.dtype;
  const { labeledBatch: bl, unlabeledBatch: bu } = shapes;
  const b = bl + bu;
  const img = [cfg.channels, cfg.imageSize, cfg.imageSize];
  const L = numPatches(cfg);
  // Outer inputs: the state, the step count before the chunk, the policy (fixed within a chunk), per-step stacks.
  const state: OptimState = {
    p: paramInputs(g, specs, dt, 'p.', 'student parameter'),
    m: paramInputs(g, specs, dt, 'm.', 'AdamW first moment'),
    v: paramInputs(g, specs, dt, 'v.', 'AdamW second moment'),
    ema: paramInputs(g, specs, dt, 'ema.', 'teacher (EMA) parameter'),
  };
  const step0 = g.input('step', dt, [], 'optimizer steps taken before this chunk (the chunk takes step+1 … step+K)');
  const scalar = (name: string, doc: string) => g.input(name, dt, [], doc);
  const fixed = {
    weightDecay: scalar('weight_decay', 'AdamW decoupled weight decay'),
    clipNorm: scalar('clip_norm', 'global gradient-norm clip'),
    emaDecay: scalar('ema_decay', 'teacher EMA decay'),
    gateOpen: scalar('gate_open', '1 when the validation gate is open, else 0 (fixed within a chunk)'),
    tau: scalar('tau', 'confidence threshold for pseudo-labels'),
    daRatio: g.input('da_ratio', dt, [cfg.classes], 'distribution alignment ratio (fixed within a chunk; ones: off)'),
    agree: scalar('agree', '1 to require weak/strong agreement for a pseudo-label'),
    lambdaRec: scalar('lambda_rec', 'weight of the reconstruction loss'),
    lambdaL: scalar('lambda_l', 'weight of the labeled cross-entropy'),
    lambdaU: scalar('lambda_u', 'weight of the pseudo-label cross-entropy'),
  };
  const stacks = {
    lr: g.input('lr', dt, [K], 'learning rate of each step'),
    labeledImages: g.input('images_labeled', 'uint8', [K, bl, ...img], 'labeled images per step'),
    labels: g.input('labels', 'int64', [K, bl], 'labels per step'),
    weakImages: g.input('images_weak', 'uint8', [K, bu, ...img], 'weak views per step'),
    strongImages: g.input('images_strong', 'uint8', [K, bu, ...img], 'strong views per step'),
    idsKeep: g.input('ids_keep', 'int64', [K, b, keepCount(cfg)], 'visible patches per step'),
    idsRestore: g.input('ids_restore', 'int64', [K, b, L], 'inverse shuffles per step'),
    mask: g.input('mask', dt, [K, b, L], 'hidden-patch masks per step'),
  };

  // The body: (iteration, cond, step, state…) → (cond, step, new state…, per-step statistics…).
  const body = new Graph('ssmae_step_body', g);
  const r = body.scope('k', () => {
    const iter = body.input('k/iteration', 'int64', [], 'iteration number');
    const condIn = body.input('k/cond_in', 'bool', [], 'loop condition');
    const stepIn = body.input('k/step_in', dt, [], 'steps taken so far');
    const carried: OptimState = { p: {}, m: {}, v: {}, ema: {} };
    for (const kind of STATE_KINDS) for (const s of specs) carried[kind][s.name] = body.input(`k/${kind}.${s.name}`, dt, s.shape);
    const at = (t: Tensor) => body.gather(t, iter, 0); // this iteration's slice of a stack
    const step = body.add(stepIn, body.scalar(dt, 1));
    const res = stepBody(body, cfg, specs, carried, { step, lr: at(stacks.lr), ...fixed }, {
      labeledImages: at(stacks.labeledImages), labels: at(stacks.labels),
      weakImages: at(stacks.weakImages), strongImages: at(stacks.strongImages),
      masking: { idsKeep: at(stacks.idsKeep), idsRestore: at(stacks.idsRestore), mask: at(stacks.mask) },
    }, fixed, opts);
    return { condIn, step, res };
  });
  body.output(body.identity(r.condIn), 'k/cond_out');
  body.output(r.step, 'k/step_out');
  for (const kind of STATE_KINDS) for (const s of specs) body.output(r.res.state[kind][s.name], `k/new.${kind}.${s.name}`);
  const t = r.res.terms;
  const stats = [t.loss, t.rec, t.ceL, t.ceU, t.maskRate, t.accL, r.res.gradNorm];
  stats.forEach((x, i) => body.output(x, `k/${STAT_OUTPUTS[i]}`));
  body.output(t.pseudoLabel, 'k/pseudo_label');
  body.output(t.pseudoConf, 'k/pseudo_conf');
  body.output(t.pseudoWeight, 'k/pseudo_weight');
  body.output(t.teacherMean, 'k/teacher_mean');

  const carriedIn = [step0, ...STATE_KINDS.flatMap((kind) => specs.map((s) => state[kind][s.name]))];
  const scans = [
    ...stats.map(() => ({ dtype: dt, shape: [K] })),
    { dtype: 'int64' as const, shape: [K, bu] }, { dtype: dt, shape: [K, bu] }, { dtype: dt, shape: [K, bu] },
    { dtype: dt, shape: [K, cfg.classes] },
  ];
  const outs = g.loop(g.constant('int64', [], [K]), null, carriedIn, body, scans);
  let i = 0;
  g.output(outs[i++], 'new.step');
  for (const kind of STATE_KINDS) for (const s of specs) g.output(outs[i++], `new.${kind}.${s.name}`, `updated ${kind}.${s.name}`);
  for (const name of STAT_OUTPUTS) g.output(outs[i++], name, `${name} of each step [K]`);
  g.output(outs[i++], 'pseudo_label', 'teacher argmax per step and unlabeled image [K, Bu]');
  g.output(outs[i++], 'pseudo_conf', 'teacher confidence [K, Bu]');
  g.output(outs[i++], 'pseudo_weight', '1 where the pseudo-label was used [K, Bu]');
  g.output(outs[i++], 'teacher_mean', 'mean teacher probabilities per step [K, classes]');
  return g;
}
