// A small ONNX graph builder. Graph code calls ops by name and gets tensor names back, so model
// builders read like the model. Weights are registered with a lazy loader and written as external
// data at save time, one tensor at a time: a 13B graph never holds its weights in memory.
// The builder also carries the graph's compute type (float32 or float16): float constants, casts
// and the binder's weights follow it, so model builders never name a float type themselves.
import onnxProto from 'onnx-proto';
import { f32ToBf16, f32ToF16 } from '../dtype.ts';
import { open, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

const { onnx } = onnxProto;
type AttrType = (typeof onnx.AttributeProto.AttributeType)[keyof typeof onnx.AttributeProto.AttributeType];

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';
export type Dim = number | string;
/** The float type a graph computes in. bfloat16 is left for later: no provider we can test has its kernels. */
export type ComputeType = 'float32' | 'float16';
export type AttentionKernel = 'fused' | 'composed';

export const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
};

export const ELEM_BYTES: Record<ElemType, number> = {
  float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, bool: 1, uint8: 1, int8: 1,
};

/** Attribute values: numbers are ints unless wrapped with `float()`; arrays likewise. */
export type AttrValue = number | string | number[] | FloatAttr | FloatsAttr | TensorAttr;
export interface FloatAttr { kind: 'float'; value: number }
export interface FloatsAttr { kind: 'floats'; value: number[] }
export interface TensorAttr { kind: 'tensor'; type: ElemType; dims: number[]; data: Uint8Array }
export const float = (value: number): FloatAttr => ({ kind: 'float', value });
export const floats = (value: number[]): FloatsAttr => ({ kind: 'floats', value });

export interface WeightSource {
  type: ElemType;
  dims: number[];
  /** Called once, at save time. Must return exactly prod(dims) * bytes(type) bytes. */
  load: () => Promise<Uint8Array> | Uint8Array;
}

interface Initializer extends WeightSource { name: string }

export interface SaveResult {
  modelPath: string;
  dataPath: string | null;
  weightBytes: number;
}

export class GraphBuilder {
  private nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private inits: Initializer[] = [];
  private smallConsts: InstanceType<typeof onnx.TensorProto>[] = [];
  private names = new Set<string>();
  private counters = new Map<string, number>();
  private constCache = new Map<string, string>();
  private msOpsetUsed = false;
  /** Set once by the WeightBinder (or the caller) before ops are added; float32 by default. */
  compute: ComputeType = 'float32';
  /** How ops.attention() builds attention: the fused com.microsoft op, or MatMul/Softmax (see ops.ts). */
  attention: AttentionKernel = 'fused';

  constructor(
    readonly name: string,
    readonly opset = 17,
  ) {}

