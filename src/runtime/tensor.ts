// The project's own tensor type: a typed array with its dtype and dims. Everything above src/runtime sees only this.
import { DType, TypedArray, typedArrayFor } from '../graph/types.js';

export interface HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TypedArray;
}

export function hostTensor(dtype: DType, dims: readonly number[], data?: TypedArray): HostTensor {
  const n = dims.reduce((p, d) => p * d, 1);
  const d = data ?? typedArrayFor(dtype, n);
  if (d.length !== n) throw new Error(`tensor of dims [${dims}] needs ${n} values, got ${d.length}`);
  return { dtype, dims: [...dims], data: d };
}

export function scalarTensor(dtype: DType, value: number): HostTensor {
  const t = hostTensor(dtype, []);
  if (t.data instanceof BigInt64Array) t.data[0] = BigInt(value);
  else t.data[0] = value;
  return t;
}

/** Values of a float tensor as plain numbers (int64 converted). */
export function toNumbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Tensors of equal dtype and dims stacked on a new leading axis: k × [d…] → [k, d…]. */
export function stackTensors(parts: readonly HostTensor[]): HostTensor {
  const first = parts[0];
  const n = first.data.length;
  const data = typedArrayFor(first.dtype, n * parts.length);
  parts.forEach((p, j) => {
    if (p.dtype !== first.dtype || p.data.length !== n) throw new Error(`stackTensors: part ${j} differs from part 0`);
    (data as Uint8Array).set(p.data as Uint8Array, j * n);
  });
  return { dtype: first.dtype, dims: [parts.length, ...first.dims], data };
}
