// Every parameter of the ViT-MAE, declared once: name, shape, initialization, and whether weight decay applies.
// Graph builders look parameters up by name in a ParamSet; the same functions run the student and the EMA teacher.
import { Graph } from '../graph/builder.js';
import { FloatDType, Tensor } from '../graph/types.js';
import { Rng } from '../data/rng.js';
import { ModelConfig, numPatches, patchDim } from './presets.js';

export type Init = 'zeros' | 'ones' | 'xavier' | 'normal0.02';

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
  linear(specs, 'embed', patchDim(cfg), p.dim);
  specs.push({ name: 'pos', shape: [L, p.dim], init: 'normal0.02', decay: false, trainable: true });
  for (let i = 0; i < p.depth; i++) block(specs, `enc.${i}`, p.dim, p.mlpRatio);
  norm(specs, 'enc.norm', p.dim);
  linear(specs, 'head', p.dim, cfg.classes);
  linear(specs, 'dec.embed', p.dim, p.decDim);
  specs.push({ name: 'dec.mask_token', shape: [p.decDim], init: 'normal0.02', decay: false, trainable: true });
  specs.push({ name: 'dec.pos', shape: [L, p.decDim], init: 'normal0.02', decay: false, trainable: true });
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
