// Bridges a checkpoint to graph weights: every parameter is read lazily (at save time), optionally
// transposed for MatMul, and stored as fp32, fp16 or bf16. The binder owns the graph's compute type:
// float16 graphs store weights in fp16 and use them as they are (no Cast at all); float32 graphs
// given a half-precision storage dtype Cast the weight to float32 (bf16 storage of a bf16 checkpoint
// is lossless, and onnxruntime's CPU provider has no bf16 MatMul). With a quantization spec every
// Linear becomes com.microsoft.MatMulNBits over block-quantized weights (./quant.ts).
import type { SafetensorsStore } from '../safetensors.ts';
import { f16ToF32, f32ToF16, float32ToBf16Bytes, float32ToF16Bytes } from '../dtype.ts';
import type { AttentionKernel, ComputeType, ElemType, GraphBuilder } from './graph.ts';
import { quantizeInt8PerChannel, type Int8PerChannel } from './dynamic-int8.ts';
import { isBlockQuant, packedDims, quantize, type BlockQuantSpec, type PackedMatrix, type QuantSpec } from './quant.ts';

export type StorageDtype = 'fp32' | 'fp16' | 'bf16';
/** `--precision`: the compute type of the model set's graphs. */
export type Precision = 'fp32' | 'fp16';
export const PRECISION_COMPUTE: Record<Precision, ComputeType> = { fp32: 'float32', fp16: 'float16' };

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
  /** Override the stored dtype (float32 graphs keep small tensors in fp32). */
  storage?: StorageDtype;
  /** For fp32 islands (norm scales): store fp32 and return a float32 tensor whatever the compute type. */
  float32?: boolean;
  /** Graph-side name; defaults to the checkpoint key. */
  as?: string;
}

export interface BinderOptions {
  /** Storage dtype of float32 graphs' weights (float16 graphs always store fp16). */
  storage?: StorageDtype;
  /** Compute type of the graph; sets `g.compute`. */
  compute?: ComputeType;
  /** Weight-only quantization of every Linear (`matmul()`); undefined keeps them in the compute type. */
  quant?: QuantSpec;
  /** Attention kernel of the graph; sets `g.attention` (default fused). */
  attention?: AttentionKernel;
}

/**
 * Binds checkpoint tensors to a graph. `param()` returns a tensor in the graph's compute type (or
 * float32 when asked for an fp32 island). Weights the builder asks for are recorded so a converter
 * can report unused checkpoint keys.
 */
export class WeightBinder {
  readonly used = new Set<string>();
  readonly storage: StorageDtype;
  readonly quant: QuantSpec | undefined;

  constructor(
    readonly g: GraphBuilder,
    readonly weights: WeightProvider,
    options: StorageDtype | BinderOptions = 'fp32',
  ) {
    const o = typeof options === 'string' ? { storage: options } : options;
    g.compute = o.compute ?? 'float32';
    g.attention = o.attention ?? 'fused';
    this.storage = g.compute === 'float16' ? 'fp16' : (o.storage ?? 'fp32');
    this.quant = o.quant;
  }

  get compute(): ComputeType {
    return this.g.compute;
  }

  has(name: string): boolean {
    return this.weights.has(name);
  }

  shape(name: string): number[] {
    return this.weights.shape(name);
  }

  param(name: string, opts: ParamOptions = {}): string {
    const shape = this.weights.shape(name);
    const storage = opts.float32 ? 'fp32' : this.compute === 'float16' ? 'fp16' : (opts.storage ?? this.storage);
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
    const type = STORAGE_ELEM[storage];
    return opts.float32 || type === this.compute ? stored : this.g.cast(stored, this.compute, type);
  }

  /**
   * x · Wᵀ for a torch Linear weight [out, in]: MatMul over the (transposed) weight, MatMulNBits
   * over its block-quantized form, or DynamicQuantizeMatMul over its per-channel int8 form.
   */
  matmul(x: string, name: string, label = name): string {
    const shape = this.weights.shape(name);
    if (!this.quant || shape.length !== 2) return this.g.op('MatMul', [x, this.param(name, { transpose: true })], {}, undefined, label);
    const [n, k] = shape as [number, number];
    return isBlockQuant(this.quant) ? this.matmulNBits(x, name, n, k, this.quant, label) : this.matmulDynamicInt8(x, name, n, k, label);
  }

  private matmulDynamicInt8(x: string, name: string, n: number, k: number, label: string): string {
    if (this.compute !== 'float32') throw new Error('Dynamic int8 quantization needs a float32 graph (DynamicQuantizeMatMul has no float16 kernel).');
    this.used.add(name);
    let packed: Promise<Int8PerChannel> | undefined;
    const pack = () => (packed ??= this.weights.loadFloat32(name).then((w) => quantizeInt8PerChannel(w, n, k)));
    const b = this.g.weight(`${name}.int8`, { type: 'int8', dims: [k, n], load: async () => new Uint8Array((await pack()).b.buffer) });
    const scales = this.g.weight(`${name}.scales`, {
      type: 'float32',
      dims: [n],
      load: async () => {
        const s = (await pack()).scales;
        packed = undefined;
        return new Uint8Array(s.buffer);
      },
    });
    return this.g.op('DynamicQuantizeMatMul', [x, b, scales], {}, 'com.microsoft', label);
  }

  private matmulNBits(x: string, name: string, n: number, k: number, spec: BlockQuantSpec, label: string): string {
    const d = packedDims(n, k, spec);
    this.used.add(name);
    // One quantization serves the three initializers, which are written one after the other.
    let packed: Promise<PackedMatrix> | undefined;
    const pack = () =>
      (packed ??= this.weights.loadFloat32(name).then((w) => quantize(w, n, k, spec, this.compute === 'float16' ? roundF16 : Math.fround)));
    const scaleStorage: StorageDtype = this.compute === 'float16' ? 'fp16' : 'fp32';
    const b = this.g.weight(`${name}.q${spec.bits}`, { type: 'uint8', dims: d.b, load: async () => (await pack()).b });
    const scales = this.g.weight(`${name}.scales`, {
      type: STORAGE_ELEM[scaleStorage],
      dims: d.scales,
      load: async () => encodeStorage((await pack()).scales, scaleStorage),
    });
    const zp = this.g.weight(`${name}.zero_points`, {
      type: 'uint8',
      dims: d.zeroPoints,
      load: async () => {
        const z = (await pack()).zeroPoints;
        packed = undefined;
        return z;
      },
    });
    return this.g.op('MatMulNBits', [x, b, scales, zp], { K: k, N: n, bits: spec.bits, block_size: spec.blockSize }, 'com.microsoft', label);
  }
}

const roundF16 = (x: number): number => f16ToF32(f32ToF16(x));
