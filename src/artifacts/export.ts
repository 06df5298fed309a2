// `ssmae export`: builds the training artifacts for one model shape and writes them to a directory.
import fs from 'node:fs';
import path from 'node:path';
import { serialize } from '../graph/serialize.js';
import { FloatDType } from '../graph/types.js';
import { countParams, initParams, paramSpecs } from '../models/params.js';
import { ModelConfig, Preset, arch, modelConfig, keepCount, numPatches } from '../models/presets.js';
import { StepShapes, buildClosedStep, buildEval, buildGradients, buildSupervisedStep, buildTrainStep } from '../models/step.js';
import { BuildOptions } from '../models/vit.js';
import { buildClosedChunk, buildSupervisedChunk, buildTrainChunk } from '../models/chunk.js';
import { StagedFiles, ensureWritableDir, sha256 } from './files.js';
import { Manifest, MANIFEST_FORMAT, ManifestSource, graphSpec } from './manifest.js';
import { NamedTensor, encodeSafetensors } from './safetensors.js';
import { TOOL_VERSION } from './version.js';
import { UsageError } from './files.js';

export interface ExportOptions {
  preset: string;
  imageSize: number;
  channels: number;
  classes: number;
  dtype?: FloatDType;
  labeledBatch?: number;
  unlabeledBatch?: number;
  maskRatio?: number;
  seed?: number;
  out: string;
  /** Graph options (e.g. the float64 Erf stand-in for gradient checks). */
  build?: BuildOptions;
  /**
   * Strong views the student classifies per step (≤ unlabeledBatch; default all): the selected ones, most confident
   * first. Below the mask rate × unlabeledBatch it drops pseudo-labels; above it, it only saves work.
   */
  strongCapacity?: number;
  /** Optimizer steps per run of train_chunk.onnx and supervised_chunk.onnx (ONNX Loops); 1 writes no chunk graph. */
  stepsPerRun?: number;
  /** Skip graphs not needed (tests that only check gradients). */
  graphs?: ('train_step' | 'pseudo_step' | 'train_chunk' | 'supervised_step' | 'supervised_chunk' | 'gate_closed_step' | 'gate_closed_chunk' | 'gradients' | 'eval')[];
  log?: (msg: string) => void;
  /** Model options over the named preset's (export flags such as --cls-token, --drop-path). */
  overrides?: Partial<Preset>;
  /**
   * A model given whole instead of by preset name, with initial values for some of its parameters (a pretrained
   * checkpoint's); the others are drawn from the seed as usual. `source` is recorded in the manifest.
   */
  model?: { cfg: ModelConfig; init: Map<string, Float64Array>; source: ManifestSource };
}

export const EXPORT_DEFAULTS = { dtype: 'float32' as FloatDType, labeledBatch: 16, unlabeledBatch: 48, maskRatio: 0.75, seed: 0, stepsPerRun: 1 };

