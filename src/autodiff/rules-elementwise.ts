// Gradient rules for elementwise operators. Binary operators broadcast (numpy rules), so each operand's gradient
// is summed back to its own shape with `unbroadcast`. Where the output is cheaper to reuse than to recompute
// (Exp, Sqrt, Tanh, Sigmoid, Div) the rule reads the forward output.
import { Graph } from '../graph/builder.js';
import { Tensor, isFloat } from '../graph/types.js';
import { AutodiffError, GradRule } from './types.js';
import { constValues, inputOf, outputOf, unbroadcast } from './util.js';

const one = (g: Graph, like: Tensor): Tensor => g.scalar(like.dtype, 1);
const zero = (g: Graph, like: Tensor): Tensor => g.scalar(like.dtype, 0);

/** For unary ops: d = dY · f'(x), with f'(x) built by `deriv`. */
const unary = (deriv: (g: Graph, x: Tensor, y: Tensor) => Tensor): GradRule => (g, node, [dy]) => {
  if (!dy) return [null];
  return [g.mul(dy, deriv(g, inputOf(g, node, 0), outputOf(g, node)))];
};

export const elementwiseRules: Record<string, GradRule> = {
  Add: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    return [unbroadcast(g, dy, a.shape), unbroadcast(g, dy, b.shape)];
  },
  Sub: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    return [unbroadcast(g, dy, a.shape), unbroadcast(g, g.neg(dy), b.shape)];
  },
  Mul: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = [inputOf(g, node, 0), inputOf(g, node, 1)];
    return [unbroadcast(g, g.mul(dy, b), a.shape), unbroadcast(g, g.mul(dy, a), b.shape)];
  },
  // y = a / b: da = dy / b, db = −dy · a / b² = −dy · y / b (reuses y, avoids squaring b).
  Div: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const [a, b, y] = [inputOf(g, node, 0), inputOf(g, node, 1), outputOf(g, node)];
    const da = g.div(dy, b);
    return [unbroadcast(g, da, a.shape), unbroadcast(g, g.neg(g.mul(da, y)), b.shape)];
  },
  Neg: (g, _node, [dy]) => [dy ? g.neg(dy) : null],
  Identity: (_g, _node, [dy]) => [dy],
  Exp: unary((_g, _x, y) => y),
  Log: (g, node, [dy]) => [dy ? g.div(dy, inputOf(g, node, 0)) : null],
  // d√x = 1 / (2√x) = 0.5 / y
  Sqrt: (g, node, [dy]) => [dy ? g.div(g.mul(dy, g.scalar(dy.dtype, 0.5)), outputOf(g, node)) : null],
  Tanh: unary((g, _x, y) => g.sub(one(g, y), g.mul(y, y))),
  Sigmoid: unary((g, _x, y) => g.mul(y, g.sub(one(g, y), y))),
  // erf'(x) = 2/√π · e^{−x²}
  Erf: unary((g, x) => g.mul(g.exp(g.neg(g.mul(x, x))), g.scalar(x.dtype, 2 / Math.sqrt(Math.PI)))),
  Abs: unary((g, x) => g.sign(x)),
  // The subgradient at x = 0 is taken as 0.
  Relu: (g, node, [dy]) => {
    if (!dy) return [null];
    const x = inputOf(g, node, 0);
    return [g.where(g.greater(x, zero(g, x)), dy, zero(g, dy))];
  },
  // Only a constant exponent p is differentiable here: d(x^p) = p · x^(p−1). No gradient flows to p.
  Pow: (g, node, [dy]) => {
    if (!dy) return [null, null];
    const x = inputOf(g, node, 0);
    const exps = constValues(g, node, 1);
    if (!exps || exps.length !== 1) throw new AutodiffError(`Pow node ${node.name}: exponent must be a constant scalar`);
    const p = exps[0];
    const scaled = g.mul(dy, g.scalar(x.dtype, p));
    if (p === 1) return [scaled, null];
    if (p === 2) return [g.mul(scaled, x), null];
    return [g.mul(scaled, g.pow(x, p - 1)), null];
  },
  // Ties go to the first operand: where a == b, a receives the whole gradient and b none (a subgradient).
  Max: (g, node, gradOut) => minMax(g, node.inputs.length, inputOf(g, node, 0), inputOf(g, node, 1), gradOut[0], 'Max', node.name),
  Min: (g, node, gradOut) => minMax(g, node.inputs.length, inputOf(g, node, 0), inputOf(g, node, 1), gradOut[0], 'Min', node.name),
  // No gradient to the condition.
  Where: (g, node, [dy]) => {
    if (!dy) return [null, null, null];
    const [cond, a, b] = [inputOf(g, node, 0), inputOf(g, node, 1), inputOf(g, node, 2)];
    const z = zero(g, dy);
    return [null, unbroadcast(g, g.where(cond, dy, z), a.shape), unbroadcast(g, g.where(cond, z, dy), b.shape)];
  },
  // Float ↔ float casts pass the gradient, cast back to the input's dtype; casts to or from int/bool block it.
  Cast: (g, node, [dy]) => {
    const x = inputOf(g, node, 0);
    if (!dy || !isFloat(x.dtype) || !isFloat(dy.dtype)) return [null];
    return [x.dtype === dy.dtype ? dy : g.cast(dy, x.dtype)];
  },
};

function minMax(g: Graph, arity: number, a: Tensor, b: Tensor, dy: Tensor | null, op: 'Max' | 'Min', name: string): (Tensor | null)[] {
  if (arity !== 2) throw new AutodiffError(`${op} node ${name}: only the two-operand form is differentiable, got ${arity} operands`);
  if (!dy) return [null, null];
  const aWins = op === 'Max' ? g.greaterOrEqual(a, b) : g.greaterOrEqual(b, a); // bool, broadcast shape = dy's
  const z = g.scalar(dy.dtype, 0);
  return [unbroadcast(g, g.where(aWins, dy, z), a.shape), unbroadcast(g, g.where(aWins, z, dy), b.shape)];
}
