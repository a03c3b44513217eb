// Weight quantization of the Linears, in two schemes a model set chooses at conversion:
// - weight-only block quantization for com.microsoft.MatMulNBits (memory: int8/int4 sets for small
//   cards), packed in TypeScript. A torch Linear weight W [N, K] (out, in) is cut along K into blocks
//   of `blockSize`; each block gets an asymmetric scale and zero point (min/max including 0, so zero
//   and the padding stay exact):
//     B           uint8 [N, ⌈K/bs⌉, bs·bits/8]   4-bit: two values per byte, low nibble first
//     scales      T     [N, ⌈K/bs⌉]              in the graph's compute type
//     zero_points uint8 [N, ⌈⌈K/bs⌉·bits/8⌉]      4-bit: packed like B, per row
//   and W[n, k] ≈ (q − zp) · scale. `dequantize` is the reference the tests hold the packing to.
// - dynamic int8 (speed: the CPU fast mode), see ./dynamic-int8.ts.

export type QuantBits = 4 | 8;
export type QuantBlockSize = 32 | 64 | 128;
export const QUANT_BLOCK_SIZES: QuantBlockSize[] = [32, 64, 128];

/** Weight-only block quantization (MatMulNBits); manifests written before the dynamic scheme carry no `scheme`. */
export interface BlockQuantSpec {
  scheme?: 'blocks';
  bits: QuantBits;
  blockSize: QuantBlockSize;
}

/**
 * int8 weights per output channel and int8 compute: each call quantizes its activations to uint8
 * (one scale per tensor) and the products run on the CPU's integer matrix units
 * (com.microsoft.DynamicQuantizeMatMul; AMX or AVX-512 VNNI in onnxruntime's MLAS). float32 graphs only.
 */
export interface DynamicInt8Spec {
  scheme: 'int8-dynamic';
}

export type QuantSpec = BlockQuantSpec | DynamicInt8Spec;

/** `--quant` names. */
export type QuantMode = 'none' | 'int8' | 'int4' | 'int8-dynamic';
export const QUANT_MODES: QuantMode[] = ['none', 'int8', 'int4', 'int8-dynamic'];

export const isBlockQuant = (q: QuantSpec): q is BlockQuantSpec => q.scheme !== 'int8-dynamic';

export function quantSpec(mode: QuantMode, blockSize: QuantBlockSize = 64): QuantSpec | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'int8-dynamic') return { scheme: 'int8-dynamic' };
  if (!QUANT_BLOCK_SIZES.includes(blockSize)) throw new Error(`Quantization block size must be 32, 64 or 128 (got ${blockSize}).`);
  return { bits: mode === 'int8' ? 8 : 4, blockSize };
}

/** "int4/64", "int8 dynamic" for logs and listings. */
export function quantLabel(q: QuantSpec): string {
  return isBlockQuant(q) ? `int${q.bits}/${q.blockSize}` : 'int8 dynamic';
}

export interface PackedDims {
  blocks: number;
  b: [number, number, number];
  scales: [number, number];
  zeroPoints: [number, number];
}

export function packedDims(n: number, k: number, spec: BlockQuantSpec): PackedDims {
  const blocks = Math.ceil(k / spec.blockSize);
  return {
    blocks,
    b: [n, blocks, (spec.blockSize * spec.bits) / 8],
    scales: [n, blocks],
    zeroPoints: [n, Math.ceil((blocks * spec.bits) / 8)],
  };
}

export interface PackedMatrix {
  n: number;
  k: number;
  b: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/**
 * Quantizes W [N, K] row-major. `roundScale` rounds a scale to the type it is stored in (float16
 * graphs keep fp16 scales), so the codes are chosen against the scale the kernel will actually use.
 */
export function quantize(w: Float32Array, n: number, k: number, spec: BlockQuantSpec, roundScale: (x: number) => number = Math.fround): PackedMatrix {
  if (w.length !== n * k) throw new Error(`quantize: ${w.length} values for [${n}, ${k}]`);
  const d = packedDims(n, k, spec);
  const bs = spec.blockSize;
  const qmax = (1 << spec.bits) - 1;
  const rowBytes = d.b[1] * d.b[2];
  const b = new Uint8Array(n * rowBytes);
  const scales = new Float32Array(n * d.blocks);
  const zeroPoints = new Uint8Array(n * d.zeroPoints[1]);
  for (let r = 0; r < n; r++) {
    for (let blk = 0; blk < d.blocks; blk++) {
      const start = r * k + blk * bs;
      const len = Math.min(bs, k - blk * bs);
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < len; i++) {
        const v = w[start + i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale = roundScale((hi - lo) / qmax);
      if (!(scale > 0) || !Number.isFinite(scale)) scale = roundScale(1);
      const zp = Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      scales[r * d.blocks + blk] = scale;
      setCode(zeroPoints, r * d.zeroPoints[1], blk, zp, spec.bits);
      const base = r * rowBytes + blk * d.b[2];
      for (let i = 0; i < bs; i++) {
        const q = i < len ? Math.min(qmax, Math.max(0, Math.round(w[start + i]! / scale) + zp)) : zp;
        setCode(b, base, i, q, spec.bits);
      }
    }
  }
  return { n, k, b, scales, zeroPoints };
}

function setCode(buf: Uint8Array, base: number, i: number, q: number, bits: QuantBits): void {
  if (bits === 8) {
    buf[base + i] = q;
    return;
  }
  const at = base + (i >> 1);
  buf[at] = i & 1 ? (buf[at]! & 0x0f) | (q << 4) : (buf[at]! & 0xf0) | q;
}

function getCode(buf: Uint8Array, base: number, i: number, bits: QuantBits): number {
  if (bits === 8) return buf[base + i]!;
  const byte = buf[base + (i >> 1)]!;
  return i & 1 ? byte >> 4 : byte & 0x0f;
}

/** The reference: W [N, K] back from the packed form, (q − zp) · scale. */
export function dequantize(p: PackedMatrix, spec: BlockQuantSpec): Float32Array {
  const d = packedDims(p.n, p.k, spec);
  const out = new Float32Array(p.n * p.k);
  const rowBytes = d.b[1] * d.b[2];
  for (let r = 0; r < p.n; r++) {
    for (let c = 0; c < p.k; c++) {
      const blk = Math.floor(c / spec.blockSize);
      const q = getCode(p.b, r * rowBytes + blk * d.b[2], c % spec.blockSize, spec.bits);
      const zp = getCode(p.zeroPoints, r * d.zeroPoints[1], blk, spec.bits);
      out[r * p.k + c] = (q - zp) * p.scales[r * d.blocks + blk]!;
    }
  }
  return out;
}

/** Bytes of the packed weight with scales of `scaleBytes` each (memory accounting). */
export function quantizedBytes(n: number, k: number, spec: BlockQuantSpec, scaleBytes: number): number {
  const d = packedDims(n, k, spec);
  return d.b[0] * d.b[1] * d.b[2] + d.scales[0] * d.scales[1] * scaleBytes + d.zeroPoints[0] * d.zeroPoints[1];
}
