import ort from 'onnxruntime-node';
import { Graph } from './dist/src/graph/builder.js';
import { serialize } from './dist/src/graph/serialize.js';
const f = 'float32';
const R = 10;
function viaSplit(g, x, [N, T, h, dh]) { // [N,T,h,dh] -> [N,h,T,dh] by Split on axis 2 and Concat on axis 1
  const parts = g.split(x, 2, new Array(h).fill(1)); // h × [N,T,1,dh]
  return g.concat(parts.map((p) => g.reshape(p, [N, 1, T, dh])), 1);
}
for (const [N, T, h, dh] of [[64, 64, 4, 32], [64, 64, 3, 64], [48, 16, 4, 32]]) {
  const S = [N, T, h, dh];
  const cases = {
    'transpose [0,2,1,3]': (g, x) => g.reshape(g.transpose(x, [0, 2, 1, 3]), S),
    'split+concat': (g, x) => g.reshape(viaSplit(g, x, S), S),
    'add (one pass)': (g, x) => g.add(x, g.scalar(f, 0.1)),
  };
  const res = [];
  let outs = {};
  for (const [name, step] of Object.entries(cases)) {
    const g = new Graph('op');
    let x = g.input('x', f, S);
    for (let i = 0; i < R; i++) x = step(g, x);
    g.output(x, 'y');
    const s = await ort.InferenceSession.create(serialize(g), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const n = S.reduce((a, c) => a * c);
    const feeds = { x: new ort.Tensor(f, Float32Array.from({ length: n }, (_, i) => Math.sin(i)), S) };
    const t = [];
    for (let r = 0; r < 20; r++) { const t0 = performance.now(); const o = await s.run(feeds); t.push(performance.now() - t0); outs[name] = o.y.data; }
    t.sort((a, c) => a - c);
    res.push(`${name} ${(t[10] / R).toFixed(3)} ms`);
  }
  const a = outs['transpose [0,2,1,3]'], b = outs['split+concat'];
  let same = true; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { same = false; break; }
  console.log(S.join('x'), res.join(', '), 'identical:', same);
}
