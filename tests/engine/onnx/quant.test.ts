// MatMulNBits packing: our TypeScript quantizer against a dequantize-in-JS reference, and the real
// com.microsoft.MatMulNBits kernel against x · dequant(W)ᵀ computed in JS (which proves the layout).
import { describe, expect, it } from 'vitest';
import { dequantize, packedDims, quantize, quantizedBytes, quantSpec, type BlockQuantSpec } from '../../../src/engine/onnx/quant.ts';
import { GraphBuilder } from '../../../src/engine/onnx/graph.ts';
import { WeightBinder, type WeightProvider } from '../../../src/engine/onnx/weights.ts';
import { createSession, ort } from '../../../src/engine/runtime/session.ts';
import { f16ArrayToFloat32, float32ToF16Array } from '../../../src/engine/dtype.ts';
import { seededNormal } from '../../../src/engine/seeded-random.ts';

function randomMatrix(n: number, k: number, seed: number): Float32Array {
  const r = seededNormal(seed);
  return Float32Array.from({ length: n * k }, () => r());
}

function memoryWeights(tensors: Record<string, { data: Float32Array; shape: number[] }>): WeightProvider {
  return {
    has: (n) => n in tensors,
    shape: (n) => tensors[n]!.shape,
    loadFloat32: async (n) => tensors[n]!.data,
  };
}

const SPECS: BlockQuantSpec[] = [4, 8].flatMap((bits) => [32, 64, 128].map((blockSize) => ({ bits, blockSize }) as BlockQuantSpec));

describe('block quantization (packing)', () => {
  it.each(SPECS)('bits $bits, block $blockSize: codes, scales and zero points reproduce W within half a step', (spec) => {
    const n = 7;
    const k = 200; // not a multiple of any block size: the last block is padded
    const w = randomMatrix(n, k, 11 + spec.bits + spec.blockSize);
    const p = quantize(w, n, k, spec);
    const d = packedDims(n, k, spec);
    expect(p.b.length).toBe(d.b[0] * d.b[1] * d.b[2]);
    expect(p.scales.length).toBe(n * d.blocks);
    expect(p.zeroPoints.length).toBe(d.zeroPoints[0] * d.zeroPoints[1]);
    const back = dequantize(p, spec);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        const scale = p.scales[r * d.blocks + Math.floor(c / spec.blockSize)]!;
        expect(Math.abs(back[r * k + c]! - w[r * k + c]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
      }
    }
    // A coarser grid errs more: 4-bit steps are 17× the 8-bit ones for the same block.
    const steps = Array.from(p.scales);
    const range = (i: number) => {
      const row = Math.floor(i / d.blocks);
      const blk = i % d.blocks;
      const vals = Array.from(w.subarray(row * k + blk * spec.blockSize, row * k + Math.min(k, (blk + 1) * spec.blockSize)));
      return Math.max(0, ...vals) - Math.min(0, ...vals);
    };
    for (const [i, s] of steps.entries()) expect(s).toBeCloseTo(range(i) / (2 ** spec.bits - 1), 6);
  });

  it('4-bit packs low nibble first, zero points per row', () => {
    // One row, K = 32: values chosen so codes are 0..15 with zero point 0 (all non-negative, max 15).
    const w = Float32Array.from({ length: 32 }, (_, i) => i % 16);
    const p = quantize(w, 1, 32, { bits: 4, blockSize: 32 });
    expect(p.scales[0]).toBe(1);
    expect(p.zeroPoints[0]).toBe(0);
    expect(p.b[0]).toBe(0x10); // codes 0 (low), 1 (high)
    expect(p.b[1]).toBe(0x32);
    expect(p.b[7]).toBe(0xfe);
  });

  it('an all-zero block stays exactly zero; quantSpec refuses odd block sizes', () => {
    const p = quantize(new Float32Array(64), 1, 64, { bits: 4, blockSize: 64 });
    expect(Array.from(dequantize(p, { bits: 4, blockSize: 64 })).every((v) => v === 0)).toBe(true);
    expect(() => quantSpec('int4', 48 as 64)).toThrow(/32, 64 or 128/);
    expect(quantSpec('none')).toBeUndefined();
    expect(quantSpec('int8', 128)).toEqual({ bits: 8, blockSize: 128 });
  });

  it('byte accounting: int4/64 with fp16 scales is 0.539 bytes per weight', () => {
    expect(quantizedBytes(4096, 4096, { bits: 4, blockSize: 64 }, 2) / (4096 * 4096)).toBeCloseTo(0.5 + 2 / 64 + 0.5 / 64, 6);
    expect(quantizedBytes(4096, 4096, { bits: 8, blockSize: 64 }, 2) / (4096 * 4096)).toBeCloseTo(1 + 2 / 64 + 1 / 64, 6);
  });
});

describe('MatMulNBits on onnxruntime (CPU) matches x · dequant(W)ᵀ', () => {
  const cases: Array<[BlockQuantSpec, 'float32' | 'float16']> = [
    [{ bits: 4, blockSize: 32 }, 'float32'],
    [{ bits: 4, blockSize: 64 }, 'float32'],
    [{ bits: 8, blockSize: 128 }, 'float32'],
    [{ bits: 4, blockSize: 64 }, 'float16'],
    [{ bits: 8, blockSize: 64 }, 'float16'],
  ];
  it.each(cases)('%o in %s', async (spec, compute) => {
    const n = 48;
    const k = 160;
    const m = 5;
    const weight = randomMatrix(n, k, 3 + spec.bits);
    const x = randomMatrix(m, k, 99);
    const g = new GraphBuilder('nbits');
    const w = new WeightBinder(g, memoryWeights({ 'lin.weight': { data: weight, shape: [n, k] } }), { compute, quant: spec });
    const input = g.input('x', compute, [m, k]);
    g.output(w.matmul(input, 'lin.weight'), 'y', compute, [m, n]);
    expect(g.usesMicrosoftDomain).toBe(true);
    const session = await createSession(await g.toBytes());
    const feed = compute === 'float16' ? new ort.Tensor('float16', float32ToF16Array(x), [m, k]) : new ort.Tensor('float32', x, [m, k]);
    const out = (await session.run({ x: feed })).y!;
    const got = compute === 'float16' ? f16ArrayToFloat32(out.data as Uint16Array) : (out.data as Float32Array);
    await session.release();

    // Reference: the same quantization (fp16-rounded scales in fp16 graphs), dequantized in JS.
    const round = compute === 'float16' ? (v: number) => f16ArrayToFloat32(float32ToF16Array(Float32Array.of(v)))[0]! : Math.fround;
    const deq = dequantize(quantize(weight, n, k, spec, round), spec);
    const xs = compute === 'float16' ? f16ArrayToFloat32(float32ToF16Array(x)) : x;
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let c = 0; c < k; c++) acc += xs[i * k + c]! * deq[j * k + c]!;
        maxErr = Math.max(maxErr, Math.abs(acc - got[i * n + j]!));
        maxRef = Math.max(maxRef, Math.abs(acc));
      }
    }
    // float32: accumulation-order noise only; float16: the output's own rounding (2^-11 relative).
    expect(maxErr / maxRef).toBeLessThan(compute === 'float16' ? 4e-3 : 1e-5);
  });
});
