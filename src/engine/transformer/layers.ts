// Layers of the packed transformer shared by the embed, block and head graphs.
// Matmuls, attention and modulation run in the graph's compute type (g.compute); the fp32 islands
// are the timestep sinusoid, the rope tables and their application, the LayerNorm/RMSNorm statistics
// and the residual stream (callers keep it in float32). Sinusoid constants are rounded step by step
// like torch's float32 math so the projections (arguments up to 10 000 rad) match the reference bit-wise.
import type { GraphBuilder } from '../onnx/graph.ts';
import { attention, gelu, layerNorm, linear, reshape, rmsNorm, silu, split, unsqueeze } from '../onnx/ops.ts';
import type { WeightBinder } from '../onnx/weights.ts';

const f = Math.fround;

/** fma(a, b, c) rounded once to float32 (a·b of two float32 values is exact in a double). */
const fmaf = (a: number, b: number, c: number): number => f(a * b + c);

/**
 * torch's CPU float32 exp (SLEEF expf_u10 with FMA, which torch's vectorised kernels call).
 * Not always correctly rounded; we reproduce it because guidance = 10 000 multiplies a one-ulp
 * difference in a timestep frequency into a 6e-4 rad phase error (measured: 20× the final error).
 */
// biome-ignore-start lint/correctness/noPrecisionLoss: the constants are PyTorch's (Sleef's expf) digit for digit, rounded to float32 by f() as there
// biome-ignore-start lint/suspicious/noApproximativeNumericConstant: log2(e) as PyTorch writes it, not Math.LOG2E's double
export function torchExpf(x: number): number {
  const d = f(x);
  const q = Math.round(f(d * f(1.442695040888963407359924681001892137426645954152985934135449406931)));
  let s = fmaf(q, f(-0.693145751953125), d);
  s = fmaf(q, f(-1.428606765330187045e-6), s);
  let u = f(0.000198527617612853646278381);
  for (const c of [0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5]) {
    u = fmaf(u, s, f(c));
  }
  u = f(1 + fmaf(f(s * s), u, s));
  return f(u * 2 ** q);
}
// biome-ignore-end lint/suspicious/noApproximativeNumericConstant: -
// biome-ignore-end lint/correctness/noPrecisionLoss: -

/** diffusers Timesteps(256, flip_sin_to_cos=True, shift 0) frequencies: exp(-ln(1e4)·i/128) in float32. */
export function timestepFrequencies(channels = 256): number[] {
  const half = channels / 2;
  const negLog = f(-Math.log(10000));
  return Array.from({ length: half }, (_, i) => torchExpf(f(f(negLog * i) / half)));
}

/** HunyuanVideoRotaryPosEmbed frequencies 1/theta^(2i/dim) in float32, each repeated twice. */
export function ropeFrequencies(dim: number, theta: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < dim; i += 2) {
    const fr = f(1 / f(f(theta) ** f(f(i) / dim)));
    out.push(fr, fr);
  }
  return out;
}

/** float32 [1] timestep → [1, 256] = [cos(t·f), sin(t·f)], computed in float32, returned in the compute type. */
export function timestepProjection(g: GraphBuilder, t: string): string {
  const freqs = timestepFrequencies();
  const arg = g.op('Mul', [unsqueeze(g, t, [1]), g.f32(freqs, [1, freqs.length])]);
  return g.toCompute(g.op('Concat', [g.op('Cos', [arg]), g.op('Sin', [arg])], { axis: -1 }));
}

/** TimestepEmbedding / PixArtAlphaTextProjection: linear_1 → SiLU → linear_2. */
export function mlpEmbedding(w: WeightBinder, x: string, prefix: string): string {
  return linear(w, silu(w.g, linear(w, x, `${prefix}.linear_1`)), `${prefix}.linear_2`);
}

/** `linear(silu(temb))` chunked into `n` modulation vectors, each [1, 1, D]. */
export function modulation(w: WeightBinder, temb: string, prefix: string, n: number, dim: number): string[] {
  return splitModulation(w.g, modulationVector(w, temb, prefix), n, dim);
}

/** The raw modulation vector linear(silu(temb)), [1, n·dim]. */
export function modulationVector(w: WeightBinder, temb: string, prefix: string): string {
  return linear(w, silu(w.g, temb), prefix);
}

