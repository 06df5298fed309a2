// The decoding thread behind stream.ts: decodes one batch of files at a time with sharp while the main thread runs
// inference (onnxruntime-node's run blocks the main thread, so decodes queued there would wait for it).
import { parentPort } from 'node:worker_threads';
import { decodeFile, forEachBounded, type Target } from './decode.js';

export interface DecodeRequest {
  id: number;
  paths: string[];
  /** Per path: a reason known without decoding (not an image type, empty file), or null to decode it. */
  known: (string | null)[];
  target: Target;
  concurrency: number;
}

export interface DecodeReply {
  id: number;
  /** The decoded images, in path order, failures left out: [decoded, channels, size, size]. */
  images: Uint8Array;
  /** Per path: null when decoded, else why not. */
  failures: (string | null)[];
}

parentPort!.on('message', (m: DecodeRequest) => {
  void decodeBatch(m).then((reply) => parentPort!.postMessage(reply, [reply.images.buffer as ArrayBuffer]));
});

async function decodeBatch(m: DecodeRequest): Promise<DecodeReply> {
  const per = m.target.channels * m.target.size * m.target.size;
  const all = new Uint8Array(m.paths.length * per);
  const failures = m.known.slice();
  await forEachBounded(m.paths.length, m.concurrency, async (k) => {
    if (failures[k] !== null) return;
    try {
      all.set(await decodeFile(m.paths[k], m.target), k * per);
    } catch (e) {
      failures[k] = `cannot decode: ${(e as Error).message.split('\n')[0]}`;
    }
  });
  const ok = failures.filter((f) => f === null).length;
  if (ok === m.paths.length) return { id: m.id, images: all, failures };
  const images = new Uint8Array(ok * per);
  let j = 0;
  for (let k = 0; k < m.paths.length; k++) if (failures[k] === null) images.set(all.subarray(k * per, (k + 1) * per), per * j++);
  return { id: m.id, images, failures };
}
