// Static shape arithmetic shared by the builder's operators. Errors name the operator and the shapes involved.
import { Dim, Shape, fmtShape } from './types.js';

export class ShapeError extends Error {}

export function fail(op: string, msg: string): never {
  throw new ShapeError(`${op}: ${msg}`);
}

/** Numpy-style broadcast of two shapes; symbolic dims match only themselves (or 1). */
export function broadcast(op: string, a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else fail(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast (dimension ${i}: ${da} vs ${db})`);
  }
  return out;
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** ONNX Reshape semantics: 0 copies the input dimension, -1 is inferred from the element count. */
export function reshapeShape(op: string, input: Shape, target: readonly number[]): Dim[] {
  const out: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) fail(op, `target ${fmtShape(target)}: 0 at ${i} beyond input rank ${input.length}`);
      return input[i];
    }
    return t;
  });
  const inferred = out.indexOf(-1);
  if (out.lastIndexOf(-1) !== inferred) fail(op, `target ${fmtShape(target)} has more than one -1`);
  // Cancel symbolic dims that appear on both sides, then compare static products.
  const inSyms = input.filter((d): d is string => typeof d === 'string');
  const outSyms = out.filter((d): d is string => typeof d === 'string');
  const left = [...inSyms];
  for (const s of outSyms) {
    const k = left.indexOf(s);
    if (k < 0) fail(op, `cannot reshape ${fmtShape(input)} to ${fmtShape(target)}: symbolic ${s} not in input`);
    left.splice(k, 1);
  }
  if (left.length > 0) fail(op, `cannot reshape ${fmtShape(input)} to ${fmtShape(target)}: symbolic ${left.join(',')} lost`);
  const inProd = input.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
  const outProd = out.reduce<number>((p, d) => (typeof d === 'number' && d !== -1 ? p * d : p), 1);
  if (inferred >= 0) {
    if (inProd % outProd !== 0) fail(op, `cannot reshape ${fmtShape(input)} to ${fmtShape(target)}`);
    out[inferred] = inProd / outProd;
  } else if (inProd !== outProd) {
    fail(op, `cannot reshape ${fmtShape(input)} (${inProd} static elements) to ${fmtShape(target)} (${outProd})`);
  }
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