/** [1, n·dim] modulation vector → n tensors [1, 1, dim] (shift, scale, gate, …). */
export function splitModulation(g: GraphBuilder, vector: string, n: number, dim: number): string[] {
  return split(g, unsqueeze(g, vector, [1]), new Array(n).fill(dim), -1);
}

/** LayerNorm without affine (eps 1e-6) of a float32 `x`, then x·(1 + scale) + shift in the compute type. */
export function modulatedNorm(w: WeightBinder, x: string, dim: number, shift: string, scale: string): string {
  const g = w.g;
  const normed = g.toCompute(layerNorm(w, x, dim, 1e-6));
  return g.op('Add', [g.op('Mul', [normed, g.op('Add', [g.fc(1), scale])]), shift]);
}

/** FeedForward: net.0.proj → GELU(tanh) or SiLU → net.2. */
export function feedForward(w: WeightBinder, x: string, prefix: string, act: 'gelu-tanh' | 'silu'): string {
  const h = linear(w, x, `${prefix}.net.0.proj`);
  const a = act === 'silu' ? silu(w.g, h) : gelu(w.g, h, 'tanh');
  return linear(w, a, `${prefix}.net.2`);
}

/** float32 cos / sin tables [1, L, 1, hd] from the packed rope tensor [1, L, 2·hd] (compute type). */
export function ropeTables(g: GraphBuilder, rope: string, headDim: number): { cos: string; sin: string } {
  const [cos, sin] = split(g, g.toFloat32(rope), [headDim, headDim], -1);
  return { cos: unsqueeze(g, cos!, [2]), sin: unsqueeze(g, sin!, [2]) };
}

/**
 * apply_rotary_emb_transposed on x [1, L, H, hd]: x·cos + rot(x)·sin, rot pairs (a, b) → (−b, a).
 * In float32, as the reference (`x.float() * cos + …`, then back to x's type).
 */
export function applyRope(g: GraphBuilder, xc: string, t: { cos: string; sin: string }, headDim: number): string {
  const x = g.toFloat32(xc);
  const pairs = reshape(g, x, [0, 0, 0, headDim / 2, 2]);
  const [re, im] = split(g, pairs, [1, 1], -1);
  const rotated = reshape(g, g.op('Concat', [g.op('Neg', [im!]), re!], { axis: -1 }), [0, 0, 0, headDim]);
  return g.toCompute(g.op('Add', [g.op('Mul', [x, t.cos]), g.op('Mul', [rotated, t.sin])]));
}

/** Projects to heads (compute type), RMS-normalises per head in float32 and optionally applies rope: → [1, L, H, hd]. */
export function headProjection(
  w: WeightBinder,
  x: string,
  proj: string,
  normWeight: string | undefined,
  heads: number,
  headDim: number,
): string {
  const g = w.g;
  const y = reshape(g, linear(w, x, proj), [0, 0, heads, headDim]);
  return normWeight ? g.toCompute(rmsNorm(w, g.toFloat32(y), 1e-6, normWeight)) : y;
}

export const mergeHeads = (g: GraphBuilder, x: string): string => reshape(g, x, [0, 0, -1]);

/** Fused attention on [1, L, H, hd] tensors (merged to [1, L, H·hd] for MultiHeadAttention). */
export function fusedAttention(g: GraphBuilder, q: string, k: string, v: string, heads: number, bias?: string): string {
  return attention(g, mergeHeads(g, q), mergeHeads(g, k), mergeHeads(g, v), { numHeads: heads, ...(bias ? { attentionBias: bias } : {}) });
}

/** The sequence length of x [1, L, …] as an int64 [1] tensor. */
export function seqLen(g: GraphBuilder, x: string): string {
  return g.op('Shape', [x], { start: 1, end: 2 });
}

/** x[:, start:end] along axis 1 with int64 [1] tensors (either may be a fixed number). */
export function sliceTokens(g: GraphBuilder, x: string, start: string | number, end: string | number): string {
  const s = typeof start === 'number' ? g.i64([start]) : start;
  const e = typeof end === 'number' ? g.i64([end]) : end;
  return g.op('Slice', [x, s, e, g.i64([1])]);
}

export const INT64_MAX = Number.MAX_SAFE_INTEGER;
