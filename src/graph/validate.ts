// Structural validation of a graph before it is written: unique names, every input defined before use (so the
// node list is a topological order and the graph is acyclic), every output defined.
import type { Graph } from './builder.js';

export class GraphError extends Error {}

export function validate(g: Graph): void {
  const defined = new Set<string>();
  const outerDefined = (name: string): boolean => {
    for (let o = g.outer; o; o = o.outer) if (o.values.has(name)) return true;
    return false;
  };
  const def = (name: string, what: string) => {
    if (defined.has(name)) throw new GraphError(`graph ${g.name}: ${what} ${name} is defined more than once`);
    defined.add(name);
  };
  for (const t of g.inputs) def(t.name, 'input');
  for (const name of g.initializers.keys()) def(name, 'initializer');
  const nodeNames = new Set<string>();
  for (const n of g.nodes) {
    if (nodeNames.has(n.name)) throw new GraphError(`graph ${g.name}: node name ${n.name} is used twice`);
    nodeNames.add(n.name);
    for (const i of n.inputs) {
      if (i !== '' && !defined.has(i) && !outerDefined(i)) {
        throw new GraphError(`graph ${g.name}: node ${n.name} (${n.op}) reads ${i} before it is defined (undefined or a cycle)`);
      }
    }
    for (const o of n.outputs) def(o, `output of ${n.name}`);
  }
  for (const t of g.outputs) {
    if (!defined.has(t.name)) throw new GraphError(`graph ${g.name}: output ${t.name} is never produced`);
  }
}
