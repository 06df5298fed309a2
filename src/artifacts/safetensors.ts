// The safetensors format (8-byte little-endian header length, a JSON header, raw little-endian data). The format is
// small and fixed; the one npm package for it is an unmaintained 0.0.1, so the reader and writer live here.
import fs from 'node:fs';
import { DType, TypedArray } from '../graph/types.js';

const CODE: Partial<Record<DType, string>> = { float32: 'F32', float64: 'F64', int64: 'I64', uint8: 'U8', bool: 'BOOL' };
const DTYPE_OF: Record<string, DType> = { F32: 'float32', F64: 'float64', I64: 'int64', U8: 'uint8', BOOL: 'bool' };

export interface NamedTensor { dtype: DType; shape: number[]; data: TypedArray }

export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const code = CODE[t.dtype];
    if (!code) throw new Error(`safetensors: dtype ${t.dtype} of ${name} is not supported`);
    header[name] = { dtype: code, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** float16 / bfloat16 bits → float32 (both exact). */
function widen(bytes: Uint8Array, code: 'F16' | 'BF16'): Float32Array {
  const n = bytes.length / 2;
  const out = new Float32Array(n);
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = u16[i];
    if (code === 'BF16') { u32[i] = h << 16; continue; }
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    out[i] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/**
 * Decodes a safetensors buffer. `widenHalf`: float16 and bfloat16 tensors are read as float32 (exactly), for
 * checkpoints published in half precision; without it they are an error.
 */
export function decodeSafetensors(buf: Buffer, file = 'safetensors', widenHalf = false): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new Error(`${file}: too short to be a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} runs past the end of the file (truncated?)`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = v as Record<string, string>; continue; }
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (widenHalf && (e.dtype === 'F16' || e.dtype === 'BF16')) {
      const [a, b] = e.data_offsets;
      if (base + b > buf.length) throw new Error(`${file}: tensor ${name} runs past the end of the file (truncated?)`);
      const bytes = new Uint8Array(b - a);
      bytes.set(buf.subarray(base + a, base + b));
      tensors.set(name, { dtype: 'float32', shape: e.shape, data: widen(bytes, e.dtype) });
      continue;
    }
    const dtype = DTYPE_OF[e.dtype];
    if (!dtype) throw new Error(`${file}: tensor ${name} has unsupported dtype ${e.dtype}`);
    const [a, b] = e.data_offsets;
    if (base + b > buf.length) throw new Error(`${file}: tensor ${name} runs past the end of the file (truncated?)`);
    const bytes = new Uint8Array(b - a);
    bytes.set(buf.subarray(base + a, base + b)); // copy: aligned storage for the typed view
    const data: TypedArray = dtype === 'float32' ? new Float32Array(bytes.buffer)
      : dtype === 'float64' ? new Float64Array(bytes.buffer)
        : dtype === 'int64' ? new BigInt64Array(bytes.buffer) : bytes;
    tensors.set(name, { dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string, widenHalf = false) {
  return decodeSafetensors(fs.readFileSync(file), file, widenHalf);
}
