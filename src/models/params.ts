// Every parameter of the ViT-MAE, declared once: name, shape, initialization, and whether weight decay applies.
// Graph builders look parameters up by name in a ParamSet; the same functions run the student and the EMA teacher.
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { Rng } from '../data/rng.js';
import { ModelConfig, arch, numPatches, patchDim, tokenDim } from './presets.js';
import { maeSincos2d, sincosGrid } from './posembed.js';

export type Init = 'zeros' | 'ones' | 'xavier' | 'normal0.02' | 'sincos2d' | 'mae-sincos2d' | 'mae-sincos2d-cls';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** AdamW weight decay applies (matrices only: not norms, biases, position embeddings or the mask token). */
  decay: boolean;
  trainable: boolean;
  /** Layer-wise lr decay: this parameter trains at lr·lrScale (absent: 1). */
  lrScale?: number;
}

export type ParamSet = Record<string, Tensor>;

function linear(specs: ParamSpec[], name: string, din: number, dout: number, bias = true): void {
  specs.push({ name: `${name}.weight`, shape: [din, dout], init: 'xavier', decay: true, trainable: true });
  if (bias) specs.push({ name: `${name}.bias`, shape: [dout], init: 'zeros', decay: false, trainable: true });
}

function norm(specs: ParamSpec[], name: string, d: number): void {
  specs.push({ name: `${name}.scale`, shape: [d], init: 'ones', decay: false, trainable: true });
  specs.push({ name: `${name}.bias`, shape: [d], init: 'zeros', decay: false, trainable: true });
}

/** A transformer block; `hidden` is the MLP's width. */
function block(specs: ParamSpec[], name: string, d: number, hidden: number, qkvBias: boolean): void {
  norm(specs, `${name}.norm1`, d);
  linear(specs, `${name}.attn.qkv`, d, 3 * d, qkvBias);
  linear(specs, `${name}.attn.proj`, d, d);
  norm(specs, `${name}.norm2`, d);
  linear(specs, `${name}.mlp.fc1`, d, hidden);
  linear(specs, `${name}.mlp.fc2`, hidden, d);
}

export function paramSpecs(cfg: ModelConfig): ParamSpec[] {
  const p = cfg.preset;
  const a = arch(p);
  const L = numPatches(cfg);
  const T = L + (a.cls ? 1 : 0);     // position rows: the CLS token's first, when there is one
  const specs: ParamSpec[] = [];
  if (p.stem) linear(specs, 'stem.conv', 9 * cfg.channels, p.stem.channels); // 3×3 taps × C → F (stem.ts)
  linear(specs, 'embed', tokenDim(cfg), p.dim);
  if (a.cls) specs.push({ name: 'cls', shape: [p.dim], init: 'normal0.02', decay: false, trainable: true });
  // Learned position embeddings, started from MAE's 2-D sine-cosine table: from a 0.02-scale random start the
  // model is nearly blind to where a patch is, and spends hundreds of steps learning that before it can classify.
  // 'fixed': MAE's own table, never trained (as ViT-MAE's position_embeddings, requires_grad=False).
  const fixed = a.posEmbed === 'fixed';
  const posInit: Init = fixed ? (a.cls ? 'mae-sincos2d-cls' : 'mae-sincos2d') : 'sincos2d';
  specs.push({ name: 'pos', shape: [T, p.dim], init: posInit, decay: false, trainable: !fixed });
  for (let i = 0; i < p.depth; i++) block(specs, `enc.${i}`, p.dim, a.mlpDim, a.qkvBias);
  norm(specs, 'enc.norm', p.dim);
  linear(specs, 'head', p.dim, cfg.classes);
  linear(specs, 'dec.embed', p.dim, p.decDim);
  specs.push({ name: 'dec.mask_token', shape: [p.decDim], init: 'normal0.02', decay: false, trainable: true });
  specs.push({ name: 'dec.pos', shape: [T, p.decDim], init: posInit, decay: false, trainable: !fixed });
  for (let i = 0; i < p.decDepth; i++) block(specs, `dec.${i}`, p.decDim, a.decMlpDim, a.qkvBias);
  norm(specs, 'dec.norm', p.decDim);
  linear(specs, 'dec.pred', p.decDim, patchDim(cfg));
  return applyFinetuning(cfg, specs);
}

/** Encoder layer of a parameter for layer-wise lr decay and freezing: 0 embeddings, i+1 block i, depth+1 the rest. */
export function layerOf(name: string, depth: number): number {
  if (name === 'cls' || name === 'pos' || name.startsWith('embed.')) return 0;
  const m = /^enc\.(\d+)\./.exec(name);
  return m ? Number(m[1]) + 1 : depth + 1;
}

/**
 * MAE's fine-tuning recipe as parameter attributes: layer-wise lr decay (lr·decay^(depth+1−layer), as MAE's
 * param_groups_lrd) and frozen early layers (the embeddings and the first N blocks). Unchanged when both are off.
 */
function applyFinetuning(cfg: ModelConfig, specs: ParamSpec[]): ParamSpec[] {
  const { layerDecay, freezeBlocks } = arch(cfg.preset);
  const depth = cfg.preset.depth;
  if (layerDecay === 1 && freezeBlocks === 0) return specs;
  return specs.map((s) => {
    const layer = layerOf(s.name, depth);
    const out = { ...s };
    if (freezeBlocks > 0 && layer <= freezeBlocks) out.trainable = false;
    if (layerDecay !== 1 && layer <= depth) out.lrScale = layerDecay ** (depth + 1 - layer);
    return out;
  });
}

export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Initial values, drawn from a seeded generator (xavier-uniform for matrices, as MAE does). */
export function initParams(specs: readonly ParamSpec[], seed: number): Map<string, Float64Array> {
  const rng = Rng.derive(seed, 'init');
  const out = new Map<string, Float64Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float64Array(n);
    switch (s.init) {
      case 'ones': v.fill(1); break;
      case 'zeros': break;
      case 'normal0.02': for (let i = 0; i < n; i++) v[i] = 0.02 * rng.normal(); break;
      case 'sincos2d': v.set(sincos2d(s.shape[0], s.shape[1])); break;
      case 'mae-sincos2d': v.set(maeSincos2d(Math.round(Math.sqrt(s.shape[0])), s.shape[1], false)); break;
      case 'mae-sincos2d-cls': v.set(maeSincos2d(Math.round(Math.sqrt(s.shape[0] - 1)), s.shape[1], true)); break;
      case 'xavier': {
        const [fanIn, fanOut] = s.shape;
        const a = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = 0; i < n; i++) v[i] = (2 * rng.next() - 1) * a;
        break;
      }
    }
    out.set(s.name, v);
  }
  return out;
}

/** Declares every parameter as a graph input named `${prefix}${name}`. */
export function paramInputs(g: Graph, specs: readonly ParamSpec[], dtype: FloatDType, prefix: string, doc: string): ParamSet {
  const set: ParamSet = {};
  for (const s of specs) set[s.name] = g.input(`${prefix}${s.name}`, dtype, s.shape, `${doc}: ${s.name}`);
  return set;
}

/**
 * The 2-D sine-cosine table ssmae's learned position embeddings start from, for a square grid of L = g² patches and
 * width D (a multiple of 4): the row's half of the channels first, then the column's (MAE's own table, maeSincos2d,
 * puts the column first).
 */
export function sincos2d(L: number, D: number): Float64Array {
  const g = Math.round(Math.sqrt(L));
  if (g * g !== L || D % 4 !== 0) throw new Error(`sincos2d needs a square grid and a width divisible by 4, got L=${L}, D=${D}`);
  return sincosGrid(g, D, 'row');
}