  /** A fresh, readable tensor name: `prefix`, `prefix_1`, … */
  fresh(prefix: string): string {
    const base = prefix.replace(/[^A-Za-z0-9_./-]/g, '_');
    let n = this.counters.get(base) ?? 0;
    let name = n === 0 ? base : `${base}_${n}`;
    while (this.names.has(name)) name = `${base}_${++n}`;
    this.counters.set(base, n + 1);
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElemType, shape: Dim[]): string {
    if (this.names.has(name)) throw new Error(`Duplicate graph input ${name}`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** Marks `value` as a graph output named `name` (an Identity is added when the names differ). */
  output(value: string, name: string, type: ElemType = 'float32', shape?: Dim[]): void {
    let v = value;
    if (value !== name) {
      if (this.names.has(name)) throw new Error(`Output name ${name} is already used`);
      this.names.add(name);
      this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` }));
      v = name;
    }
    this.outputs.push(valueInfo(v, type, shape));
  }

  /** A weight stored in the model (external data on save). Returns its tensor name. */
  weight(name: string, source: WeightSource): string {
    if (this.names.has(name)) throw new Error(`Duplicate initializer ${name}`);
    this.names.add(name);
    this.inits.push({ name, ...source });
    return name;
  }

  /** A small constant embedded in the model proto (deduplicated). */
  constant(type: ElemType, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>): string {
    const data = encodeValues(type, values);
    const key = `${type}|${dims.join(',')}|${Buffer.from(data).toString('base64')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const');
    this.smallConsts.push(onnx.TensorProto.create({ name, dims, dataType: ELEM[type], rawData: data }));
    this.constCache.set(key, name);
    return name;
  }

  f32(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.constant('float32', dims ?? (typeof values === 'number' ? [] : [arr.length]), arr);
  }

  /** A float constant in the compute type (scalars get dims []). */
  fc(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.constant(this.compute, dims ?? (typeof values === 'number' ? [] : [arr.length]), arr);
  }

  /** The most negative finite value of the compute type, for additive attention masks. */
  get lowest(): number {
    return this.compute === 'float16' ? -65504 : -3.4028234663852886e38;
  }

  /** Cast to `type` (no node when `from` already is that type). */
  cast(x: string, type: ElemType, from?: ElemType): string {
    if (from === type) return x;
    return this.op('Cast', [x], { to: ELEM[type] });
  }

  /** A float32 tensor into the compute type (fp32 islands → compute); no node in float32 graphs. */
  toCompute(x: string): string {
    return this.cast(x, this.compute, 'float32');
  }

  /** A compute-type tensor into float32 (compute → fp32 islands); no node in float32 graphs. */
  toFloat32(x: string): string {
    return this.cast(x, 'float32', this.compute);
  }

  i64(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.constant('int64', dims ?? (typeof values === 'number' ? [] : [arr.length]), arr.map((v) => BigInt(v)));
  }

  /** Adds a node; returns its output names. */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: number; domain?: string; name?: string } = {},
  ): string[] {
    const prefix = opts.name ?? opType;
    const outs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(i === 0 ? prefix : `${prefix}_o${i}`));
    if (opts.domain === 'com.microsoft') this.msOpsetUsed = true;
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain: opts.domain ?? '',
        input: inputs,
        output: outs,
        name: this.fresh(`n_${prefix}`),
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs;
  }

  /** Single-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain?: string, name?: string): string {
    return this.node(opType, inputs, attrs, { domain, name })[0]!;
  }

  get usesMicrosoftDomain(): boolean {
    return this.msOpsetUsed;
  }

  get weightCount(): number {
    return this.inits.length;
  }

  get weightNames(): string[] {
    return this.inits.map((i) => i.name);
  }

  /** Bytes the weights occupy as stored (and as loaded by a provider that keeps their type). */
  get weightBytes(): number {
    return this.inits.reduce((a, w) => a + w.dims.reduce((x, y) => x * y, 1) * ELEM_BYTES[w.type], 0);
  }

  /** Each weight's name and stored size in bytes. */
  get weightSizes(): Array<{ name: string; bytes: number }> {
    return this.inits.map((w) => ({ name: w.name, bytes: w.dims.reduce((x, y) => x * y, 1) * ELEM_BYTES[w.type] }));
  }

  /** Number of parameters (elements) in all weights. */
  get parameterCount(): number {
    return this.inits.reduce((a, w) => a + w.dims.reduce((x, y) => x * y, 1), 0);
  }

  private modelProto(initializers: InstanceType<typeof onnx.TensorProto>[]) {
    const opsetImport = [{ domain: '', version: this.opset }];
    if (this.msOpsetUsed) opsetImport.push({ domain: 'com.microsoft', version: 1 });
    return onnx.ModelProto.create({
      irVersion: 10,
      producerName: 'recurvid',
      producerVersion: '1',
      opsetImport,
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: [...this.smallConsts, ...initializers],
      }),
    });
  }

  /** The whole model with weights embedded (for small models and tests; protobuf caps this at 2 GB). */
  async toBytes(): Promise<Uint8Array> {
    const inits = [];
    for (const w of this.inits) {
      const data = await loadChecked(w);
      inits.push(onnx.TensorProto.create({ name: w.name, dims: w.dims, dataType: ELEM[w.type], rawData: data }));
    }
    return onnx.ModelProto.encode(this.modelProto(inits)).finish();
  }

  /**
   * Writes `modelPath` and, when there are weights, `modelPath + '.data'` holding them as external
   * data (64-byte aligned, in registration order). Deterministic for the same graph and weights.
   */
  async save(modelPath: string): Promise<SaveResult> {
    await mkdir(dirname(modelPath), { recursive: true });
    const dataPath = this.inits.length ? `${modelPath}.data` : null;
    const inits: InstanceType<typeof onnx.TensorProto>[] = [];
    let offset = 0;
    if (dataPath) {
      const fh = await open(dataPath, 'w');
      try {
        for (const w of this.inits) {
          const data = await loadChecked(w);
          const pad = (64 - (offset % 64)) % 64;
          if (pad) await fh.write(Buffer.alloc(pad));
          offset += pad;
          await fh.write(data);
          inits.push(
            onnx.TensorProto.create({
              name: w.name,
              dims: w.dims,
              dataType: ELEM[w.type],
              dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
              externalData: [
                { key: 'location', value: basename(dataPath) },
                { key: 'offset', value: String(offset) },
                { key: 'length', value: String(data.byteLength) },
              ],
            }),
          );
          offset += data.byteLength;
        }
      } finally {
        await fh.close();
      }
    }
    await writeFile(modelPath, onnx.ModelProto.encode(this.modelProto(inits)).finish());
    return { modelPath, dataPath, weightBytes: offset };
  }
}

