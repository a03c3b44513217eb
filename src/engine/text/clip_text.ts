// CLIPTextModel (HunyuanVideo text_encoder_2, CLIP-L) as an ONNX graph: causal pre-LN encoder,
// final layer norm, pooled at the end-of-text token the way transformers 4.46 picks it.
import type { GraphBuilder } from '../onnx/graph.ts';
import type { WeightBinder } from '../onnx/weights.ts';
import { attention, gelu, layerNorm, linear } from '../onnx/ops.ts';
import { causalBias, sequenceLength } from './masks.ts';

export interface ClipTextConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  layer_norm_eps: number;
  hidden_act?: string;
  eos_token_id?: number;
  vocab_size: number;
  model_type?: string;
}

/** x·sigmoid(1.702x) (quick_gelu), exact gelu, or its tanh approximation. */
export function activation(g: GraphBuilder, x: string, act: string): string {
  switch (act) {
    case 'quick_gelu':
      return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.f32(1.702)])])]);
    case 'gelu':
      return gelu(g, x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return gelu(g, x, 'tanh');
    default:
      throw new Error(`Activation ${act} is not supported.`);
  }
}

/** Pre-LN transformer layer shared by CLIP text and SigLIP vision (same key names). */
export function clipEncoderLayer(
  w: WeightBinder,
  x: string,
  prefix: string,
  cfg: { hidden_size: number; num_attention_heads: number; layer_norm_eps: number; hidden_act?: string },
  bias?: string,
): string {
  const g = w.g;
  const headDim = cfg.hidden_size / cfg.num_attention_heads;
  const h = layerNorm(w, x, cfg.hidden_size, cfg.layer_norm_eps, `${prefix}.layer_norm1`);
  const q = linear(w, h, `${prefix}.self_attn.q_proj`);
  const k = linear(w, h, `${prefix}.self_attn.k_proj`);
  const v = linear(w, h, `${prefix}.self_attn.v_proj`);
  const a = attention(g, q, k, v, {
    numHeads: cfg.num_attention_heads,
    scale: 1 / Math.sqrt(headDim),
    ...(bias ? { attentionBias: bias } : {}),
  });
  const x1 = g.op('Add', [x, linear(w, a, `${prefix}.self_attn.out_proj`)]);
  const m = layerNorm(w, x1, cfg.hidden_size, cfg.layer_norm_eps, `${prefix}.layer_norm2`);
  const act = activation(g, linear(w, m, `${prefix}.mlp.fc1`), cfg.hidden_act ?? 'quick_gelu');
  return g.op('Add', [x1, linear(w, act, `${prefix}.mlp.fc2`)]);
}

export function clipTextPrefix(has: (name: string) => boolean): string {
  if (has('text_model.embeddings.token_embedding.weight')) return 'text_model.';
  if (has('embeddings.token_embedding.weight')) return '';
  throw new Error('No CLIP text_model.embeddings.token_embedding.weight in the checkpoint.');
}

/**
 * Input: input_ids int64 [B, L ≤ max_position_embeddings] (FramePack: padded to 77, no mask).
 * Outputs: last_hidden_state [B, L, H], pooler_output [B, H], pooled_index int64 [B].
 */
export function buildClipText(w: WeightBinder, cfg: ClipTextConfig, prefix = 'text_model.'): void {
  const g = w.g;
  const p = prefix;
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const len = g.op('Unsqueeze', [sequenceLength(g, ids), g.i64([0])]);
  const tok = g.op('Gather', [w.param(`${p}embeddings.token_embedding.weight`), ids], { axis: 0 });
  const pos = g.op('Slice', [w.param(`${p}embeddings.position_embedding.weight`), g.i64([0]), len, g.i64([0])]);
  let x = g.op('Add', [tok, pos]);
  const bias = causalBias(g, ids);
  for (let i = 0; i < cfg.num_hidden_layers; i++) x = clipEncoderLayer(w, x, `${p}encoder.layers.${i}`, cfg, bias);
  const last = layerNorm(w, x, cfg.hidden_size, cfg.layer_norm_eps, `${p}final_layer_norm`);

  // transformers: eos_token_id == 2 (legacy configs, incl. openai CLIP-L) → argmax of the ids
  // (end-of-text is the largest id); otherwise the first position equal to eos_token_id.
  // ids < 2^24, so comparing them as float32 is exact; ArgMax returns the first maximum.
  const key = cfg.eos_token_id === undefined || cfg.eos_token_id === 2
    ? g.op('Cast', [ids], { to: 1 })
    : g.op('Cast', [g.op('Equal', [ids, g.i64(cfg.eos_token_id)])], { to: 1 });
  const index = g.op('ArgMax', [key], { axis: 1, keepdims: 0, select_last_index: 0 });
  const pooled = g.op('GatherND', [last, g.op('Unsqueeze', [index, g.i64([1])])], { batch_dims: 1 });
  g.output(last, 'last_hidden_state', 'float32', ['batch', 'seq', cfg.hidden_size]);
  g.output(pooled, 'pooler_output', 'float32', ['batch', cfg.hidden_size]);
  g.output(index, 'pooled_index', 'int64', ['batch']);
}
