// Loading an artifact directory back: the manifest, its model config, and a check of every file's sha256.
import fs from 'node:fs';
import path from 'node:path';
import { ModelConfig } from '../models/presets.js';
import { sha256File, UsageError } from './files.js';
import { Manifest, MANIFEST_FORMAT } from './manifest.js';
import { NamedTensor, readSafetensors } from './safetensors.js';

export interface Artifacts {
  dir: string;
  manifest: Manifest;
  cfg: ModelConfig;
  path(file: string): string;
}

export function loadArtifacts(dir: string, opts: { verify?: boolean } = {}): Artifacts {
  const mf = path.join(dir, 'manifest.json');
  if (!fs.existsSync(mf)) {
    throw new UsageError(`${mf} not found; create artifacts first with: ssmae export --preset vit-micro-p4 ... --out ${dir}`);
  }
  const manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as Manifest;
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new UsageError(`${mf}: manifest format ${manifest.format}, this ssmae reads ${MANIFEST_FORMAT}; re-run ssmae export`);
  }
  if (opts.verify !== false) {
    for (const [file, hash] of Object.entries(manifest.files)) {
      const p = path.join(dir, file);
      if (!fs.existsSync(p)) throw new UsageError(`${p} is missing; re-run ssmae export into ${dir}`);
      if (sha256File(p) !== hash) throw new UsageError(`${p} does not match the sha256 in ${mf} (modified or corrupt); re-run ssmae export`);
    }
  }
  const cfg: ModelConfig = {
    preset: manifest.preset, imageSize: manifest.imageSize, channels: manifest.channels, classes: manifest.classes,
    dtype: manifest.dtype, maskRatio: manifest.maskRatio,
  };
  return { dir, manifest, cfg, path: (f) => path.join(dir, f) };
}

export function loadInitialWeights(a: Artifacts): Map<string, NamedTensor> {
  return readSafetensors(a.path('weights.safetensors')).tensors;
}
