// Minimal dense float32 tensors (row-major) with the few axis operations tiled VAE coding needs.

export interface Tensor {
  data: Float32Array;
  dims: number[];
}

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

function geometry(dims: number[], axis: number) {
  return { outer: prod(dims.slice(0, axis)), len: dims[axis]!, inner: prod(dims.slice(axis + 1)) };
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

/**
 * diffusers' blend_v / blend_h / blend_t, in place on `b` as the reference does: the first `extent`
 * slices of `b` along `axis` fade from the last `extent` slices of `a` (weight 1 − y/extent) into b's own.
 */
export function blendInto(a: Tensor, b: Tensor, axis: number, extent: number): void {
  const ga = geometry(a.dims, axis);
  const gb = geometry(b.dims, axis);
  if (ga.outer !== gb.outer || ga.inner !== gb.inner) throw new Error('blendInto: tensors differ off the blend axis');
  const n = Math.min(ga.len, gb.len, extent);
  for (let y = 0; y < n; y++) {
    const wb = y / n;
    const wa = 1 - wb;
    const ya = ga.len - n + y;
    for (let o = 0; o < gb.outer; o++) {
      const pa = (o * ga.len + ya) * ga.inner;
      const pb = (o * gb.len + y) * gb.inner;
      for (let k = 0; k < gb.inner; k++) b.data[pb + k] = a.data[pa + k]! * wa + b.data[pb + k]! * wb;
    }
  }
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.data.length !== b.data.length) throw new Error('maxAbsDiff: sizes differ');
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}
