// Dynamic int8 quantization of a Linear for com.microsoft.DynamicQuantizeMatMul, the CPU fast mode.
// A torch Linear weight W [N, K] (out, in) gets one symmetric scale per output channel,
// scale[n] = max|W[n, :]| / 127, and is stored as the MatMul operand
//   B      int8    [K, N]   B[k, n] = round(W[n, k] / scale[n]), in −127..127 (no zero point)
//   scales float32 [N]
// so W[n, k] ≈ B[k, n] · scale[n]. At run time onnxruntime quantizes each call's activations to
// uint8 with one scale and zero point for the whole tensor and multiplies u8 × s8 on the integer
// matrix units (AMX tiles, AVX-512 VNNI or AVX-VNNI), accumulating in int32: about five times
// the fp32 sgemm rate on a CPU with AMX. −128 is left out so that the weight range is symmetric.
// `dequantizeInt8PerChannel` is the reference the tests hold the packing to.

export interface Int8PerChannel {
  n: number;
  k: number;
  /** [K, N] row-major. */
  b: Int8Array;
  /** [N]. */
  scales: Float32Array;
}

export function quantizeInt8PerChannel(w: Float32Array, n: number, k: number): Int8PerChannel {
  if (w.length !== n * k) throw new Error(`quantizeInt8PerChannel: ${w.length} values for [${n}, ${k}]`);
  const b = new Int8Array(k * n);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const row = w.subarray(r * k, (r + 1) * k);
    let m = 0;
    for (let i = 0; i < k; i++) m = Math.max(m, Math.abs(row[i]!));
    // An all-zero channel keeps scale 1 and zero codes (a zero scale would make the kernel divide by 0 nowhere, but reads badly).
    const scale = m > 0 && Number.isFinite(m) ? Math.fround(m / 127) : 1;
    scales[r] = scale;
    for (let i = 0; i < k; i++) b[i * n + r] = Math.max(-127, Math.min(127, Math.round(row[i]! / scale)));
  }
  return { n, k, b, scales };
}

/** The reference: W [N, K] back from the packed form. */
export function dequantizeInt8PerChannel(p: Int8PerChannel): Float32Array {
  const out = new Float32Array(p.n * p.k);
  for (let r = 0; r < p.n; r++) for (let i = 0; i < p.k; i++) out[r * p.k + i] = p.b[i * p.n + r]! * p.scales[r]!;
  return out;
}

/** Bytes of the packed weight (memory accounting). */
export const int8PerChannelBytes = (n: number, k: number): number => n * k + 4 * n;
