// The one module that touches onnxruntime-node: sessions, execution providers and tensor conversion.
import ort from 'onnxruntime-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { DType } from '../graph/types.js';
import { HostTensor } from './tensor.js';

export type Device = 'cpu' | 'cuda' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads; defaults to the number of cores. */
  threads?: number;
  /** Write an ORT profile (JSON) with this prefix; shows on which provider each node ran. */
  profilePrefix?: string;
  /**
   * Let the intra-op threads spin while waiting for work (ORT's default; off here). A spinning thread holds its core
   * between the step's ~3,000 small nodes, which on cores shared with other processes takes the time the working
   * thread needs: with spinning off the vit-micro-p4 step ran 1.46× faster on the loaded 2-core development machine
   * (docs/BENCHMARKS.md, "CPU engine").
   */
  spin?: boolean;
  /**
   * ORT's parallel executor with this many inter-op threads: independent branches of the graph (a step's teacher and
   * student passes) run at the same time, each node with `threads` intra-op threads. Absent: one node at a time.
   */
  interOpThreads?: number;
}

/** A device that cannot be used here: the CLI prints the message alone and exits with code 2. */
export class DeviceError extends Error {}

/** The shared libraries an execution provider needs beside onnxruntime-node's binding (not bundled with it). */
const PROVIDER_LIBRARIES: Partial<Record<Device, string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
};

/**
 * Refuses a device whose provider is not installed, before any work starts, with the way to install it. On Linux
 * onnxruntime-node loads the CUDA provider from its own bin folder; without it, session creation fails only after
 * ONNX Runtime has printed its own error line.
 */
export function checkDevice(device: Device, flag = '--device'): void {
  const libs = PROVIDER_LIBRARIES[device];
  if (!libs || process.platform !== 'linux') return;
  const binding = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6',
    process.platform, process.arch);
  const missing = libs.filter((l) => !fs.existsSync(path.join(binding, l)));
  if (missing.length > 0) {
    throw new DeviceError(`${flag} ${device}: onnxruntime-node's ${device.toUpperCase()} provider is not installed ` +
      `(${missing.join(' and ')} not found in ${path.normalize(binding)}); install it with ` +
      `npm install --onnxruntime-node-install=cuda12 on a Linux machine with network access (README, "GPU"), or use --device cpu`);
  }
}

const ORT_DTYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool', uint8: 'uint8',
};

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_DTYPE[t.dtype], t.data as never, t.dims as number[]);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (Object.keys(ORT_DTYPE) as DType[]).find((k) => ORT_DTYPE[k] === t.type);
  if (!dtype) throw new Error(`unsupported output type ${t.type}`);
  return { dtype, dims: [...t.dims], data: t.data as HostTensor['data'] };
}

export class Session {
  private constructor(private readonly s: ort.InferenceSession, readonly device: Device) {}

  static async create(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const device = opts.device ?? 'cpu';
    checkDevice(device);
    const providers: string[] = device === 'cpu' ? ['cpu'] : [device, 'cpu'];
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: providers as ort.InferenceSession.SessionOptions['executionProviders'],
      intraOpNumThreads: opts.threads ?? os.availableParallelism(),
      interOpNumThreads: opts.interOpThreads ?? 1,
      executionMode: opts.interOpThreads && opts.interOpThreads > 1 ? 'parallel' : 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' }, inter_op: { allow_spinning: opts.spin ? '1' : '0' } } },
      enableProfiling: !!opts.profilePrefix,
      profileFilePrefix: opts.profilePrefix,
    };
    try {
      const s = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
      return new Session(s, device);
    } catch (e) {
      if (device !== 'cpu') {
        throw new DeviceError(`could not start ONNX Runtime on device '${device}': ${(e as Error).message}. ` +
          `Use --device cpu, or install onnxruntime-node's ${device} provider (README, "GPU").`);
      }
      throw e;
    }
  }

  get inputNames(): readonly string[] { return this.s.inputNames; }
  get outputNames(): readonly string[] { return this.s.outputNames; }
  /** The declared shape of input `name` (symbolic dimensions as strings), or null when it is not a tensor input. */
  inputShape(name: string): readonly (number | string)[] | null {
    const m = this.s.inputMetadata.find((i) => i.name === name);
    return m && m.isTensor ? m.shape : null;
  }

  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const res = fetches ? await this.s.run(ortFeeds, fetches as string[]) : await this.s.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  endProfiling(): void { this.s.endProfiling(); }
  async release(): Promise<void> { await this.s.release(); }
}
