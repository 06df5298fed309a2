// Two ways of writing the same operation, timed alternately run by run in one process (ONNX Runtime's CPU provider,
// optimization level all), each as a chain of ten in one graph so that feeding the input and reading the output
// weigh little. The chains' outputs are compared too. The cases are the engine's choices:
//   layernorm: the ONNX LayerNormalization op against Graph.layerNormDecomposed (what the graphs use by default)
//   bias-grad: a bias gradient (the sum over the leading axes of [B, L, N]) as ReduceSum against ones[1, B·L] · Gemm
//     (measured and not adopted: whole steps gained 0–4%, docs/BENCHMARKS.md 2026-12-08)
//   node dist/bench/op-ab.js [--cases layernorm,bias-grad] [--rounds 20] [--threads 1]
// Prints one JSON line per case and shape: each side's median per op (after 2 warm-up runs), the speed-up, and the
// largest difference between the two sides' outputs.
import * as ort from 'onnxruntime-node';
import { Graph } from '../src/graph/builder.js';
import { serialize } from '../src/graph/serialize.js';
import { Tensor } from '../src/graph/types.js';
import { median } from './timing.js';

const argv = process.argv;
const arg = (k: string, d: string) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const cases = arg('cases', 'layernorm,bias-grad').split(',');
const rounds = Number(arg('rounds', '20'));
const threads = Number(arg('threads', '1'));
const CHAIN = 10;
const f = 'float32';

type Step = (g: Graph, x: Tensor) => Tensor;
interface Side { name: string; step: Step }
const ones = (g: Graph, n: number) => g.constant(f, [n], new Array<number>(n).fill(1));

// The shapes of vit-micro-p4's step at batch 16 + 48 (64 images of 64 patches and a CLS-less mean pool: [64, 64, D]),
// of the teacher's and the MAE's passes ([48, 64, D], [48, 16, D]) and of vit-tiny-p4 (D 192).
const SHAPES: Record<string, number[][]> = {
  layernorm: [[64, 64, 128], [48, 16, 128], [64, 64, 192]],
  'bias-grad': [[64, 64, 128], [64, 64, 512], [48, 16, 96]],
};
const SIDES: Record<string, (shape: number[]) => [Side, Side]> = {
  layernorm: (shape) => {
    const d = shape[shape.length - 1];
    const scale = (g: Graph) => g.constant(f, [d], Array.from({ length: d }, (_, i) => 1 + 0.01 * i));
    const bias = (g: Graph) => g.constant(f, [d], Array.from({ length: d }, (_, i) => 0.02 * i - 0.5));
    return [
      { name: 'LayerNormalization op', step: (g, x) => g.layerNorm(x, scale(g), bias(g)) },
      { name: 'decomposed (10 nodes)', step: (g, x) => g.layerNormDecomposed(x, scale(g), bias(g)) },
    ];
  },
  'bias-grad': (shape) => {
    const n = shape[shape.length - 1];
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    // x + broadcast(Σ_rows x · 1e-4) keeps the chain's values bounded and uses the sum
    const back = (g: Graph, x: Tensor, s: Tensor) => g.add(x, g.mul(g.reshape(s, [n]), g.scalar(f, 1e-4)));
    return [
      { name: 'ReduceSum over leading axes', step: (g, x) => back(g, x, g.reduceSum(x, shape.slice(0, -1).map((_, i) => i), false)) },
      { name: 'Gemm ones[1, rows]', step: (g, x) => back(g, x, g.gemm(g.reshape(ones(g, rows), [1, rows]), g.reshape(x, [rows, n]))) },
    ];
  },
};

for (const c of cases) {
  if (!SIDES[c]) throw new Error(`op-ab: unknown case ${c}; choose from ${Object.keys(SIDES).join(', ')}`);
  for (const shape of SHAPES[c]) {
    const sides = SIDES[c](shape);
    const sessions = await Promise.all(sides.map((side) => {
      const g = new Graph(`op-ab-${c}`);
      let x = g.input('x', f, shape);
      for (let i = 0; i < CHAIN; i++) x = side.step(g, x);
      g.output(x, 'y');
      return ort.InferenceSession.create(serialize(g), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    }));
    const n = shape.reduce((a, b) => a * b, 1);
    const feeds = { x: new ort.Tensor(f, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + 0.3), shape) };
    const ms: number[][] = [[], []];
    const out: Float32Array[] = [];
    for (let r = 0; r < 2 + rounds; r++) {
      for (let i = 0; i < 2; i++) {
        const t0 = performance.now();
        const y = (await sessions[i].run(feeds)).y.data as Float32Array;
        if (r >= 2) ms[i].push((performance.now() - t0) / CHAIN);
        else out[i] = y;
      }
    }
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(out[0][i] - out[1][i]));
    const [a, b] = ms.map(median);
    console.log(JSON.stringify({
      what: 'op-ab', case: c, shape, threads, rounds, [sides[0].name]: +a.toFixed(3), [sides[1].name]: +b.toFixed(3),
      unit: 'ms per op', speedup: +(a / b).toFixed(2), max_abs_diff: diff,
    }));
    for (const s of sessions) await s.release();
  }
}
