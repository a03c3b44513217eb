// safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian data.
// Reads tensor by tensor through a file handle, so a 26 GB checkpoint is never held in memory.
import { open, readFile, writeFile, stat, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bf16ToF32, f16ToF32 } from './dtype.ts';

export type SafeDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<SafeDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  file: string;
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  byteLength: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

async function readHeader(file: string): Promise<{ tensors: TensorInfo[]; metadata: Record<string, string> }> {
  const fh = await open(file, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    const size = (await fh.stat()).size;
    if (headerLen <= 0 || headerLen + 8 > size || headerLen > 100 * 1024 * 1024) {
      throw new SafetensorsError(`${file} is not a safetensors file (bad header length).`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    await fh.read(headerBuf, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new SafetensorsError(`${file} has a corrupt safetensors header.`);
    }
    const base = 8 + headerLen;
    const tensors: TensorInfo[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = value as Record<string, string>;
        continue;
      }
      const v = value as { dtype: SafeDtype; shape: number[]; data_offsets: [number, number] };
      if (!(v.dtype in DTYPE_BYTES)) throw new SafetensorsError(`${file}: tensor ${name} has unsupported dtype ${v.dtype}.`);
      const [start, end] = v.data_offsets;
      const expected = v.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[v.dtype];
      if (end - start !== expected || base + end > size) {
        throw new SafetensorsError(`${file}: tensor ${name} is truncated or malformed.`);
      }
      tensors.push({ name, dtype: v.dtype, shape: v.shape, file, offset: base + start, byteLength: end - start });
    }
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

/** One safetensors file, or a sharded checkpoint described by `*.safetensors.index.json`. */
export class SafetensorsStore {
  private handles = new Map<string, Promise<FileHandle>>();

  private constructor(
    private readonly infos: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  /** Opens a `.safetensors` file, an `.index.json`, or a folder holding either. */
  static async open(path: string): Promise<SafetensorsStore> {
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new SafetensorsError(`${path} does not exist.`);
    if (st.isDirectory()) return SafetensorsStore.open(findWeights(path));
    if (path.endsWith('.index.json')) {
      const index = JSON.parse(await readFile(path, 'utf8')) as { weight_map: Record<string, string> };
      const shards = [...new Set(Object.values(index.weight_map))].sort();
      const infos = new Map<string, TensorInfo>();
      for (const shard of shards) {
        const shardPath = join(dirname(path), shard);
        if (!existsSync(shardPath)) throw new SafetensorsError(`Missing shard ${shard} listed in ${path}.`);
        for (const t of (await readHeader(shardPath)).tensors) infos.set(t.name, t);
      }
      for (const name of Object.keys(index.weight_map)) {
        if (!infos.has(name)) throw new SafetensorsError(`Tensor ${name} listed in ${path} is missing from its shard.`);
      }
      return new SafetensorsStore(infos, {});
    }
    const { tensors, metadata } = await readHeader(path);
    return new SafetensorsStore(new Map(tensors.map((t) => [t.name, t])), metadata);
  }

  keys(): string[] {
    return [...this.infos.keys()].sort();
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new SafetensorsError(`Tensor ${name} is not in the checkpoint.`);
    return info;
  }

  /** The tensor's raw little-endian bytes. */
  async readRaw(name: string): Promise<Buffer> {
    const info = this.info(name);
    let fh = this.handles.get(info.file);
    if (!fh) {
      fh = open(info.file, 'r');
      this.handles.set(info.file, fh);
    }
    const buf = Buffer.allocUnsafe(info.byteLength);
    const { bytesRead } = await (await fh).read(buf, 0, info.byteLength, info.offset);
    if (bytesRead !== info.byteLength) throw new SafetensorsError(`Short read of ${name} from ${info.file}.`);
    return buf;
  }

  /** The tensor as float32, converting F16 / BF16 / F64. */
  async readFloat32(name: string): Promise<Float32Array> {
    return toFloat32(this.info(name).dtype, await this.readRaw(name));
  }

  /** Integer / bool tensors as BigInt64Array (golden files store masks as I64). */
  async readInt64(name: string): Promise<BigInt64Array> {
    const { dtype } = this.info(name);
    const raw = await this.readRaw(name);
    const n = raw.byteLength / DTYPE_BYTES[dtype];
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      if (dtype === 'I64') out[i] = raw.readBigInt64LE(i * 8);
      else if (dtype === 'I32') out[i] = BigInt(raw.readInt32LE(i * 4));
      else if (dtype === 'U8' || dtype === 'BOOL') out[i] = BigInt(raw[i]!);
      else throw new SafetensorsError(`Tensor ${name} (${dtype}) is not an integer tensor.`);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const fh of this.handles.values()) await (await fh).close();
    this.handles.clear();
  }
}

/**
 * The files of a checkpoint folder named `${stem}.safetensors[.index.json]`: the index when sharded
 * (null otherwise) and every file holding tensors, as absolute paths; null when neither exists.
 * Whether the listed shards exist is for the caller to check and report.
 */
export async function checkpointFiles(dir: string, stem: string): Promise<{ index: string | null; weights: string[] } | null> {
  const index = join(dir, `${stem}.safetensors.index.json`);
  if (existsSync(index)) {
    const map = (JSON.parse(await readFile(index, 'utf8')) as { weight_map?: Record<string, string> }).weight_map;
    if (!map || typeof map !== 'object') throw new SafetensorsError(`${index} has no weight_map.`);
    return { index, weights: [...new Set(Object.values(map))].sort().map((s) => join(dir, s)) };
  }
  const single = join(dir, `${stem}.safetensors`);
  return existsSync(single) ? { index: null, weights: [single] } : null;
}

function findWeights(dir: string): string {
  for (const name of ['diffusion_pytorch_model.safetensors.index.json', 'model.safetensors.index.json']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  for (const name of ['diffusion_pytorch_model.safetensors', 'model.safetensors']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new SafetensorsError(
    `No weights in ${dir}: expected model.safetensors, diffusion_pytorch_model.safetensors or a *.safetensors.index.json.`,
  );
}

export function toFloat32(dtype: SafeDtype, raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    default:
      throw new SafetensorsError(`Cannot read ${dtype} as float32.`);
  }
}

export interface TensorToWrite {
  dtype: SafeDtype;
  shape: number[];
  data: Uint8Array;
}

/** Writes a safetensors file with sorted keys (as the reference writer does). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) throw new SafetensorsError(`Tensor ${name}: ${t.data.byteLength} bytes, expected ${expected}.`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  await writeFile(path, Buffer.concat([head, Buffer.from(json), ...names.map((n) => Buffer.from(tensors[n]!.data.buffer, tensors[n]!.data.byteOffset, tensors[n]!.data.byteLength))]));
}
