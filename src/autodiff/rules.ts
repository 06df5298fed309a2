// The table of gradient rules, one per ONNX operator, and the operators known to have no gradient.
import { GradRule } from './types.js';
import { CompositeRule, compositeRules } from './rules-composite.js';
import { elementwiseRules } from './rules-elementwise.js';
import { layerNormRules } from './rules-layernorm.js';
import { matmulRules } from './rules-matmul.js';
import { reduceRules } from './rules-reduce.js';
import { shapeRules } from './rules-shape.js';

/**
 * Operators that pass no gradient. Most have int/bool outputs and so are never on a float path; the float-valued
 * ones are ReduceMax (treated as a constant: its use here is the max subtracted for a stable softmax or
 * log-sum-exp, where the gradient through the max cancels exactly) and Sign (zero almost everywhere).
 */
const noGradient: GradRule = (_g, node) => node.inputs.map(() => null);
const NO_GRADIENT_OPS = [
  'ReduceMax', 'ArgMax', 'ArgMin', 'Sign', 'Shape', 'Size', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual',
  'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf',
];

export const RULES: Readonly<Record<string, GradRule>> = {
  ...elementwiseRules,
  ...matmulRules,
  ...reduceRules,
  ...layerNormRules,
  ...shapeRules,
  ...Object.fromEntries(NO_GRADIENT_OPS.map((op) => [op, noGradient])),
};

/** Rules for composite functions (Graph.composite), by kind. */
export const COMPOSITE_RULES: Readonly<Record<string, CompositeRule>> = compositeRules;
