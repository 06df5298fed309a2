// Model presets by name (models/*.json). Names carry the numbers: vit-tiny-p4 is DeiT-Tiny width with 4-pixel patches.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FloatDType } from '../graph/types.js';

export interface Preset {
  name: string;
  patch: number;
  dim: number; depth: number; heads: number;          // encoder
  decDim: number; decDepth: number; decHeads: number; // MAE decoder
  mlpRatio: number;
  /**
   * A convolutional tokenizer before the linear embedding (stem.ts): F channels, convolving inside each patch (span
   * 'patch', the default) or across the image ('image'); absent: pixels are embedded.
   */
  stem?: { channels: number; span?: 'patch' | 'image' };
  note?: string;
  // Options below are all optional; absent, each takes the value that reproduces the presets written before it.
  /** A learned CLS token before the patch tokens (ViT-MAE has one; default false). */
  cls?: boolean;
  /** What the classifier reads: 'mean' of the patch tokens (default) or the 'cls' token (needs cls). */
  pool?: 'mean' | 'cls';
  /**
   * 'learned' (default): trained tables started from sincos2d below; 'fixed': MAE's get_2d_sincos_pos_embed tables
   * (column coordinate in the first half of the channels, a zero row for the CLS token), never trained.
   */
  posEmbed?: 'learned' | 'fixed';
  /** Biases on the query/key/value projections (default true). */
  qkvBias?: boolean;
  /** LayerNorm epsilon (default 1e-5; Hugging Face ViT-MAE: 1e-12). */
  layerNormEps?: number;
  /** The MLP's activation; only exact 'gelu' is implemented. */
  hiddenAct?: string;
  /** Reconstruction target normalized per patch (MAE's norm_pix_loss; default true). */
  normPixLoss?: boolean;
  /** MLP hidden widths; default mlpRatio × width. */
  mlpDim?: number;
  decMlpDim?: number;
  /**
   * uint8 pixels → x·rescale, then (x − mean[c]) / std[c] per channel (a Hugging Face preprocessor's rescale_factor,
   * image_mean, image_std). Absent: x·2/255 − 1, the [-1, 1] range of the original presets.
   */
  pixelNorm?: PixelNorm;
  /** Stochastic depth: the drop rate of the last encoder block's residual branches (0 off; blocks ramp up from 0). */
  dropPath?: number;
  /** Layer-wise learning-rate decay (BEiT/MAE fine-tuning): block i trains at lr·decay^(depth−i); 1 off. */
  layerDecay?: number;
  /** The patch embedding, CLS token, position table and the first N encoder blocks are not trained (default 0). */
  freezeBlocks?: number;
}

export interface PixelNorm { rescale: number; mean: number[]; std: number[] }

/** A preset's options with their defaults filled in. */
export interface Arch {
  cls: boolean; pool: 'mean' | 'cls'; posEmbed: 'learned' | 'fixed'; qkvBias: boolean; layerNormEps: number;
  normPixLoss: boolean; mlpDim: number; decMlpDim: number; pixelNorm: PixelNorm | null;
  dropPath: number; layerDecay: number; freezeBlocks: number;
}

export function arch(p: Preset): Arch {
  return {
    cls: p.cls ?? false, pool: p.pool ?? 'mean', posEmbed: p.posEmbed ?? 'learned', qkvBias: p.qkvBias ?? true,
    layerNormEps: p.layerNormEps ?? 1e-5, normPixLoss: p.normPixLoss ?? true,
    mlpDim: p.mlpDim ?? p.mlpRatio * p.dim, decMlpDim: p.decMlpDim ?? p.mlpRatio * p.decDim, pixelNorm: p.pixelNorm ?? null,
    dropPath: p.dropPath ?? 0, layerDecay: p.layerDecay ?? 1, freezeBlocks: p.freezeBlocks ?? 0,
  };
}

/** A preset instantiated for one data shape. */
export interface ModelConfig {
  preset: Preset;
  imageSize: number;
  channels: number;
  classes: number;
  dtype: FloatDType;
  /** Fraction of patches hidden from the encoder in the reconstruction task. */
  maskRatio: number;
}

export class ConfigError extends Error {}

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

