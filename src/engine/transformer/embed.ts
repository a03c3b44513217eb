// Graph (a) "embed": everything before the blocks. Packs [4×, 2×, clean 1×, noisy] latent tokens
// with their 3D rope, embeds timestep + guidance + pooled text, refines the text tokens, prepends
// the SigLIP projection and crops [image; text] to the mask length (the reference's batch-1 path).
// Also emits transformer_blocks[0].norm1's modulated input, which TeaCache compares between steps.
import { GraphBuilder } from '../onnx/graph.ts';
import { layerNorm, linear, reshape, silu, transpose, unsqueeze } from '../onnx/ops.ts';
import type { WeightBinder } from '../onnx/weights.ts';
import { innerDim, type PackedTransformerConfig } from './config.ts';
import {
  feedForward,
  fusedAttention,
  headProjection,
  mlpEmbedding,
  modulatedNorm,
  modulation,
  modulationVector,
  ropeFrequencies,
  splitModulation,
  sliceTokens,
  timestepProjection,
} from './layers.ts';

/** Block 0's norm1 modulation vector [1, 6·D]: computed in embed (TeaCache's probe needs it), fed to block 0. */
export const BLOCK0_MODULATION = 'block0_modulation';

type Kernel = [number, number, number];

/** int64 [5] pads for Pad: replicate-pad the end of T, H, W of a [1, C, T, H, W] tensor to multiples of k. */
function padToMultiple(g: GraphBuilder, x: string, k: Kernel): string {
  const thw = g.op('Shape', [x], { start: 2, end: 5 });
  const kk = g.i64(k);
  const endPads = g.op('Mod', [g.op('Sub', [kk, g.op('Mod', [thw, kk])]), kk]);
  const pads = g.op('Concat', [g.i64([0, 0, 0, 0, 0, 0, 0]), endPads], { axis: 0 });
  return g.op('Pad', [x, pads], { mode: 'edge' });
}

/** Conv3d with stride = kernel, flattened to tokens [1, N, D]; returns also the conv output. */
function patchEmbed(w: WeightBinder, x: string, prefix: string, kernel: Kernel): { tokens: string; grid: string } {
  const g = w.g;
  const grid = g.op('Conv', [x, w.param(`${prefix}.weight`), w.param(`${prefix}.bias`)], { kernel_shape: kernel, strides: kernel });
  return { tokens: transpose(g, reshape(g, grid, [0, 0, -1]), [0, 2, 1]), grid };
}

/**
 * Rope table [T, H, W, 2·hd] = [cosT, cosY, cosX, sinT, sinY, sinX] for frame indices (int64 [T]) on
 * an H×W grid (int64 [1] each), as HunyuanVideoRotaryPosEmbed.forward_inner.
 */
function ropeGrid(g: GraphBuilder, cfg: PackedTransformerConfig, frames: string, h: string, w: string): string {
  const [dt, dy, dx] = cfg.ropeAxesDim;
  const axisPos = [
    g.cast(frames, 'float32'),
    g.op('Range', [g.f32(0), g.cast(g.op('Squeeze', [h, g.i64([0])]), 'float32'), g.f32(1)]),
    g.op('Range', [g.f32(0), g.cast(g.op('Squeeze', [w, g.i64([0])]), 'float32'), g.f32(1)]),
  ];
  const dims = [dt, dy, dx];
  const layouts = [[-1, 1, 1], [1, -1, 1], [1, 1, -1]];
  const t = g.op('Shape', [frames]);
  const cos: string[] = [];
  const sin: string[] = [];
  for (let a = 0; a < 3; a++) {
    const d = dims[a]!;
    const angles = g.op('Mul', [unsqueeze(g, axisPos[a]!, [1]), g.f32(ropeFrequencies(d, cfg.ropeTheta), [1, d])]);
    const shaped = (x: string) => {
      const r = reshape(g, x, [...layouts[a]!, d]);
      return g.op('Expand', [r, g.op('Concat', [t, h, w, g.i64([d])], { axis: 0 })]);
    };
    cos.push(shaped(g.op('Cos', [angles])));
    sin.push(shaped(g.op('Sin', [angles])));
  }
  return g.op('Concat', [...cos, ...sin], { axis: -1 });
}

/** [T, H, W, C] rope → tokens [1, N, C], optionally replicate-padded and average-pooled by k. */
function ropeTokens(g: GraphBuilder, grid: string, channels: number, pool?: Kernel): string {
  if (!pool) return reshape(g, grid, [1, -1, channels]);
  const ncthw = unsqueeze(g, transpose(g, grid, [3, 0, 1, 2]), [0]);
  const pooled = g.op('AveragePool', [padToMultiple(g, ncthw, pool)], { kernel_shape: pool, strides: pool });
  return transpose(g, reshape(g, pooled, [1, channels, -1]), [0, 2, 1]);
}

