// Every parameter of the ViT-MAE, declared once: name, shape, initialization, and whether weight decay applies.
// Graph builders look parameters up by name in a ParamSet; the same functions run the student and the EMA teacher.
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { Rng } from '../data/rng.js';
import { ModelConfig, numPatches, patchDim, tokenDim } from './presets.js';

export type Init = 'zeros' | 'ones' | 'xavier' | 'normal0.02' | 'sincos2d';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** AdamW weight decay applies (matrices only: not norms, biases, position embeddings or the mask token). */
  decay: boolean;
  trainable: boolean;
}

export type ParamSet = Record<string, Tensor>;

function linear(specs: ParamSpec[], name: string, din: number, dout: number): void {
  specs.push({ name: `${name}.weight`, shape: [din, dout], init: 'xavier', decay: true, trainable: true });
  specs.push({ name: `${name}.bias`, shape: [dout], init: 'zeros', decay: false, trainable: true });
}

function norm(specs: ParamSpec[], name: string, d: number): void {
  specs.push({ name: `${name}.scale`, shape: [d], init: 'ones', decay: false, trainable: true });
  specs.push({ name: `${name}.bias`, shape: [d], init: 'zeros', decay: false, trainable: true });
}

function block(specs: ParamSpec[], name: string, d: number, mlp: number): void {
  norm(specs, `${name}.norm1`, d);
  linear(specs, `${name}.attn.qkv`, d, 3 * d);
  linear(specs, `${name}.attn.proj`, d, d);
  norm(specs, `${name}.norm2`, d);
  linear(specs, `${name}.mlp.fc1`, d, mlp * d);
  linear(specs, `${name}.mlp.fc2`, mlp * d, d);
}

export function paramSpecs(cfg: ModelConfig): ParamSpec[] {
  const p = cfg.preset;
  const L = numPatches(cfg);
  const specs: ParamSpec[] = [];
  if (p.stem) linear(specs, 'stem.conv', 9 * cfg.channels, p.stem.channels); // 3×3 taps × C → F (stem.ts)
  linear(specs, 'embed', tokenDim(cfg), p.dim);
  // Learned position embeddings, started from MAE's 2-D sine-cosine table: from a 0.02-scale random start the
  // model is nearly blind to where a patch is, and spends hundreds of steps learning that before it can classify.
  specs.push({ name: 'pos', shape: [L, p.dim], init: 'sincos2d', decay: false, trainable: true });
  for (let i = 0; i < p.depth; i++) block(specs, `enc.${i}`, p.dim, p.mlpRatio);
  norm(specs, 'enc.norm', p.dim);
  linear(specs, 'head', p.dim, cfg.classes);
  linear(specs, 'dec.embed', p.dim, p.decDim);
  specs.push({ name: 'dec.mask_token', shape: [p.decDim], init: 'normal0.02', decay: false, trainable: true });
  specs.push({ name: 'dec.pos', shape: [L, p.decDim], init: 'sincos2d', decay: false, trainable: true });
  for (let i = 0; i < p.decDepth; i++) block(specs, `dec.${i}`, p.decDim, p.mlpRatio);
  norm(specs, 'dec.norm', p.decDim);
  linear(specs, 'dec.pred', p.decDim, patchDim(cfg));
  return specs;
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
 * MAE's fixed 2-D sine-cosine position table for a square grid of L = g² patches, width D (a multiple of 4): the
 * first half of the channels encodes the row, the second half the column, each as sin/cos at D/4 frequencies.
 */
export function sincos2d(L: number, D: number): Float64Array {
  const g = Math.round(Math.sqrt(L));
  if (g * g !== L || D % 4 !== 0) throw new Error(`sincos2d needs a square grid and a width divisible by 4, got L=${L}, D=${D}`);
  const out = new Float64Array(L * D);
  const q = D / 4;
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      const row = out.subarray((r * g + c) * D, (r * g + c + 1) * D);
      for (let i = 0; i < q; i++) {
        const omega = 1 / 10000 ** (i / q);
        row[i] = Math.sin(r * omega);
        row[q + i] = Math.cos(r * omega);
        row[2 * q + i] = Math.sin(c * omega);
        row[3 * q + i] = Math.cos(c * omega);
      }
    }
  }
  return out;
}
