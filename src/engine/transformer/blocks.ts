// Graph (b): a run of consecutive transformer blocks (dual-stream first, then single-stream), so the
// 60 blocks of the 13B model can live in separate files and be loaded piecewise.
// Inputs hidden [1, L, D] (image tokens), context [1, Lc, D], temb [1, D], rope [1, L, 2·hd];
// outputs hidden_out, context_out, all in the compute type. Inside, the residual streams are float32
// (each branch's gated output is added in float32); attention is the fused MultiHeadAttention op.
import { GraphBuilder } from '../onnx/graph.ts';
import { gelu, linear } from '../onnx/ops.ts';
import type { WeightBinder } from '../onnx/weights.ts';
import { innerDim, type PackedTransformerConfig } from './config.ts';
import { BLOCK0_MODULATION } from './embed.ts';
import {
  INT64_MAX,
  applyRope,
  feedForward,
  fusedAttention,
  headProjection,
  modulatedNorm,
  modulation,
  ropeTables,
  splitModulation,
  seqLen,
  sliceTokens,
} from './layers.ts';

export type BlockRef = { kind: 'dual' | 'single'; index: number };

/** The residual streams, float32. */
interface Streams {
  hidden: string;
  context: string;
}

interface Shared {
  w: WeightBinder;
  cfg: PackedTransformerConfig;
  temb: string;
  rope: { cos: string; sin: string };
  /** Block 0's norm1 modulation vector, computed by embed (graph input) when block 0 is here. */
  block0Modulation?: string;
}

function dualBlock(s: Shared, x: Streams, i: number): Streams {
  const { w, cfg, temb } = s;
  const g = w.g;
  const D = innerDim(cfg);
  const hd = cfg.headDim;
  const H = cfg.numHeads;
  const p = `transformer_blocks.${i}`;
  const [sh, sc, gate, shMlp, scMlp, gateMlp] =
    i === 0 && s.block0Modulation ? splitModulation(g, s.block0Modulation, 6, D) : modulation(w, temb, `${p}.norm1.linear`, 6, D);
  const [cSh, cSc, cGate, cShMlp, cScMlp, cGateMlp] = modulation(w, temb, `${p}.norm1_context.linear`, 6, D);
  const nx = modulatedNorm(w, x.hidden, D, sh!, sc!);
  const nc = modulatedNorm(w, x.context, D, cSh!, cSc!);

  const a = `${p}.attn`;
  const q = applyRope(g, headProjection(w, nx, `${a}.to_q`, `${a}.norm_q.weight`, H, hd), s.rope, hd);
  const k = applyRope(g, headProjection(w, nx, `${a}.to_k`, `${a}.norm_k.weight`, H, hd), s.rope, hd);
  const v = headProjection(w, nx, `${a}.to_v`, undefined, H, hd);
  const cq = headProjection(w, nc, `${a}.add_q_proj`, `${a}.norm_added_q.weight`, H, hd);
  const ck = headProjection(w, nc, `${a}.add_k_proj`, `${a}.norm_added_k.weight`, H, hd);
  const cv = headProjection(w, nc, `${a}.add_v_proj`, undefined, H, hd);
  const cat = (u: string, t: string) => g.op('Concat', [u, t], { axis: 1 });
  const out = fusedAttention(g, cat(q, cq), cat(k, ck), cat(v, cv), H);
  const li = seqLen(g, x.hidden);
  const attnX = linear(w, sliceTokens(g, out, 0, li), `${a}.to_out.0`);
  const attnC = linear(w, sliceTokens(g, out, li, INT64_MAX), `${a}.to_add_out`);

  const gated = (a: string, b: string) => g.toFloat32(g.op('Mul', [a, b]));
  let hidden = g.op('Add', [x.hidden, gated(attnX, gate!)]);
  let context = g.op('Add', [x.context, gated(attnC, cGate!)]);
  const ffX = feedForward(w, modulatedNorm(w, hidden, D, shMlp!, scMlp!), `${p}.ff`, 'gelu-tanh');
  const ffC = feedForward(w, modulatedNorm(w, context, D, cShMlp!, cScMlp!), `${p}.ff_context`, 'gelu-tanh');
  hidden = g.op('Add', [hidden, gated(gateMlp!, ffX)]);
  context = g.op('Add', [context, gated(cGateMlp!, ffC)]);
  return { hidden, context };
}