/** Weight bytes over several graphs, counting a weight shared by name (e.g. TeaCache's probe) once. */
export function uniqueWeightBytes(graphs: GraphBuilder[]): number {
  const seen = new Map<string, number>();
  for (const g of graphs) for (const w of g.weightSizes) seen.set(w.name, w.bytes);
  let total = 0;
  for (const b of seen.values()) total += b;
  return total;
}

async function loadChecked(w: Initializer): Promise<Uint8Array> {
  const data = await w.load();
  const expected = w.dims.reduce((a, b) => a * b, 1) * ELEM_BYTES[w.type];
  if (data.byteLength !== expected) {
    throw new Error(`Weight ${w.name}: got ${data.byteLength} bytes, expected ${expected} for ${w.type}[${w.dims.join(',')}]`);
  }
  return data;
}

function valueInfo(name: string, type: ElemType, shape?: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: shape ? { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  const make = (type: AttrType, fields: Record<string, unknown>) => onnx.AttributeProto.create({ name, type, ...fields });
  if (typeof v === 'number') return make(T.INT, { i: v });
  if (typeof v === 'string') return make(T.STRING, { s: Buffer.from(v) });
  if (Array.isArray(v)) return make(T.INTS, { ints: v });
  if (v.kind === 'float') return make(T.FLOAT, { f: v.value });
  if (v.kind === 'floats') return make(T.FLOATS, { floats: v.value });
  return make(T.TENSOR, { t: onnx.TensorProto.create({ dims: v.dims, dataType: ELEM[v.type], rawData: v.data }) });
}

export function encodeValues(type: ElemType, values: ArrayLike<number> | ArrayLike<bigint>): Uint8Array {
  const n = values.length;
  const buf = Buffer.alloc(n * ELEM_BYTES[type]);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (type) {
      case 'float32': buf.writeFloatLE(Number(v), i * 4); break;
      case 'float16': buf.writeUInt16LE(f32ToF16(Number(v)), i * 2); break;
      case 'bfloat16': buf.writeUInt16LE(f32ToBf16(Number(v)), i * 2); break;
      case 'int64': buf.writeBigInt64LE(BigInt(v), i * 8); break;
      case 'int32': buf.writeInt32LE(Number(v), i * 4); break;
      case 'bool':
      case 'uint8': buf[i] = Number(v); break;
      case 'int8': buf.writeInt8(Number(v), i); break;
    }
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
