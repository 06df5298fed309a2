// The data layer's public surface: load a source, split it, augment and sample it.

export { DataError, imageAt, subset, classCounts, pixelsPerImage, type ImageSet, type Logger } from './types.js';
export { loadSource, type LoadOptions } from './source.js';
export { decodeFile, type DecodeFile, type Target } from './decode.js';
export { FASHION_MNIST_CLASSES } from './builtin.js';
