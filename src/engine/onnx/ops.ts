// Common layers written once over GraphBuilder (opset 17 semantics). Activations are in the graph's
// compute type (g.compute); normalisation statistics are fp32 islands: LayerNorm and RMSNorm take and
// return float32 tensors, and the callers cast around them.
import { float, type GraphBuilder } from './graph.ts';
import type { WeightBinder } from './weights.ts';

export const add = (g: GraphBuilder, a: string, b: string) => g.op('Add', [a, b]);
export const sub = (g: GraphBuilder, a: string, b: string) => g.op('Sub', [a, b]);
export const matmul = (g: GraphBuilder, a: string, b: string) => g.op('MatMul', [a, b]);
export const sigmoid = (g: GraphBuilder, x: string) => g.op('Sigmoid', [x]);
export const silu = (g: GraphBuilder, x: string) => g.op('Mul', [x, g.op('Sigmoid', [x])], {}, undefined, 'silu');
export const reshape = (g: GraphBuilder, x: string, shape: number[]) => g.op('Reshape', [x, g.i64(shape)]);
export const transpose = (g: GraphBuilder, x: string, perm: number[]) => g.op('Transpose', [x], { perm });
export const concat = (g: GraphBuilder, xs: string[], axis: number) => g.op('Concat', xs, { axis });
export const unsqueeze = (g: GraphBuilder, x: string, axes: number[]) => g.op('Unsqueeze', [x, g.i64(axes)]);

export function slice(g: GraphBuilder, x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
  const inputs = [x, g.i64(starts), g.i64(ends), g.i64(axes)];
  if (steps) inputs.push(g.i64(steps));
  return g.op('Slice', inputs);
}

/** Splits `x` along `axis` into pieces of the given sizes. */
export function split(g: GraphBuilder, x: string, sizes: number[], axis: number): string[] {
  return g.node('Split', [x, g.i64(sizes)], { axis }, { outputs: sizes.length });
}

/** GELU, exact (erf) or tanh approximation, built from primitives (opset 17 has no Gelu). */
export function gelu(g: GraphBuilder, x: string, approximate: 'none' | 'tanh' = 'none'): string {
  if (approximate === 'tanh') {
    const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.fc(Math.sqrt(2 / Math.PI)), g.op('Add', [x, g.op('Mul', [x3, g.fc(0.044715)])])]);
    return g.op('Mul', [g.op('Mul', [x, g.fc(0.5)]), g.op('Add', [g.fc(1), g.op('Tanh', [inner])])]);
  }
  const erf = g.op('Erf', [g.op('Div', [x, g.fc(Math.SQRT2)])]);
  return g.op('Mul', [g.op('Mul', [x, g.fc(0.5)]), g.op('Add', [g.fc(1), erf])]);
}

/** y = x · Wᵀ + b for a torch Linear stored as `${prefix}.weight` [out, in] (+ `${prefix}.bias`). */
export function linear(w: WeightBinder, x: string, prefix: string, opts: { bias?: boolean } = {}): string {
  const g = w.g;
  const y = w.matmul(x, `${prefix}.weight`, prefix);
  const hasBias = opts.bias ?? w.has(`${prefix}.bias`);
  return hasBias ? g.op('Add', [y, w.param(`${prefix}.bias`)]) : y;
}

/** LayerNorm over the last axis of a float32 `x` (an fp32 island); without affine weights when `prefix` is undefined. */
export function layerNorm(w: WeightBinder, x: string, dim: number, eps: number, prefix?: string): string {
  const g = w.g;
  const scale = prefix && w.has(`${prefix}.weight`) ? w.param(`${prefix}.weight`, { float32: true }) : g.f32(new Array(dim).fill(1), [dim]);
  const inputs = [x, scale];
  if (prefix && w.has(`${prefix}.bias`)) inputs.push(w.param(`${prefix}.bias`, { float32: true }));
  return g.op('LayerNormalization', inputs, { axis: -1, epsilon: float(eps) });
}

/** RMSNorm over the last axis of a float32 `x` (an fp32 island, as the references compute it). */
export function rmsNorm(w: WeightBinder, x: string, eps: number, weightName?: string): string {
  const g = w.g;
  const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  const normed = g.op('Mul', [x, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.f32(eps)])])])]);
  return weightName ? g.op('Mul', [normed, w.param(weightName, { float32: true })]) : normed;
}

export interface AttentionOptions {
  numHeads: number;
  /** Defaults to 1/sqrt(head_dim). */
  scale?: number;
  /** int32 [B, Lk], 1 = attend, 0 = masked. */
  keyPaddingMask?: string;
  /** Additive float bias broadcastable to [B, heads, Lq, Lk]. */
  attentionBias?: string;
}

/**
 * Fused attention (com.microsoft.MultiHeadAttention): q [B, Lq, H·D], k/v [B, Lk, H·D] → [B, Lq, H·D].
 * Never materialises an explicit score matrix in our graph; the provider picks its kernel.
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, opts: AttentionOptions): string {
  if (g.attention === 'composed') return composedAttention(g, q, k, v, opts);
  const attrs: Record<string, ReturnType<typeof float> | number> = { num_heads: opts.numHeads };
  if (opts.scale !== undefined) attrs.scale = float(opts.scale);
  const inputs = [q, k, v, '', opts.keyPaddingMask ?? ''];
  if (opts.attentionBias) inputs.push(opts.attentionBias);
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  return g.op('MultiHeadAttention', inputs, attrs, 'com.microsoft');
}

/**
 * The same attention from MatMul/Softmax (scores [B, H, Lq, Lk] materialised). For providers whose
 * fused kernel is wrong: onnxruntime 1.30's WebGPU MultiHeadAttention returns wrong values from
 * 32 keys up on lavapipe (measured; tests/engine/runtime/webgpu.test.ts pins it).
 */
function composedAttention(g: GraphBuilder, q: string, k: string, v: string, opts: AttentionOptions): string {
  if (opts.keyPaddingMask) throw new Error('composed attention takes an additive attentionBias, not a key padding mask');
  const heads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.i64([0, 0, opts.numHeads, -1])])], { perm: [0, 2, 1, 3] });
  const kt = g.op('Transpose', [g.op('Reshape', [k, g.i64([0, 0, opts.numHeads, -1])])], { perm: [0, 2, 3, 1] });
  const qh = heads(q);
  const headDim = g.cast(g.op('Shape', [qh], { start: 3, end: 4 }), 'float32');
  const scale = opts.scale !== undefined ? g.f32(opts.scale) : g.op('Reciprocal', [g.op('Sqrt', [headDim])]);
  let scores = g.op('Mul', [g.op('MatMul', [qh, kt]), g.cast(scale, g.compute, 'float32')]);
  if (opts.attentionBias) scores = g.op('Add', [scores, opts.attentionBias]);
  const out = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), heads(v)]);
  return g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1, 3] }), g.i64([0, 0, -1])]);
}
