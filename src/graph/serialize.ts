// Serialization of a built Graph to ONNX ModelProto bytes (IR version 8, default domain only), and decoding back
// (for tests that inspect what was written).
import onnxProto from 'onnx-proto';
import { Graph, ONNX_DTYPE, OPSET } from './builder.js';
import { AttrValue, Tensor, TypedArray } from './types.js';
import { validate } from './validate.js';

const { onnx } = onnxProto;
export const IR_VERSION = 8;
const AT = onnx.AttributeProto.AttributeType;

function valueInfo(t: Tensor, doc?: string): onnxProto.onnx.IValueInfoProto {
  return {
    name: t.name,
    docString: doc ?? '',
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[t.dtype],
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function rawBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; use float() for floats`);
    return { name, type: AT.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  switch (v.kind) {
    case 'float': return { name, type: AT.FLOAT, f: v.value };
    case 'floats': return { name, type: AT.FLOATS, floats: v.value };
    case 'graph': validate(v.value as Graph); return { name, type: AT.GRAPH, g: graphProto(v.value as Graph) };
  }
}

export function graphProto(g: Graph): onnxProto.onnx.IGraphProto {
  return {
    name: g.name,
    input: g.inputs.map((t) => valueInfo(t, g.docs.get(t.name))),
    output: g.outputs.map((t) => valueInfo(t, g.docs.get(t.name))),
    initializer: [...g.initializers.values()].map(({ tensor, data }) => ({
      name: tensor.name,
      dataType: ONNX_DTYPE[tensor.dtype],
      dims: tensor.shape as number[],
      rawData: rawBytes(data),
    })),
    node: g.nodes.map((n) => ({
      opType: n.op,
      domain: '',
      name: n.name,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
    })),
  };
}

export function serialize(g: Graph, doc = '', metadata: Record<string, string> = {}): Uint8Array {
  validate(g);
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'ssmae',
    docString: doc,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: graphProto(g),
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Every (domain, opType) of every node in a decoded model, Loop and If bodies included. */
export function allNodes(graph: onnxProto.onnx.IGraphProto): onnxProto.onnx.INodeProto[] {
  const out: onnxProto.onnx.INodeProto[] = [];
  for (const n of graph.node ?? []) {
    out.push(n);
    for (const a of n.attribute ?? []) if (a.g) out.push(...allNodes(a.g));
  }
  return out;
}
