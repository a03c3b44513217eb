// Additive attention biases shared by the text encoders. Masked entries get float32's lowest
// value (transformers uses finfo(float32).min), never -inf, so a fully masked row stays finite.
import type { GraphBuilder } from '../onnx/graph.ts';

export const F32_MIN = -3.4028234663852886e38;

/** Scalar-in-1D int64 [1] holding L = ids.shape[1]. */
export function sequenceLength(g: GraphBuilder, ids: string): string {
  return g.op('Squeeze', [g.op('Shape', [ids], { start: 1, end: 2 })]);
}

/** [1, 1, L, L] bool: key j visible from query i when j <= i. */
function causalAllowed(g: GraphBuilder, ids: string): string {
  const ar = g.op('Range', [g.i64(0), sequenceLength(g, ids), g.i64(1)]);
  const keys = g.op('Unsqueeze', [ar, g.i64([0])]);
  const queries = g.op('Unsqueeze', [ar, g.i64([1])]);
  return g.op('Unsqueeze', [g.op('LessOrEqual', [keys, queries]), g.i64([0, 1])]);
}

function toBias(g: GraphBuilder, allowed: string): string {
  return g.op('Where', [allowed, g.f32(0), g.f32(F32_MIN)]);
}

/** Causal bias [1, 1, L, L] (CLIP text). */
export function causalBias(g: GraphBuilder, ids: string): string {
  return toBias(g, causalAllowed(g, ids));
}

/** Causal + key padding bias [B, 1, L, L] from an int64 attention_mask [B, L] (LLaMA). */
export function causalPaddingBias(g: GraphBuilder, ids: string, mask: string): string {
  const keyOk = g.op('Unsqueeze', [g.op('Equal', [mask, g.i64(1)]), g.i64([1, 2])]);
  return toBias(g, g.op('And', [causalAllowed(g, ids), keyOk]));
}