export function buildEmbedGraph(cfg: PackedTransformerConfig, bind: (g: GraphBuilder) => WeightBinder): { graph: GraphBuilder; binder: WeightBinder } {
  const g = new GraphBuilder('framepack_transformer_embed');
  const w = bind(g);
  const D = innerDim(cfg);
  const hd = cfg.headDim;
  // Inputs come from the JS side in float32 and are cast to the compute type where they enter a matmul.
  const ct = g.compute;
  const lat = (name: string, t: string) => g.toCompute(g.input(name, 'float32', [1, 16, t, 'H', 'W']));
  const x = g.toCompute(g.input('hidden_states', 'float32', [1, cfg.inChannels, 'T', 'H', 'W']));
  const timestep = g.input('timestep', 'float32', [1]);
  const guidance = g.input('guidance', 'float32', [1]);
  const text = g.input('encoder_hidden_states', 'float32', [1, 'Lt', cfg.textEmbedDim]);
  const mask = g.input('encoder_attention_mask', 'float32', [1, 'Lt']);
  const pooled = g.input('pooled_projections', 'float32', [1, cfg.pooledDim]);
  const image = g.input('image_embeddings', 'float32', [1, 'Ni', cfg.imageDim]);
  const idx = g.input('latent_indices', 'int64', ['T']);
  const clean = lat('clean_latents', 'T1');
  const cleanIdx = g.input('clean_latent_indices', 'int64', ['T1']);
  const clean2 = lat('clean_latents_2x', 'T2');
  const clean2Idx = g.input('clean_latent_2x_indices', 'int64', ['T2']);
  const clean4 = lat('clean_latents_4x', 'T4');
  const clean4Idx = g.input('clean_latent_4x_indices', 'int64', ['T4']);

  // 1. Latent tokens and rope, in the reference's order [4×, 2×, clean 1×, noisy].
  const noisy = patchEmbed(w, x, 'x_embedder.proj', [cfg.patchSizeT, cfg.patchSize, cfg.patchSize]);
  const ph = g.op('Shape', [noisy.grid], { start: 3, end: 4 });
  const pw = g.op('Shape', [noisy.grid], { start: 4, end: 5 });
  const ropeFor = (frames: string, pool?: Kernel) => ropeTokens(g, ropeGrid(g, cfg, frames, ph, pw), 2 * hd, pool);
  const c1 = patchEmbed(w, clean, 'clean_x_embedder.proj', [1, 2, 2]);
  const c2 = patchEmbed(w, padToMultiple(g, clean2, [2, 4, 4]), 'clean_x_embedder.proj_2x', [2, 4, 4]);
  const c4 = patchEmbed(w, padToMultiple(g, clean4, [4, 8, 8]), 'clean_x_embedder.proj_4x', [4, 8, 8]);
  const hidden = g.op('Concat', [c4.tokens, c2.tokens, c1.tokens, noisy.tokens], { axis: 1 });
  const rope = g.op('Concat', [ropeFor(clean4Idx, [4, 4, 4]), ropeFor(clean2Idx, [2, 2, 2]), ropeFor(cleanIdx), ropeFor(idx)], { axis: 1 });

  // 2. Conditioning: timestep + guidance + pooled CLIP.
  const tProj = timestepProjection(g, timestep);
  const tg = g.op('Add', [
    mlpEmbedding(w, tProj, 'time_text_embed.timestep_embedder'),
    mlpEmbedding(w, timestepProjection(g, guidance), 'time_text_embed.guidance_embedder'),
  ]);
  const temb = g.op('Add', [tg, mlpEmbedding(w, g.toCompute(pooled), 'time_text_embed.text_embedder')]);

  // 3. Text token refiner, with the mask-weighted mean as its pooled input and the boolean self-mask.
  const ce = 'context_embedder';
  const mask3 = unsqueeze(g, mask, [2]);
  const maskSum = g.op('ReduceSum', [mask3, g.i64([1])], { keepdims: 0 });
  const textMean = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [text, mask3]), g.i64([1])], { keepdims: 0 }), maskSum]);
  const tembC = g.op('Add', [
    mlpEmbedding(w, tProj, `${ce}.time_text_embed.timestep_embedder`),
    mlpEmbedding(w, g.toCompute(textMean), `${ce}.time_text_embed.text_embedder`),
  ]);
  // The refiner's residual stream is float32, like the blocks'.
  let ctx = g.toFloat32(linear(w, g.toCompute(text), `${ce}.proj_in`));
  const bias = refinerMaskBias(g, mask);
  for (let i = 0; i < cfg.numRefinerLayers; i++) {
    const p = `${ce}.token_refiner.refiner_blocks.${i}`;
    const n1 = g.toCompute(layerNorm(w, ctx, D, 1e-6, `${p}.norm1`));
    const q = headProjection(w, n1, `${p}.attn.to_q`, undefined, cfg.numHeads, hd);
    const k = headProjection(w, n1, `${p}.attn.to_k`, undefined, cfg.numHeads, hd);
    const v = headProjection(w, n1, `${p}.attn.to_v`, undefined, cfg.numHeads, hd);
    const attn = linear(w, fusedAttention(g, q, k, v, cfg.numHeads, bias), `${p}.attn.to_out.0`);
    const [gateMsa, gateMlp] = modulation(w, tembC, `${p}.norm_out.linear`, 2, D);
    ctx = g.op('Add', [ctx, g.toFloat32(g.op('Mul', [attn, gateMsa!]))]);
    const ff = feedForward(w, g.toCompute(layerNorm(w, ctx, D, 1e-6, `${p}.norm2`)), `${p}.ff`, 'silu');
    ctx = g.op('Add', [ctx, g.toFloat32(g.op('Mul', [ff, gateMlp!]))]);
  }

  // 4. SigLIP projection before the text, then the batch-1 crop to Ni + mask.sum() tokens.
  const imageTokens = linear(w, silu(g, linear(w, g.toCompute(image), 'image_projection.up')), 'image_projection.down');
  const joined = g.op('Concat', [imageTokens, g.toCompute(ctx)], { axis: 1 });
  const keep = g.op('Add', [g.op('Shape', [image], { start: 1, end: 2 }), reshape(g, g.cast(maskSum, 'int64'), [1])]);
  const context = sliceTokens(g, joined, 0, keep);

  // 5. TeaCache's probe: transformer_blocks[0].norm1(hidden, temb)[0]. Block 0's norm1.linear lives
  // here only: its modulation vector is an output that block 0's graph takes as an input, so the
  // weight (226 MB of fp32 at the real width) is held once.
  const block0Modulation = modulationVector(w, temb, 'transformer_blocks.0.norm1.linear');
  const [shift, scale] = splitModulation(g, block0Modulation, 6, D);
  const modulated = modulatedNorm(w, g.toFloat32(hidden), D, shift!, scale!);

  // Tensors for the block graphs travel in the compute type; TeaCache's probe and the debug
  // intermediates go to the JS side in float32.
  const gridShape = g.op('Shape', [noisy.grid], { start: 2, end: 5 });
  g.output(hidden, 'hidden', ct, [1, 'L', D]);
  g.output(context, 'context', ct, [1, 'Lc', D]);
  g.output(temb, 'temb', ct, [1, D]);
  g.output(g.toCompute(rope), 'rope', ct, [1, 'L', 2 * hd]);
  g.output(g.toFloat32(modulated), 'modulated', 'float32', [1, 'L', D]);
  g.output(block0Modulation, BLOCK0_MODULATION, ct, [1, 6 * D]);
  g.output(gridShape, 'latent_shape', 'int64', [3]);
  g.output(ctx, 'dbg_context', 'float32', [1, 'Lt', D]);
  g.output(g.toFloat32(imageTokens), 'dbg_image_tokens', 'float32', [1, 'Ni', D]);
  return { graph: g, binder: w };
}

/**
 * The refiner's self-attention mask as an additive bias [1, 1, Lt, Lt]: key j is visible to query i
 * when both are real tokens, and key 0 is always visible (the reference forces column 0 on).
 * Text is short (≤ a few hundred tokens), so this small square is fine; image attention never has one.
 */
function refinerMaskBias(g: GraphBuilder, mask: string): string {
  const pair = g.op('Mul', [unsqueeze(g, mask, [2]), unsqueeze(g, mask, [1])]);
  const lt = g.op('Shape', [mask], { start: 1, end: 2 });
  const keys = g.op('Range', [g.i64(0), g.op('Squeeze', [lt, g.i64([0])]), g.i64(1)]);
  const first = g.cast(g.op('Equal', [keys, g.i64(0)]), 'float32');
  const allowed = g.op('Greater', [g.op('Max', [pair, first]), g.f32(0.5)]);
  // -1e30 in float32 graphs (as before); float16's lowest finite value otherwise (-1e30 would be -inf).
  return unsqueeze(g, g.op('Where', [allowed, g.fc(0), g.fc(g.compute === 'float32' ? -1e30 : g.lowest)]), [1]);
}
