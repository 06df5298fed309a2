// Lists a dump folder on a short-lived thread: the garbage of listing millions of files (directory entries, stat
// results) stays in that thread's heap and goes back to the system when the thread ends; the caller receives only
// the compact listing (one buffer of paths and their offsets).
import { parentPort, workerData } from 'node:worker_threads';
import { listDumpFolder } from './folder.js';

export type ListReply =
  | { bytes: Uint8Array; offsets: Uint32Array; reasons: [number, string][]; fingerprint: string; warnings: string[] }
  | { error: string };

let reply: ListReply;
try {
  const l = listDumpFolder(workerData as string);
  reply = { bytes: l.paths.bytes, offsets: l.paths.offsets, reasons: l.reasons, fingerprint: l.fingerprint, warnings: l.warnings };
} catch (e) {
  reply = { error: (e as Error).message };
}
parentPort!.postMessage(reply, 'bytes' in reply ? [reply.bytes.buffer as ArrayBuffer, reply.offsets.buffer as ArrayBuffer] : []);
