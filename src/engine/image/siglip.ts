// SiglipVisionModel (FramePack image_encoder, from flux_redux_bfl) as an ONNX graph. FramePack uses
// last_hidden_state, which in transformers already includes post_layernorm; the attention-pooling
// head's pooler_output is built too when the checkpoint has it (it is cheap: one query token).
import type { WeightBinder } from '../onnx/weights.ts';
import { attention, layerNorm, linear } from '../onnx/ops.ts';
import { activation, clipEncoderLayer } from '../text/clip_text.ts';

export interface SiglipVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels?: number;
  image_size: number;
  patch_size: number;
  layer_norm_eps: number;
  hidden_act?: string;
  vision_use_head?: boolean;
  model_type?: string;
}

export function siglipPrefix(has: (name: string) => boolean): string {
  if (has('vision_model.embeddings.patch_embedding.weight')) return 'vision_model.';
  if (has('embeddings.patch_embedding.weight')) return '';
  throw new Error('No SigLIP vision_model.embeddings.patch_embedding.weight in the checkpoint.');
}

export function siglipTokens(cfg: SiglipVisionConfig): number {
  return (cfg.image_size / cfg.patch_size) ** 2;
}

/**
 * Input: pixel_values float32 [B, C, image_size, image_size] (already normalised).
 * Outputs: last_hidden_state [B, N, H] (N = (image_size/patch)^2, row-major patches, no CLS),
 * pooler_output [B, H] when the head exists and `withPooler` is set.
 */
export function buildSiglipVision(w: WeightBinder, cfg: SiglipVisionConfig, opts: { prefix?: string; withPooler?: boolean } = {}): void {
  const g = w.g;
  const p = opts.prefix ?? 'vision_model.';
  const H = cfg.hidden_size;
  const act = cfg.hidden_act ?? 'gelu_pytorch_tanh';
  const layerCfg = { ...cfg, hidden_act: act };
  const pixels = g.input('pixel_values', 'float32', ['batch', cfg.num_channels ?? 3, cfg.image_size, cfg.image_size]);
  const conv = g.op('Conv', [pixels, w.param(`${p}embeddings.patch_embedding.weight`), w.param(`${p}embeddings.patch_embedding.bias`)], {
    kernel_shape: [cfg.patch_size, cfg.patch_size],
    strides: [cfg.patch_size, cfg.patch_size],
  });
  const tokens = g.op('Transpose', [g.op('Reshape', [conv, g.i64([0, H, -1])])], { perm: [0, 2, 1] });
  let x = g.op('Add', [tokens, w.param(`${p}embeddings.position_embedding.weight`)]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) x = clipEncoderLayer(w, x, `${p}encoder.layers.${i}`, layerCfg);
  const last = layerNorm(w, x, H, cfg.layer_norm_eps, `${p}post_layernorm`);
  g.output(last, 'last_hidden_state', 'float32', ['batch', siglipTokens(cfg), H]);

  if (!opts.withPooler || !w.has(`${p}head.probe`)) return;
  // Attention pooling: one learned probe attends over all tokens (torch nn.MultiheadAttention,
  // packed in_proj_weight [3H, H]), then a residual MLP on the layer-normed result.
  const hp = `${p}head`;
  const [wq, wk, wv] = g.node('Split', [w.param(`${hp}.attention.in_proj_weight`, { transpose: true }), g.i64([H, H, H])], { axis: 1 }, { outputs: 3 }) as [string, string, string];
  const [bq, bk, bv] = g.node('Split', [w.param(`${hp}.attention.in_proj_bias`), g.i64([H, H, H])], { axis: 0 }, { outputs: 3 }) as [string, string, string];
  const batchShape = g.op('Concat', [g.op('Shape', [last], { end: 1 }), g.i64([1, H])], { axis: 0 });
  const probe = g.op('Expand', [w.param(`${hp}.probe`), batchShape]);
  const q = g.op('Add', [g.op('MatMul', [probe, wq]), bq]);
  const k = g.op('Add', [g.op('MatMul', [last, wk]), bk]);
  const v = g.op('Add', [g.op('MatMul', [last, wv]), bv]);
  const heads = cfg.num_attention_heads;
  const a = linear(w, attention(g, q, k, v, { numHeads: heads, scale: 1 / Math.sqrt(H / heads) }), `${hp}.attention.out_proj`);
  const n = layerNorm(w, a, H, cfg.layer_norm_eps, `${hp}.layernorm`);
  const mlp = linear(w, activation(g, linear(w, n, `${hp}.mlp.fc1`), act), `${hp}.mlp.fc2`);
  const pooled = g.op('Squeeze', [g.op('Add', [a, mlp]), g.i64([1])]);
  g.output(pooled, 'pooler_output', 'float32', ['batch', H]);
}