function singleBlock(s: Shared, x: Streams, i: number): Streams {
  const { w, cfg, temb } = s;
  const g = w.g;
  const D = innerDim(cfg);
  const hd = cfg.headDim;
  const H = cfg.numHeads;
  const p = `single_transformer_blocks.${i}`;
  const li = seqLen(g, x.hidden);
  const joined = g.op('Concat', [x.hidden, x.context], { axis: 1 });
  const [sh, sc, gate] = modulation(w, temb, `${p}.norm.linear`, 3, D);
  const normed = modulatedNorm(w, joined, D, sh!, sc!);
  const mlp = gelu(g, linear(w, normed, `${p}.proj_mlp`), 'tanh');

  // Rope applies to the image tokens only; text tokens keep their q/k as normalised.
  const a = `${p}.attn`;
  const roped = (t: string) =>
    g.op('Concat', [applyRope(g, sliceTokens(g, t, 0, li), s.rope, hd), sliceTokens(g, t, li, INT64_MAX)], { axis: 1 });
  const q = roped(headProjection(w, normed, `${a}.to_q`, `${a}.norm_q.weight`, H, hd));
  const k = roped(headProjection(w, normed, `${a}.to_k`, `${a}.norm_k.weight`, H, hd));
  const v = headProjection(w, normed, `${a}.to_v`, undefined, H, hd);
  const attn = fusedAttention(g, q, k, v, H);

  const out = linear(w, g.op('Concat', [attn, mlp], { axis: 2 }), `${p}.proj_out`);
  const y = g.op('Add', [g.toFloat32(g.op('Mul', [gate!, out])), joined]);
  return { hidden: sliceTokens(g, y, 0, li), context: sliceTokens(g, y, li, INT64_MAX) };
}

/** The block list in execution order. */
export function blockOrder(cfg: PackedTransformerConfig): BlockRef[] {
  return [
    ...Array.from({ length: cfg.numLayers }, (_, index) => ({ kind: 'dual' as const, index })),
    ...Array.from({ length: cfg.numSingleLayers }, (_, index) => ({ kind: 'single' as const, index })),
  ];
}

export const blockLabel = (b: BlockRef): string => (b.kind === 'dual' ? `dual_${b.index}` : `single_${b.index}`);

export function buildBlocksGraph(
  cfg: PackedTransformerConfig,
  blocks: BlockRef[],
  bind: (g: GraphBuilder) => WeightBinder,
): { graph: GraphBuilder; binder: WeightBinder } {
  const name = blocks.length === 1 ? blockLabel(blocks[0]!) : `${blockLabel(blocks[0]!)}-${blockLabel(blocks[blocks.length - 1]!)}`;
  const g = new GraphBuilder(`framepack_transformer_${name}`);
  const w = bind(g);
  const D = innerDim(cfg);
  const ct = g.compute;
  const hidden = g.input('hidden', ct, [1, 'L', D]);
  const context = g.input('context', ct, [1, 'Lc', D]);
  const temb = g.input('temb', ct, [1, D]);
  const rope = g.input('rope', ct, [1, 'L', 2 * cfg.headDim]);
  // Block 0's norm1 modulation vector comes from embed (which holds that weight), in the compute type.
  const hasBlock0 = blocks.some((b) => b.kind === 'dual' && b.index === 0);
  const block0Modulation = hasBlock0 ? g.input(BLOCK0_MODULATION, ct, [1, 6 * D]) : undefined;
  const shared: Shared = { w, cfg, temb, rope: ropeTables(g, rope, cfg.headDim), ...(block0Modulation ? { block0Modulation } : {}) };
  let s: Streams = { hidden: g.toFloat32(hidden), context: g.toFloat32(context) };
  for (const b of blocks) s = b.kind === 'dual' ? dualBlock(shared, s, b.index) : singleBlock(shared, s, b.index);
  g.output(g.toCompute(s.hidden), 'hidden_out', ct, [1, 'L', D]);
  g.output(g.toCompute(s.context), 'context_out', ct, [1, 'Lc', D]);
  return { graph: g, binder: w };
}
