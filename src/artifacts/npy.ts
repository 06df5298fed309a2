// NumPy's .npy format, version 1.0 (numpy.lib.format): the magic string, a little-endian uint16 header length, a
// Python-literal header dict padded with spaces to a 64-byte boundary and ending in a newline, then the raw data.
import { writeFileAtomic } from './files.js';

/** A float32 [rows, cols] matrix (C order) as .npy bytes. */
export function encodeNpy(data: Float32Array, rows: number, cols: number): Buffer {
  if (data.length !== rows * cols) throw new Error(`npy: ${data.length} values for shape [${rows}, ${cols}]`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const pre = 10; // magic (6) + version (2) + header length (2)
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const out = Buffer.alloc(pre + header.length + data.byteLength);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, pre, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, pre + header.length);
  return out;
}

export function writeNpy(file: string, data: Float32Array, rows: number, cols: number): void {
  writeFileAtomic(file, encodeNpy(data, rows, cols));
}

/** Reads back a float32 2-D .npy written by encodeNpy (or numpy.save): its shape and values. */
export function decodeNpy(buf: Buffer): { shape: [number, number]; data: Float32Array } {
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not an .npy file');
  const n = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + n);
  const m = /'shape': \((\d+), (\d+)\)/.exec(header);
  if (!m || !header.includes("'<f4'")) throw new Error(`npy: unsupported header ${header.trim()}`);
  const bytes = buf.subarray(10 + n);
  const data = new Float32Array(bytes.length / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { shape: [Number(m[1]), Number(m[2])], data };
}
