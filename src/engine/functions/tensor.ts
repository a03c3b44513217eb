// A dense float32 tensor in row-major order. Structurally identical to the transformer runtime's
// Tensor, so values pass between the sampler and the ONNX components without conversion.
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function tensor(dims: number[], data?: Float32Array): Tensor {
  const n = numel(dims);
  if (data && data.length !== n) throw new Error(`Tensor data has ${data.length} values, dims ${dims.join('x')} need ${n}.`);
  return { data: data ?? new Float32Array(n), dims };
}

/**
 * Slices frames [from, to) along the time axis of a [1,C,T,H,W] tensor (copying), like
 * `x[:, :, from:to]` in torch.
 */
export function sliceTime(x: Tensor, from: number, to: number): Tensor {
  const [b, c, t, h, w] = x.dims as [number, number, number, number, number];
  if (b !== 1) throw new Error('sliceTime expects batch size 1.');
  const start = Math.max(0, Math.min(t, from));
  const end = Math.max(start, Math.min(t, to));
  const len = end - start;
  const plane = h * w;
  const out = new Float32Array(c * len * plane);
  for (let ch = 0; ch < c; ch++) {
    out.set(x.data.subarray((ch * t + start) * plane, (ch * t + end) * plane), ch * len * plane);
  }
  return { data: out, dims: [1, c, len, h, w] };
}

/** Concatenates [1,C,Ti,H,W] tensors along time, like `torch.cat(xs, dim=2)`. */
export function concatTime(parts: readonly Tensor[]): Tensor {
  const nonEmpty = parts.filter((p) => p.dims[2]! > 0);
  const first = parts[0];
  if (!first) throw new Error('concatTime needs at least one tensor.');
  const [, c, , h, w] = first.dims as [number, number, number, number, number];
  const plane = h * w;
  const total = parts.reduce((a, p) => a + p.dims[2]!, 0);
  const out = new Float32Array(c * total * plane);
  for (let ch = 0; ch < c; ch++) {
    let at = ch * total * plane;
    for (const p of nonEmpty) {
      if (p.dims[1] !== c || p.dims[3] !== h || p.dims[4] !== w) throw new Error('concatTime: shapes differ.');
      const t = p.dims[2]!;
      out.set(p.data.subarray(ch * t * plane, (ch + 1) * t * plane), at);
      at += t * plane;
    }
  }
  return { data: out, dims: [1, c, total, h, w] };
}
