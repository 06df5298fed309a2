// Reverse-mode differentiation over a built graph. The gradient nodes are appended to the same graph, so one
// ONNX model computes the forward pass, the loss and the gradients.
import { Composite, Graph } from '../graph/builder.js';
import { sameShape } from '../graph/shapes.js';
import { Node, Tensor, fmtShape, isFloat } from '../graph/types.js';
import { COMPOSITE_RULES, RULES } from './rules.js';
import { AutodiffError } from './types.js';
import { zerosLike } from './util.js';

export interface GradientOptions {
  /** Value names treated as constants: no gradient flows into or through them. */
  stop?: ReadonlySet<string>;
}

/**
 * d loss / d w for each w in `wrt`, as tensors of w's dtype and shape appended to `g`. `loss` is a float scalar
 * (shape []). Only nodes on a float path from some w to the loss are differentiated; int and bool values and the
 * names in `stop` carry no gradient. A w with no such path gets zeros.
 */
export function gradients(g: Graph, loss: Tensor, wrt: readonly Tensor[], opts: GradientOptions = {}): Tensor[] {
  if (!isFloat(loss.dtype) || loss.shape.length !== 0) {
    throw new AutodiffError(`gradients: loss ${loss.name} must be a float scalar, got ${loss.dtype} ${fmtShape(loss.shape)}`);
  }
  for (const w of wrt) {
    if (!isFloat(w.dtype)) throw new AutodiffError(`gradients: cannot differentiate with respect to ${w.name} (${w.dtype})`);
  }
  const stop = opts.stop ?? new Set<string>();
  const forward = [...g.nodes]; // the backward nodes appended below are not walked
  const needed = pathValues(g, forward, loss, wrt, stop);
  // Check every rule exists before emitting anything, so a failure leaves the graph untouched.
  for (const node of forward) {
    if (node.outputs.some((o) => needed.has(o)) && !RULES[node.op]) {
      throw new AutodiffError(`gradients: no gradient rule for op ${node.op} (node ${node.name}, output ${node.outputs[0]}), ` +
        `which lies on the path from the parameters to the loss`);
    }
  }

  return g.scope('grad', () => {
    const grads = new Map<string, Tensor>();
    const accumulate = (name: string, t: Tensor) => {
      const prev = grads.get(name);
      grads.set(name, prev ? g.add(prev, t) : t); // fan-out: contributions add
    };
    if (needed.has(loss.name)) grads.set(loss.name, g.scalar(loss.dtype, 1));
    const skip = new Set<string>(); // nodes inside a composite already differentiated as a whole

    for (let i = forward.length - 1; i >= 0; i--) {
      const node = forward[i];
      if (skip.has(node.name) || !node.outputs.some((o) => needed.has(o))) continue;
      const comp = wholeComposite(g, node, grads, stop);
      if (comp) {
        // Gradient nodes are named after what they differentiate (grad/<forward name>/… for a node,
        // grad/<output name>/<composite kind>/… for a composite), so a profile reads by layer and by operator.
        const gradIn = g.scope(`${comp.output.name}/${comp.kind}`, () => COMPOSITE_RULES[comp.kind](g, comp, grads.get(comp.output.name)!));
        comp.inputs.forEach((x, k) => {
          const t = gradIn[k];
          if (!t || !needed.has(x.name)) return;
          checkGradient(node, x, t);
          accumulate(x.name, t);
        });
        for (const n of comp.nodes) skip.add(n);
        continue;
      }
      const gradOut = node.outputs.map((o) => (needed.has(o) ? grads.get(o) ?? null : null));
      if (gradOut.every((t) => t === null)) continue;
      const gradIn = g.scope(node.name, () => RULES[node.op](g, node, gradOut));
      node.inputs.forEach((name, k) => {
        const t = gradIn[k];
        if (!name || !t || !needed.has(name)) return;
        checkGradient(node, g.get(name), t);
        accumulate(name, t);
      });
    }
    return wrt.map((w) => grads.get(w.name) ?? zerosLike(g, w));
  });
}

/**
 * The composite whose output `node` computes, when it can be differentiated as a whole: it has a rule, its output
 * has a gradient, and no value computed inside it has one of its own (which a use outside the composite would give;
 * the uses inside come earlier in the graph, so every gradient from outside has been accumulated by now) or is in
 * `stop`.
 */
function wholeComposite(g: Graph, node: Node, grads: ReadonlyMap<string, Tensor>, stop: ReadonlySet<string>): Composite | null {
  const c = g.composites.get(node.outputs[0]);
  if (!c || !COMPOSITE_RULES[c.kind] || !grads.has(c.output.name)) return null;
  for (const n of g.nodes) {
    if (c.nodes.has(n.name) && n.outputs.some((o) => stop.has(o) || (o !== c.output.name && grads.has(o)))) return null;
  }
  return c;
}

/**
 * The float values that lie on a path from some wrt to the loss: reachable forward from wrt (through float values
 * not in `stop`) and backward from the loss. Only these get gradients, so no useless backward node is emitted.
 */
function pathValues(g: Graph, nodes: readonly Node[], loss: Tensor, wrt: readonly Tensor[], stop: ReadonlySet<string>): Set<string> {
  const carries = (name: string) => !!name && !stop.has(name) && isFloat(g.get(name).dtype);
  const fromWrt = new Set(wrt.map((w) => w.name).filter(carries));
  for (const n of nodes) {
    if (!n.inputs.some((i) => fromWrt.has(i))) continue;
    for (const o of n.outputs) if (carries(o)) fromWrt.add(o);
  }
  const needed = new Set<string>();
  if (fromWrt.has(loss.name)) needed.add(loss.name);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    for (const inp of n.inputs) if (fromWrt.has(inp)) needed.add(inp);
  }
  return needed;
}

function checkGradient(node: Node, x: Tensor, dx: Tensor): void {
  if (dx.dtype !== x.dtype || !sameShape(dx.shape, x.shape)) {
    throw new AutodiffError(`gradient rule for ${node.op} (node ${node.name}) returned ${dx.dtype} ${fmtShape(dx.shape)} ` +
      `for input ${x.name} of ${x.dtype} ${fmtShape(x.shape)}`);
  }
}