export function exportArtifacts(o: ExportOptions): Manifest {
  const log = o.log ?? (() => {});
  const d = { ...EXPORT_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<ExportOptions>;
  for (const [flag, v] of [['--batch-labeled', d.labeledBatch], ['--batch-unlabeled', d.unlabeledBatch], ['--steps-per-run', d.stepsPerRun]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${flag} must be a positive integer, got ${v}`);
  }
  const capacity = o.strongCapacity ?? d.unlabeledBatch;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > d.unlabeledBatch) {
    throw new UsageError(`--strong-capacity must be an integer in 1..${d.unlabeledBatch} (--batch-unlabeled), got ${o.strongCapacity}`);
  }
  if (!(d.maskRatio > 0 && d.maskRatio < 1)) throw new UsageError(`--mask-ratio must be in (0, 1), got ${d.maskRatio}`);
  const cfg = o.model?.cfg ?? modelConfig(d.preset, d.imageSize, d.channels, d.classes, d.dtype, d.maskRatio, o.overrides);
  ensureWritableDir(o.out);
  const specs = paramSpecs(cfg);
  const shapes: StepShapes = { labeledBatch: d.labeledBatch, unlabeledBatch: d.unlabeledBatch, ...(capacity < d.unlabeledBatch ? { strongCapacity: capacity } : {}) };
  const chunks = ['train_chunk', 'supervised_chunk', 'gate_closed_chunk'] as const;
  // The gate-closed graphs classify the labeled batch alone; stochastic depth's masks are drawn for the labeled batch
  // and the strong views together, so a model with drop path trains every joint step through train_step.
  const closed = arch(cfg.preset).dropPath > 0 ? [] : ['gate_closed_step'] as const;
  const closedChunk = arch(cfg.preset).dropPath > 0 ? [] : ['gate_closed_chunk'] as const;
  const wanted = new Set<string>(o.graphs ?? ['train_step', 'pseudo_step', 'supervised_step', ...closed, 'gradients', 'eval',
    ...(d.stepsPerRun > 1 ? ['train_chunk', 'supervised_chunk', ...closedChunk] : [])]);
  const builders = {
    train_step: () => buildTrainStep(cfg, specs, shapes, o.build),
    pseudo_step: () => buildTrainStep(cfg, specs, shapes, o.build, false),
    train_chunk: () => buildTrainChunk(cfg, specs, shapes, d.stepsPerRun, o.build),
    supervised_step: () => buildSupervisedStep(cfg, specs, shapes, o.build),
    supervised_chunk: () => buildSupervisedChunk(cfg, specs, shapes, d.stepsPerRun, o.build),
    gate_closed_step: () => buildClosedStep(cfg, specs, shapes, o.build),
    gate_closed_chunk: () => buildClosedChunk(cfg, specs, shapes, d.stepsPerRun, o.build),
    gradients: () => buildGradients(cfg, specs, shapes, o.build),
    eval: () => buildEval(cfg, specs, o.build),
  };
  // Every file is staged and they are renamed into place together, manifest last: a failed export (a full disk)
  // leaves the artifacts that were in --out as they were, never a mix of old and new files.
  const staged = new StagedFiles();
  let manifest: Manifest;
  try {
    const files: Record<string, string> = {};
    const graphs: Manifest['graphs'] = {};
    for (const [name, build] of Object.entries(builders)) {
      if (!wanted.has(name as keyof typeof builders)) continue;
      const t0 = Date.now();
      const g = build();
      const bytes = serialize(g, `ssmae ${name} for ${cfg.preset.name}`);
      const file = `${name}.onnx`;
      staged.write(path.join(o.out, file), bytes);
      files[file] = sha256(bytes);
      graphs[name] = graphSpec(g, file);
      log(`  ${file}: ${g.nodes.length} nodes, ${(bytes.length / 1e6).toFixed(1)} MB (${Date.now() - t0} ms)`);
    }
    const init = initParams(specs, d.seed);
    for (const [name, v] of o.model?.init ?? []) {
      if (!init.has(name) || init.get(name)!.length !== v.length) throw new Error(`initial value for ${name} does not fit the model`);
      init.set(name, v);
    }
    const tensors = new Map<string, NamedTensor>();
    for (const s of specs) {
      const v = init.get(s.name)!;
      tensors.set(s.name, { dtype: cfg.dtype, shape: s.shape, data: cfg.dtype === 'float64' ? v : Float32Array.from(v) });
    }
    const weights = encodeSafetensors(tensors, { preset: cfg.preset.name, seed: String(d.seed) });
    staged.write(path.join(o.out, 'weights.safetensors'), weights);
    files['weights.safetensors'] = sha256(weights);
    manifest = {
      format: MANIFEST_FORMAT,
      tool: { name: 'ssmae', version: TOOL_VERSION },
      preset: cfg.preset,
      imageSize: cfg.imageSize, channels: cfg.channels, classes: cfg.classes, dtype: cfg.dtype, maskRatio: cfg.maskRatio,
      numPatches: numPatches(cfg), keep: keepCount(cfg),
      labeledBatch: d.labeledBatch, unlabeledBatch: d.unlabeledBatch, ...(shapes.strongCapacity ? { strongCapacity: shapes.strongCapacity } : {}), seed: d.seed, stepsPerRun: chunks.some((c) => wanted.has(c)) ? d.stepsPerRun : 1,
      paramCount: countParams(specs),
      parameters: specs,
      graphs,
      files,
      ...(o.model ? { source: o.model.source } : {}),
    };
    staged.write(path.join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    staged.commit();
  } finally {
    staged.abort(); // nothing left after a commit; the temporary files of a failed export otherwise
  }
  if (!fs.existsSync(path.join(o.out, 'manifest.json'))) throw new Error('manifest was not written');
  return manifest;
}
