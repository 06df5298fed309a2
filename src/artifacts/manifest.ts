// manifest.json: everything needed to use an artifact directory without reading the graphs: the model's shapes,
// every parameter, every graph's inputs and outputs, the tool version and each file's sha256.
import { Graph } from '../graph/builder.js';
import { DType, Dim } from '../graph/types.js';
import { ParamSpec } from '../models/params.js';
import { ModelConfig } from '../models/presets.js';

export const MANIFEST_FORMAT = 1;

export interface IoSpec { name: string; dtype: DType; shape: Dim[]; doc: string }
export interface GraphSpec { file: string; inputs: IoSpec[]; outputs: IoSpec[] }

/** The model's config (preset, image size, channels, classes, dtype, mask ratio) plus what export derived and wrote. */
export interface Manifest extends ModelConfig {
  format: number;
  tool: { name: string; version: string };
  numPatches: number;
  keep: number;
  labeledBatch: number;
  unlabeledBatch: number;
  /** Strong views the student classifies per step, when fewer than unlabeledBatch (export --strong-capacity). */
  strongCapacity?: number;
  /** Optimizer steps per run of train_chunk.onnx and supervised_chunk.onnx (1: no chunk graphs). */
  stepsPerRun: number;
  seed: number;
  paramCount: number;
  parameters: ParamSpec[];
  graphs: Record<string, GraphSpec>;
  files: Record<string, string>; // file → sha256
  /** Where the initial weights came from when not from the seed alone (export --from-pretrained). */
  source?: ManifestSource;
}

/** A pretrained checkpoint the artifacts were started from. */
export interface ManifestSource {
  format: 'hf-vit-mae';
  dir: string;
  /** Its config.json and preprocessor_config.json (null when absent), kept to write the model back in the same layout. */
  config: Record<string, unknown>;
  preprocessor: Record<string, unknown> | null;
  /** The checkpoint's tensors, each used once; the classifier head is new. */
  tensors: number;
  /** How the position tables went from the checkpoint's grid to this one (absent: same grid). */
  posResize?: { from: number; to: number; encoder: 'sincos' | 'bicubic'; decoder: 'sincos' | 'bicubic' };
}

export function graphSpec(g: Graph, file: string): GraphSpec {
  const io = (t: { name: string; dtype: DType; shape: readonly Dim[] }): IoSpec =>
    ({ name: t.name, dtype: t.dtype, shape: [...t.shape], doc: g.docs.get(t.name) ?? '' });
  return { file, inputs: g.inputs.map(io), outputs: g.outputs.map(io) };
}