export function presetNames(): string[] {
  if (!fs.existsSync(MODELS_DIR)) {
    throw new ConfigError(`the model presets are missing: ${MODELS_DIR} does not exist. ssmae reads its presets from the ` +
      'models/ folder beside dist/; reinstall the package, or copy models/ there with dist/');
  }
  return fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadPreset(name: string): Preset {
  const names = presetNames();
  if (!names.includes(name)) {
    throw new ConfigError(`unknown preset '${name}'; choose one of: ${names.join(', ')}`);
  }
  return JSON.parse(fs.readFileSync(path.join(MODELS_DIR, `${name}.json`), 'utf8')) as Preset;
}

export function modelConfig(presetName: string, imageSize: number, channels: number, classes: number,
  dtype: FloatDType = 'float32', maskRatio = 0.75, overrides: Partial<Preset> = {}): ModelConfig {
  const preset = { ...loadPreset(presetName), ...overrides };
  return modelConfigOf(preset, imageSize, channels, classes, dtype, maskRatio);
}

/** A ModelConfig for a preset given whole (a named preset with overrides, or one read from a checkpoint's config). */
export function modelConfigOf(preset: Preset, imageSize: number, channels: number, classes: number,
  dtype: FloatDType = 'float32', maskRatio = 0.75): ModelConfig {
  const positive = (v: number, what: string, fix: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${what} must be a positive integer, got ${v}; ${fix}`);
  };
  positive(imageSize, '--image-size', 'e.g. --image-size 32');
  positive(channels, '--channels', 'use 1 for grayscale or 3 for RGB');
  positive(classes, '--classes', 'e.g. --classes 10');
  if (imageSize % preset.patch !== 0) {
    throw new ConfigError(`--image-size ${imageSize} is not a multiple of ${preset.name}'s patch size ${preset.patch}; ` +
      `use a multiple such as ${Math.max(1, Math.round(imageSize / preset.patch)) * preset.patch}`);
  }
  if (preset.dim % preset.heads !== 0 || preset.decDim % preset.decHeads !== 0) {
    throw new ConfigError(`preset ${preset.name}: widths must divide by head counts`);
  }
  if (preset.stem && !(preset.patch % 2 === 0 && Number.isInteger(preset.stem.channels) && preset.stem.channels > 0)) {
    throw new ConfigError(`preset ${preset.name}: a conv stem needs an even patch (its 2×2 pooling stays inside the patch) and stem.channels a positive integer`);
  }
  if (preset.stem?.span !== undefined && !['patch', 'image'].includes(preset.stem.span)) {
    throw new ConfigError(`preset ${preset.name}: stem.span must be "patch" or "image", got ${JSON.stringify(preset.stem.span)}`);
  }
  checkArch(preset, channels);
  const cfg = { preset, imageSize, channels, classes, dtype, maskRatio };
  if (keepCount(cfg) < 1) throw new ConfigError(`mask ratio ${maskRatio} leaves no visible patch`);
  return cfg;
}

export function numPatches(cfg: ModelConfig): number {
  return (cfg.imageSize / cfg.preset.patch) ** 2;
}

export function patchDim(cfg: ModelConfig): number {
  return cfg.preset.patch * cfg.preset.patch * cfg.channels;
}

/** Features per token before the linear embedding: the patch's pixels, or the conv stem's pooled channels. */
export function tokenDim(cfg: ModelConfig): number {
  const s = cfg.preset.stem;
  return s ? (cfg.preset.patch / 2) ** 2 * s.channels : patchDim(cfg);
}

/** Patches the encoder sees in the reconstruction task (MAE: L·(1−ratio), rounded down). */
export function keepCount(cfg: ModelConfig): number {
  return Math.floor(numPatches(cfg) * (1 - cfg.maskRatio));
}

/** Validates the optional model options where they are given (a preset file, export flags or a checkpoint's config). */
function checkArch(p: Preset, channels: number): void {
  const a = arch(p);
  const bad = (msg: string): never => { throw new ConfigError(`preset ${p.name}: ${msg}`); };
  if (p.hiddenAct !== undefined && p.hiddenAct !== 'gelu') {
    bad(`hidden_act '${p.hiddenAct}' is not supported; ssmae implements exact 'gelu' only (as PyTorch's nn.GELU)`);
  }
  if (a.pool !== 'mean' && a.pool !== 'cls') bad(`pool must be 'mean' or 'cls', got '${a.pool}'`);
  if (a.pool === 'cls' && !a.cls) bad(`pool 'cls' needs a CLS token (cls: true, or export --cls-token)`);
  if (a.posEmbed !== 'learned' && a.posEmbed !== 'fixed') bad(`posEmbed must be 'learned' or 'fixed', got '${a.posEmbed}'`);
  if (!(a.layerNormEps > 0)) bad(`layer_norm_eps must be > 0, got ${a.layerNormEps}`);
  if (!(a.dropPath >= 0 && a.dropPath < 1)) bad(`drop path rate must be in [0, 1), got ${a.dropPath}`);
  if (!(a.layerDecay > 0 && a.layerDecay <= 1)) bad(`layer decay must be in (0, 1], got ${a.layerDecay}`);
  if (!(Number.isInteger(a.freezeBlocks) && a.freezeBlocks >= 0 && a.freezeBlocks <= p.depth)) {
    bad(`freeze blocks must be an integer in [0, ${p.depth}], got ${a.freezeBlocks}`);
  }
  for (const [v, what] of [[a.mlpDim, 'intermediate_size'], [a.decMlpDim, 'decoder_intermediate_size']] as const) {
    if (!Number.isInteger(v) || v <= 0) bad(`${what} must be a positive integer, got ${v}`);
  }
  if (a.posEmbed === 'fixed' && (p.dim % 4 !== 0 || p.decDim % 4 !== 0)) bad('fixed sine-cosine tables need widths divisible by 4');
  const n = a.pixelNorm;
  if (n) {
    if (!(n.rescale > 0)) bad(`pixel rescale factor must be > 0, got ${n.rescale}`);
    for (const [v, what] of [[n.mean, 'image_mean'], [n.std, 'image_std']] as const) {
      if (!Array.isArray(v) || v.length !== channels) bad(`${what} must have ${channels} value(s), one per channel, got ${JSON.stringify(v)}`);
    }
    if (n.std.some((s) => !(s > 0))) bad(`image_std must be > 0, got ${JSON.stringify(n.std)}`);
  }
}

/** Tokens per image the encoder sees on the full view: the patches, plus the CLS token when there is one. */
export function numTokens(cfg: ModelConfig): number {
  return numPatches(cfg) + (arch(cfg.preset).cls ? 1 : 0);
}
