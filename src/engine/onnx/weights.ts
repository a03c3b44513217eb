// Bridges a checkpoint to graph weights: every parameter is read lazily (at save time), optionally
// transposed for MatMul, and stored as fp32, fp16 or bf16. The graph always computes in float32;
// half-precision weights get a Cast right after them (onnxruntime's CPU provider has no bf16 MatMul).
import type { SafetensorsStore } from '../safetensors.ts';
import { float32ToBf16Bytes, float32ToF16Bytes } from '../dtype.ts';
import type { ElemType, GraphBuilder } from './graph.ts';

export type StorageDtype = 'fp32' | 'fp16' | 'bf16';

export const STORAGE_ELEM: Record<StorageDtype, ElemType> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' };

export interface WeightProvider {
  has(name: string): boolean;
  shape(name: string): number[];
  loadFloat32(name: string): Promise<Float32Array>;
}

export function safetensorsWeights(store: SafetensorsStore): WeightProvider {
  return {
    has: (n) => store.has(n),
    shape: (n) => store.info(n).shape,
    loadFloat32: (n) => store.readFloat32(n),
  };
}

/** Shapes without data: builds a full-size graph (e.g. the 13B config) to count and name parameters. */
export function shapeOnlyWeights(shapes: Map<string, number[]>): WeightProvider {
  return {
    has: (n) => shapes.has(n),
    shape: (n) => {
      const s = shapes.get(n);
      if (!s) throw new Error(`No shape for ${n}`);
      return s;
    },
    loadFloat32: (n) => Promise.reject(new Error(`Shape-only weights cannot load ${n}`)),
  };
}

export function encodeStorage(data: Float32Array, storage: StorageDtype): Uint8Array {
  if (storage === 'fp16') return float32ToF16Bytes(data);
  if (storage === 'bf16') return float32ToBf16Bytes(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

export interface ParamOptions {
  /** Store a 2-D [out, in] weight as [in, out] so it feeds MatMul directly. */
  transpose?: boolean;
  /** Override the stored dtype (norm scales and biases are often kept in fp32). */
  storage?: StorageDtype;
  /** Graph-side name; defaults to the checkpoint key. */
  as?: string;
}

/**
 * Binds checkpoint tensors to a graph. `param()` returns a float32 tensor name usable by any op.
 * Weights the builder asks for are recorded so a converter can report unused checkpoint keys.
 */
export class WeightBinder {
  readonly used = new Set<string>();

  constructor(
    readonly g: GraphBuilder,
    readonly weights: WeightProvider,
    readonly storage: StorageDtype = 'fp32',
  ) {}

  has(name: string): boolean {
    return this.weights.has(name);
  }

  shape(name: string): number[] {
    return this.weights.shape(name);
  }

  param(name: string, opts: ParamOptions = {}): string {
    const shape = this.weights.shape(name);
    const storage = opts.storage ?? this.storage;
    const transpose = opts.transpose === true;
    if (transpose && shape.length !== 2) throw new Error(`Cannot transpose ${name} with shape [${shape.join(',')}]`);
    const dims = transpose ? [shape[1]!, shape[0]!] : shape;
    this.used.add(name);
    const stored = this.g.weight(opts.as ?? name, {
      type: STORAGE_ELEM[storage],
      dims,
      load: async () => {
        const data = await this.weights.loadFloat32(name);
        return encodeStorage(transpose ? transpose2d(data, shape[0]!, shape[1]!) : data, storage);
      },
    });
    return storage === 'fp32' ? stored : this.g.op('Cast', [stored], { to: 1 }, undefined, `${name}_f32`);
  }
}
