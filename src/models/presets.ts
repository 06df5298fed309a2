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
  /** A convolutional tokenizer inside each patch before the linear embedding (stem.ts); absent: pixels are embedded. */
  stem?: { channels: number };
  note?: string;
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
  dtype: FloatDType = 'float32', maskRatio = 0.75): ModelConfig {
  const preset = loadPreset(presetName);
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
