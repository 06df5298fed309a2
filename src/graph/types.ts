// The value types the builder knows. Every tensor carries its dtype and a static shape; a dimension may be a
// symbolic name (e.g. "N" for a batch size fixed only at run time).

export type DType = 'float32' | 'float64' | 'int64' | 'bool' | 'uint8';
export type FloatDType = 'float32' | 'float64';
export type Dim = number | string;
export type Shape = readonly Dim[];

/** A handle to a value in a graph: its name, dtype and shape. Builders pass these around; they hold no data. */
export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr | SubgraphAttr;
/** A float attribute (ONNX distinguishes INT from FLOAT; JavaScript numbers do not). */
export interface FloatAttr { readonly kind: 'float'; readonly value: number }
export interface FloatsAttr { readonly kind: 'floats'; readonly value: number[] }
/** A graph-valued attribute (Loop/If bodies). Its type is opaque here; serialize.ts knows it. */
export interface SubgraphAttr { readonly kind: 'graph'; readonly value: unknown }

export const float = (value: number): FloatAttr => ({ kind: 'float', value });
export const floats = (value: number[]): FloatsAttr => ({ kind: 'floats', value });

export interface Node {
  readonly op: string;
  readonly inputs: readonly string[]; // '' for an omitted optional input
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly name: string;
}

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Uint8Array;

export interface Initializer {
  readonly tensor: Tensor;
  readonly data: TypedArray;
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new Error(`numel: shape [${shape.join(', ')}] has a symbolic dimension`);
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function typedArrayFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'bool':
    case 'uint8': return new Uint8Array(n);
  }
}
