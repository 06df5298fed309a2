// Sealed safetensors: a safetensors file whose metadata holds one JSON record under a key of its own and a sha256
// over that record and every tensor byte, so a file damaged after it was written (a bad disk, a copy cut short, an
// edit) is refused by name. Checkpoints (the loop state) and best-validation weights (the best record) are sealed.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { NamedTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';

const SHA_KEY = 'ssmae_sha256';

/** sha256 over the record and the tensor bytes, in the order they are stored. */
function digest(recordJson: string, chunks: Iterable<Uint8Array>): string {
  const h = crypto.createHash('sha256').update(recordJson).update(new Uint8Array([0]));
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

export function encodeSealed(tensors: Map<string, NamedTensor>, key: string, recordJson: string): Buffer {
  const bytes = [...tensors.values()].map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return encodeSafetensors(tensors, { [key]: recordJson, [SHA_KEY]: digest(recordJson, bytes) });
}

/**
 * Reads and verifies a sealed file. `fail` makes the error for a file that is damaged, unreadable, or lacks the record
 * (`notOurs` then says what it is not: "not an ssmae checkpoint (no loop state in its metadata)"). `unsealedOk`
 * accepts a file with the record and no sha256 (written before checksums were added).
 */
export function readSealed(file: string, key: string, notOurs: string, fail: (message: string) => Error,
  opts: { unsealedOk?: boolean } = {}): { record: string; tensors: Map<string, NamedTensor> } {
  const buf = fs.readFileSync(file);
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(buf, file);
  } catch (e) {
    throw fail(`${file} is damaged and cannot be read (${(e as Error).message.replace(`${file}: `, '')})`);
  }
  const { tensors, metadata } = decoded;
  const record = metadata[key];
  if (!record) throw fail(`${file} is ${notOurs}`);
  if (metadata[SHA_KEY] !== undefined || !opts.unsealedOk) {
    const headerLength = Number(buf.readBigUInt64LE(0));
    if (digest(record, [buf.subarray(8 + headerLength)]) !== metadata[SHA_KEY]) {
      throw fail(`${file} is damaged: its contents do not match the sha256 it was written with`);
    }
  }
  return { record, tensors };
}
