// Dynamic int8 (the CPU fast mode): our per-channel packing against its dequantize reference, and the
// real com.microsoft.DynamicQuantizeMatMul kernel against the same computation done in JS with
// integers (uint8 activations per tensor as ONNX DynamicQuantizeLinear defines them × our int8
// weights), which proves the layout and the semantics; plus how far it is from float32.
import { describe, expect, it } from 'vitest';
import { dequantizeInt8PerChannel, int8PerChannelBytes, quantizeInt8PerChannel } from '../../../src/engine/onnx/dynamic-int8.ts';
import { GraphBuilder } from '../../../src/engine/onnx/graph.ts';
import { WeightBinder, type WeightProvider } from '../../../src/engine/onnx/weights.ts';
import { createSession, ort } from '../../../src/engine/runtime/session.ts';
import { seededNormal } from '../../../src/engine/seeded-random.ts';

function randomMatrix(n: number, k: number, seed: number): Float32Array {
  const r = seededNormal(seed);
  return Float32Array.from({ length: n * k }, () => r());
}

const weights = (data: Float32Array, shape: number[]): WeightProvider => ({ has: () => true, shape: () => shape, loadFloat32: async () => data });

/** Round half to even, as DynamicQuantizeLinear does. */
const roundEven = (v: number): number => {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

describe('int8 per-channel packing', () => {
  it('codes lie in −127..127, the largest |w| of each channel maps to ±127, and W comes back within half a step', () => {
    const n = 9;
    const k = 70;
    const w = randomMatrix(n, k, 5);
    w.fill(0, 3 * k, 4 * k); // an all-zero channel
    const p = quantizeInt8PerChannel(w, n, k);
    expect(p.b.length).toBe(k * n);
    const back = dequantizeInt8PerChannel(p);
    for (let r = 0; r < n; r++) {
      const row = Array.from(w.subarray(r * k, (r + 1) * k));
      const codes = Array.from({ length: k }, (_, i) => p.b[i * n + r]!);
      if (r === 3) {
        expect(p.scales[r]).toBe(1);
        expect(codes.every((c) => c === 0)).toBe(true);
        continue;
      }
      expect(Math.max(...codes.map(Math.abs))).toBe(127);
      for (let i = 0; i < k; i++) expect(Math.abs(back[r * k + i]! - row[i]!)).toBeLessThanOrEqual(p.scales[r]! / 2 + 1e-7);
    }
    expect(int8PerChannelBytes(3072, 3072)).toBe(3072 * 3072 + 4 * 3072);
  });
});

describe('DynamicQuantizeMatMul on onnxruntime (CPU)', () => {
  it('equals uint8(x) · int8(W)ᵀ computed with integers, and stays within 1.5 % of float32', async () => {
    const n = 48;
    const k = 160;
    const m = 7;
    const weight = randomMatrix(n, k, 21);
    const x = randomMatrix(m, k, 22).map((v) => v + 0.3); // asymmetric range: the zero point matters
    const g = new GraphBuilder('dq');
    const binder = new WeightBinder(g, weights(weight, [n, k]), { quant: { scheme: 'int8-dynamic' } });
    g.output(binder.matmul(g.input('x', 'float32', [1, m, k]), 'lin.weight'), 'y', 'float32', [1, m, n]);
    expect(g.usesMicrosoftDomain).toBe(true);
    const session = await createSession(await g.toBytes());
    const got = (await session.run({ x: new ort.Tensor('float32', x, [1, m, k]) })).y!.data as Float32Array;
    await session.release();

    const p = quantizeInt8PerChannel(weight, n, k);
    const lo = Math.min(0, ...x);
    const hi = Math.max(0, ...x);
    const xScale = Math.fround((hi - lo) / 255);
    const zp = Math.max(0, Math.min(255, roundEven(-lo / xScale)));
    const qx = x.map((v) => Math.max(0, Math.min(255, roundEven(v / xScale) + zp)));
    let maxErr = 0;
    let maxRef = 0;
    let floatErr = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        let exact = 0;
        for (let c = 0; c < k; c++) {
          acc += (qx[i * k + c]! - zp) * p.b[c * n + j]!;
          exact += x[i * k + c]! * weight[j * k + c]!;
        }
        const want = acc * xScale * p.scales[j]!;
        maxErr = Math.max(maxErr, Math.abs(want - got[i * n + j]!));
        maxRef = Math.max(maxRef, Math.abs(want));
        floatErr = Math.max(floatErr, Math.abs(exact - got[i * n + j]!));
      }
    }
    expect(maxErr / maxRef).toBeLessThan(1e-5);
    expect(floatErr / maxRef).toBeLessThan(1.5e-2);
    expect(floatErr).toBeGreaterThan(0); // it really is quantized
  });

  it('refuses a float16 graph with a sentence', () => {
    const g = new GraphBuilder('dq16');
    const binder = new WeightBinder(g, weights(new Float32Array(4), [2, 2]), { compute: 'float16', quant: { scheme: 'int8-dynamic' } });
    expect(() => binder.matmul(g.input('x', 'float16', [1, 2]), 'lin.weight')).toThrow(/needs a float32 graph/);
  });
});
