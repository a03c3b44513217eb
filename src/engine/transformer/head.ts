// Graph (c) "head": norm_out (AdaLayerNormContinuous), crop to the noisy tokens (the last
// T·H·W of the sequence), proj_out and unpatchify back to [1, C, T·pt, H·p, W·p].
import { GraphBuilder } from '../onnx/graph.ts';
import { linear, transpose } from '../onnx/ops.ts';
import type { WeightBinder } from '../onnx/weights.ts';
import { innerDim, type PackedTransformerConfig } from './config.ts';
import { INT64_MAX, modulatedNorm, modulation, sliceTokens } from './layers.ts';

export function buildHeadGraph(cfg: PackedTransformerConfig, bind: (g: GraphBuilder) => WeightBinder): { graph: GraphBuilder; binder: WeightBinder } {
  const g = new GraphBuilder('framepack_transformer_head');
  const w = bind(g);
  const D = innerDim(cfg);
  const hidden = g.input('hidden', g.compute, [1, 'L', D]);
  const temb = g.input('temb', g.compute, [1, D]);
  // Post-patch grid [T, H, W] of the noisy latents, as the embed graph reports it.
  const grid = g.input('latent_shape', 'int64', [3]);

  // AdaLayerNormContinuous chunks (scale, shift), in that order.
  const [scale, shift] = modulation(w, temb, 'norm_out.linear', 2, D);
  const normed = modulatedNorm(w, g.toFloat32(hidden), D, shift!, scale!);
  const n = g.op('ReduceProd', [grid], { keepdims: 1 });
  const noisy = sliceTokens(g, normed, g.op('Neg', [n]), INT64_MAX);
  const out = linear(w, noisy, 'proj_out');

  const { patchSize: p, patchSizeT: pt, outChannels: c } = cfg;
  const split = g.op('Reshape', [out, g.op('Concat', [g.i64([1]), grid, g.i64([c, pt, p, p])], { axis: 0 })]);
  const perm = transpose(g, split, [0, 4, 1, 5, 2, 6, 3, 7]);
  const full = g.op('Concat', [g.i64([1, c]), g.op('Mul', [grid, g.i64([pt, p, p])])], { axis: 0 });
  // The sampler works in float32.
  g.output(g.toFloat32(g.op('Reshape', [perm, full])), 'sample', 'float32', [1, c, 'T', 'H', 'W']);
  return { graph: g, binder: w };
}
