// Reverse-mode autodiff over ONNX graphs built with src/graph, emitting only standard ONNX operators.
export { gradients } from './backward.js';
export type { GradientOptions } from './backward.js';
export type { GradRule } from './types.js';
export { AutodiffError } from './types.js';
export { RULES } from './rules.js';
export { unbroadcast } from './util.js';
