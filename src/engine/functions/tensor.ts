// The dense float32 tensor (row-major) every engine stage passes around, and its axis operations.
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

/** Row-major layout around `axis`: elements before it, its length, elements after it. */
export function geometry(dims: number[], axis: number): { outer: number; len: number; inner: number } {
  return { outer: numel(dims.slice(0, axis)), len: dims[axis]!, inner: numel(dims.slice(axis + 1)) };
}

/** t[..., start:end, ...] along `axis` (end clamped, as Python slicing), copied. */
export function sliceAxis(t: Tensor, axis: number, start: number, end: number): Tensor {
  const { outer, len, inner } = geometry(t.dims, axis);
  const s = Math.min(Math.max(start, 0), len);
  const e = Math.min(Math.max(end, s), len);
  const n = e - s;
  const out = new Float32Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    out.set(t.data.subarray((o * len + s) * inner, (o * len + e) * inner), o * n * inner);
  }
  const dims = [...t.dims];
  dims[axis] = n;
  return { data: out, dims };
}

/** Concatenation along `axis`; all other dims must agree. */
export function concatAxis(ts: Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw new Error('concatAxis: nothing to concatenate');
  const first = ts[0]!;
  for (const t of ts) {
    if (t.dims.length !== first.dims.length || t.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      throw new Error(`concatAxis: dims [${t.dims.join(',')}] do not match [${first.dims.join(',')}] off axis ${axis}`);
    }
  }
  const total = ts.reduce((a, t) => a + t.dims[axis]!, 0);
  const { outer, inner } = geometry(first.dims, axis);
  const out = new Float32Array(outer * total * inner);
  let offset = 0;
  for (const t of ts) {
    const len = t.dims[axis]!;
    for (let o = 0; o < outer; o++) {
      out.set(t.data.subarray(o * len * inner, (o + 1) * len * inner), (o * total + offset) * inner);
    }
    offset += len;
  }
  const dims = [...first.dims];
  dims[axis] = total;
  return { data: out, dims };
}

/** `x[:, :, from:to]` of a [1,C,T,H,W] tensor (copying), bounds clamped as Python slicing. */
export function sliceTime(x: Tensor, from: number, to: number): Tensor {
  if (x.dims[0] !== 1) throw new Error('sliceTime expects batch size 1.');
  return sliceAxis(x, 2, from, to);
}

/** `torch.cat(parts, dim=2)` of [1,C,Ti,H,W] tensors. */
export function concatTime(parts: readonly Tensor[]): Tensor {
  return concatAxis([...parts], 2);
}
