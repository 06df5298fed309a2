// `ssmae export --from-pretrained DIR`: a Hugging Face ViTMAEForPreTraining folder (config.json, model.safetensors or
// a sharded model.safetensors.index.json, preprocessor_config.json when present) → artifacts whose model is the
// checkpoint's and whose initial weights are its tensors, each used exactly once; the classifier head is new.
import fs from 'node:fs';
import path from 'node:path';
import { HfConfig, Link, hfLinks, pixelNormFromPreprocessor, presetFromHfConfig } from '../models/hf-layout.js';
import { ModelConfig, Preset, modelConfigOf, numPatches } from '../models/presets.js';
import { maeSincos2d, maxAbsDiff, resizePosTable } from '../models/posembed.js';
import { ExportOptions, exportArtifacts } from './export.js';
import { UsageError } from './files.js';
import { Manifest, ManifestSource } from './manifest.js';
import { NamedTensor, readSafetensors } from './safetensors.js';

export interface HfCheckpoint {
  dir: string;
  config: HfConfig;
  preprocessor: HfConfig | null;
  tensors: Map<string, NamedTensor>;
  /** The file each tensor came from (errors name it). */
  fileOf: Map<string, string>;
}

function readJson(file: string): HfConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as HfConfig;
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}; it must be the JSON file the checkpoint came with`);
  }
}

/** Reads the folder: config.json, the weights (one file or shards listed by model.safetensors.index.json), preprocessor. */
export function readHfCheckpoint(dir: string): HfCheckpoint {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`--from-pretrained ${dir} is not a directory; give the folder holding config.json and model.safetensors ` +
      '(e.g. a clone of https://huggingface.co/facebook/vit-mae-base)');
  }
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile)) throw new UsageError(`${cfgFile} not found; a Hugging Face checkpoint folder has config.json beside model.safetensors`);
  const config = readJson(cfgFile);
  const pre = path.join(dir, 'preprocessor_config.json');
  const preprocessor = fs.existsSync(pre) ? readJson(pre) : null;
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (fs.existsSync(single)) files = [single];
  else if (fs.existsSync(index)) {
    const map = (readJson(index).weight_map ?? null) as Record<string, string> | null;
    if (!map || typeof map !== 'object') throw new UsageError(`${index}: no 'weight_map' object; it must map tensor names to shard files`);
    files = [...new Set(Object.values(map))].map((f) => path.join(dir, f));
    for (const f of files) if (!fs.existsSync(f)) throw new UsageError(`${f} (a shard listed in ${index}) is missing; download every shard`);
  } else {
    const bin = fs.existsSync(path.join(dir, 'pytorch_model.bin'));
    throw new UsageError(`${dir} has no model.safetensors (nor model.safetensors.index.json)` +
      (bin ? '; it has pytorch_model.bin, which ssmae does not read: download the model.safetensors the hub serves beside it, or convert it with safetensors.torch.save_file' : '; download it with the checkpoint'));
  }
  const tensors = new Map<string, NamedTensor>();
  const fileOf = new Map<string, string>();
  for (const f of files) {
    let read: ReturnType<typeof readSafetensors>;
    try {
      read = readSafetensors(f, true);
    } catch (e) {
      throw new UsageError(`${(e as Error).message}; download the file again`);
    }
    for (const [name, t] of read.tensors) {
      if (tensors.has(name)) throw new UsageError(`${f}: tensor '${name}' is also in ${fileOf.get(name)}; each tensor must be in one shard`);
      tensors.set(name, t);
      fileOf.set(name, f);
    }
  }
  return { dir, config, preprocessor, tensors, fileOf };
}

/** Names an architecture from its tensor names, for the error when they are not ViTMAEForPreTraining's. */
function architectureError(ck: HfCheckpoint): string | null {
  const names = [...ck.tensors.keys()];
  const has = (prefix: string) => names.some((n) => n.startsWith(prefix));
  const where = path.join(ck.dir, 'config.json');
  if (has('vit.') && !has('decoder.')) {
    return `${ck.dir}: the checkpoint has an encoder (vit.*) but no MAE decoder (decoder.* tensors): it is a ViTMAEModel or a ` +
      'plain ViT; ssmae needs ViTMAEForPreTraining, whose decoder it keeps training (e.g. facebook/vit-mae-base, not a fine-tuned classifier)';
  }
  if (has('embeddings.') && !has('vit.')) {
    return `${ck.dir}: tensor names start with 'embeddings.' (a bare ViTMAEModel or ViTModel: no MAE decoder); ssmae needs ` +
      "ViTMAEForPreTraining's layout (vit.*, decoder.*)";
  }
  if (!has('vit.embeddings.')) {
    const sample = names.slice(0, 3).join(', ');
    return `${ck.dir}: no ViT-MAE tensors (vit.embeddings.*) among ${names.length} (e.g. ${sample}); model_type in ${where} is ` +
      `'${String(ck.config.model_type ?? 'absent')}'; ssmae imports ViTMAEForPreTraining checkpoints only`;
  }
  return null;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The checkpoint's values for every link, checked by name and shape; also returns the tensors no link used. */
export function importTensors(ck: HfCheckpoint, links: readonly Link[]): { values: Map<string, Float32Array>; unused: string[] } {
  const values = new Map<string, Float32Array>();
  const used = new Set<string>();
  for (const l of links) {
    const parts = l.hf.map(({ name, shape }) => {
      const t = ck.tensors.get(name);
      if (!t) {
        throw new UsageError(`${ck.dir}: tensor '${name}' is missing (expected ${fmt(shape)}, for ${l.ours}); the weights do not match ` +
          'config.json: use the config.json the checkpoint came with');
      }
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new UsageError(`${ck.fileOf.get(name)}: tensor '${name}' has shape ${fmt(t.shape)}, expected ${fmt(shape)} from config.json; ` +
          'the weights do not match config.json: use the config.json the checkpoint came with');
      }
      if (t.dtype !== 'float32' && t.dtype !== 'float64') {
        throw new UsageError(`${ck.fileOf.get(name)}: tensor '${name}' is ${t.dtype}, expected floating point; not a model weight`);
      }
      if (used.has(name)) throw new Error(`tensor ${name} mapped twice`);
      used.add(name);
      return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
    });
    values.set(l.ours, l.toOurs(parts));
  }
  const unused = [...ck.tensors.keys()].filter((n) => !used.has(n));
  return { values, unused };
}

export interface PretrainedOptions extends Omit<ExportOptions, 'preset' | 'imageSize' | 'channels' | 'model'> {
  dir: string;
  /** Image side for the new artifacts; default the checkpoint's. Another size resizes the position tables. */
  imageSize?: number;
  /** Fine-tuning options over the checkpoint's model (drop path, layer decay, freezing). */
  overrides?: Partial<Preset>;
}

/** Fine-tuning defaults for a model that comes from a checkpoint (MAE's fine-tuning recipe, softened for small data). */
export const PRETRAINED_DEFAULTS = { dropPath: 0.1, layerDecay: 0.75 };

/** Builds the model config and the initial weights from a checkpoint folder, and writes the artifacts. */
export function exportFromPretrained(o: PretrainedOptions): Manifest {
  const log = o.log ?? (() => {});
  const ck = readHfCheckpoint(o.dir);
  const cfgFile = path.join(o.dir, 'config.json');
  const channels = typeof ck.config.num_channels === 'number' ? ck.config.num_channels : 3;
  const pre = ck.preprocessor ? pixelNormFromPreprocessor(ck.preprocessor, path.join(o.dir, 'preprocessor_config.json'), channels) : null;
  const hf = presetFromHfConfig(ck.config, cfgFile, `hf:${path.basename(path.resolve(o.dir))}`, pre ?? undefined);
  const archErr = architectureError(ck);
  if (archErr) throw new UsageError(archErr);
  if (hf.defaulted.length) log(`  ${cfgFile} has no ${hf.defaulted.join(', ')}: ViTMAEConfig's defaults apply`);
  if (!pre) log(`  no preprocessor_config.json: pixels are scaled to [-1, 1] (mean 0.5, std 0.5 per channel)`);
  const imageSize = o.imageSize ?? hf.imageSize;
  const preset: Preset = { ...hf.preset, ...PRETRAINED_DEFAULTS, ...(o.overrides ?? {}) };
  if (!pre) preset.pixelNorm = { rescale: 1 / 255, mean: Array(hf.channels).fill(0.5), std: Array(hf.channels).fill(0.5) };
  if (imageSize % preset.patch !== 0) {
    const near = Math.max(1, Math.round(imageSize / preset.patch)) * preset.patch;
    throw new UsageError(`--image-size ${imageSize} is not a multiple of the checkpoint's patch_size ${preset.patch}; use a multiple such as ${near}`);
  }
  const cfg: ModelConfig = modelConfigOf(preset, imageSize, hf.channels, o.classes, o.dtype ?? 'float32', o.maskRatio ?? hf.maskRatio);
  const grid = hf.imageSize / preset.patch;
  const links = hfLinks(cfg, grid);
  const imported = importTensors(ck, links);
  const { values } = imported;
  // A classifier head (classifier.*, as export-weights writes it) belongs to an earlier fine-tuning: the new
  // artifacts have their own classes, so it is set aside, and said so.
  const oldHead: string[] = imported.unused.filter((n) => n === 'classifier.weight' || n === 'classifier.bias');
  if (oldHead.length) log(`  ${oldHead.join(', ')}: a classifier head from an earlier fine-tuning, not used (the new head is initialized from --seed)`);
  const unused = imported.unused.filter((n) => !oldHead.includes(n));
  if (unused.length) {
    throw new UsageError(`${o.dir}: ${unused.length} tensor(s) are not part of ViTMAEForPreTraining as config.json describes it, ` +
      `e.g. '${unused[0]}' ${fmt(ck.tensors.get(unused[0])!.shape)}; the weights do not match config.json, or the model has parts ssmae does not have`);
  }
  const n = Math.round(Math.sqrt(numPatches(cfg)));
  let posResize: ManifestSource['posResize'];
  const init = new Map<string, Float64Array>();
  for (const [name, v] of values) init.set(name, Float64Array.from(v));
  if (n !== grid) {
    // A table that is MAE's fixed sine-cosine one is recomputed at the new grid (what MAE does for fixed tables);
    // any other (trained) table is resampled bicubically, as MAE's interpolate_pos_embed.
    const how = (name: string, D: number): 'sincos' | 'bicubic' => {
      const table = values.get(name)!;
      return maxAbsDiff(table, Float32Array.from(maeSincos2d(grid, D, true))) <= 1e-6 ? 'sincos' : 'bicubic';
    };
    const enc = how('pos', preset.dim);
    const dec = how('dec.pos', preset.decDim);
    init.set('pos', resizePosTable(values.get('pos')!, grid, n, preset.dim, true, enc));
    init.set('dec.pos', resizePosTable(values.get('dec.pos')!, grid, n, preset.decDim, true, dec));
    posResize = { from: grid, to: n, encoder: enc, decoder: dec };
    log(`  position tables ${grid}×${grid} → ${n}×${n}: encoder ${enc === 'sincos' ? 'recomputed (sine-cosine)' : 'bicubic'}, ` +
      `decoder ${dec === 'sincos' ? 'recomputed (sine-cosine)' : 'bicubic'}`);
    // Resized tables are rounded to float32 like every other stored weight.
    for (const k of ['pos', 'dec.pos']) init.set(k, Float64Array.from(Float32Array.from(init.get(k)!)));
  }
  const source: ManifestSource = {
    format: 'hf-vit-mae', dir: path.resolve(o.dir), config: ck.config, preprocessor: ck.preprocessor, tensors: ck.tensors.size - oldHead.length,
    ...(posResize ? { posResize } : {}),
  };
  log(`  ${ck.tensors.size - oldHead.length} checkpoint tensors → ${values.size} parameters; new: classifier head (${o.classes} classes)`);
  return exportArtifacts({
    ...o, preset: preset.name, imageSize, channels: hf.channels, maskRatio: cfg.maskRatio, model: { cfg, init, source },
  });
}
