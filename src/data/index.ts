// The data layer's public surface: load a source, split it, augment and sample it.

export { DataError, imageAt, subset, classCounts, pixelsPerImage, type ImageSet, type Logger } from './types.js';
export { loadSource, type LoadOptions } from './source.js';
export { ConcatStore, FileStore, MemoryStore, SubsetStore, readAll, readRange, type ImageStore } from './store.js';
export { decodeFile, type DecodeFile, type Target } from './decode.js';
export { FASHION_MNIST_CLASSES } from './builtin.js';
export { splitLabeled, type Split, type SplitOptions } from './splits.js';
export { augmentBatch, weak, strong, type AugmentKind, type AugmentOptions, type Shape, type StrongOptions, type WeakOptions } from './augment.js';
export { Sampler, type SamplerState } from './sampler.js';
export { Rng, type RngState } from './rng.js';
