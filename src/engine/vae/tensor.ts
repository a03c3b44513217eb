// The blending and comparison helpers tiled VAE coding needs; tensors and their axis slicing live in
// ../functions/tensor.ts, shared with the pipeline.
import { geometry, type Tensor } from '../functions/tensor.ts';

export { concatAxis, sliceAxis, type Tensor } from '../functions/tensor.ts';

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
