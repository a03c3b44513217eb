// LlamaModel (HunyuanVideo text_encoder) as an ONNX graph returning hidden_states[k] — FramePack
// uses k = -3, i.e. the output of decoder layer N-3 *before* the final RMSNorm. Layers after the
// requested one are never built, so the converted graph skips the last two layers of the 8B model.
import type { GraphBuilder } from '../onnx/graph.ts';
import type { WeightBinder } from '../onnx/weights.ts';
import { attention, linear, rmsNorm, silu } from '../onnx/ops.ts';
import { causalPaddingBias, sequenceLength } from './masks.ts';

export interface LlamaConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rms_norm_eps: number;
  rope_theta?: number;
  hidden_act?: string;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  rope_scaling?: unknown;
  vocab_size: number;
  model_type?: string;
}

export interface LlamaGraphOptions {
  /** Python-style index into hidden_states (length num_hidden_layers + 1). FramePack: -3. */
  hiddenStateIndex: number;
  /** Conformance: also output every hidden state (`hidden_states.i`) and `last_hidden_state`. */
  allHiddenStates?: boolean;
  /** Checkpoint key prefix, '' for LlamaModel state dicts, 'model.' for *ForCausalLM ones. */
  prefix?: string;
}

/** Resolves a python-style hidden-state index to 0..num_hidden_layers. */
export function resolveHiddenStateIndex(cfg: LlamaConfig, index: number): number {
  const n = cfg.num_hidden_layers + 1;
  const i = index < 0 ? n + index : index;
  if (i < 0 || i >= n) throw new Error(`hidden state index ${index} is out of range for ${cfg.num_hidden_layers} layers`);
  return i;
}

export function llamaPrefix(has: (name: string) => boolean): string {
  if (has('embed_tokens.weight')) return '';
  if (has('model.embed_tokens.weight')) return 'model.';
  if (has('language_model.model.embed_tokens.weight')) return 'language_model.model.';
  throw new Error('No LLaMA embed_tokens.weight in the checkpoint.');
}

/** LlamaModel state-dict shapes for a config (memory accounting of converted sets, shapes-only builds). */
export function llamaParamShapes(c: LlamaConfig, prefix = ''): Map<string, number[]> {
  const d = c.hidden_size;
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * (c.head_dim ?? d / c.num_attention_heads);
  const qd = c.num_attention_heads * (c.head_dim ?? d / c.num_attention_heads);
  const m = new Map<string, number[]>([[`${prefix}embed_tokens.weight`, [c.vocab_size, d]], [`${prefix}norm.weight`, [d]]]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `${prefix}layers.${i}`;
    m.set(`${p}.self_attn.q_proj.weight`, [qd, d]).set(`${p}.self_attn.k_proj.weight`, [kv, d]).set(`${p}.self_attn.v_proj.weight`, [kv, d]);
    m.set(`${p}.self_attn.o_proj.weight`, [d, qd]).set(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, d]);
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediate_size, d]).set(`${p}.mlp.down_proj.weight`, [d, c.intermediate_size]);
    m.set(`${p}.input_layernorm.weight`, [d]).set(`${p}.post_attention_layernorm.weight`, [d]);
  }
  return m;
}

/** inv_freq = 1 / theta^(2i/d), computed in float32 as the reference does. */
export function ropeInvFreq(headDim: number, theta: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < headDim; i += 2) out.push(Math.fround(1 / Math.fround(theta ** Math.fround(i / headDim))));
  return out;
}

/**
 * Inputs: input_ids int64 [B, L], attention_mask int64 [B, L] (1 = token, 0 = padding).
 * Output: `hidden_state` float32 [B, L, hidden] (plus all states when asked).
 */
export function buildLlama(w: WeightBinder, cfg: LlamaConfig, opts: LlamaGraphOptions): void {
  const g = w.g;
  if (cfg.rope_scaling) throw new Error('rope_scaling is not supported (HunyuanVideo\'s LLaMA uses none).');
  if (cfg.hidden_act && cfg.hidden_act !== 'silu') throw new Error(`LLaMA hidden_act ${cfg.hidden_act} is not supported.`);
  const p = opts.prefix ?? '';
  const heads = cfg.num_attention_heads;
  const kvHeads = cfg.num_key_value_heads ?? heads;
  const headDim = cfg.head_dim ?? cfg.hidden_size / heads;
  const rep = heads / kvHeads;
  if (!Number.isInteger(rep)) throw new Error(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const target = resolveHiddenStateIndex(cfg, opts.hiddenStateIndex);
  const lastLayer = opts.allHiddenStates ? cfg.num_hidden_layers : target;

  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const bias = causalPaddingBias(g, ids, mask);
  const { cos, sin } = rotaryTables(g, ids, headDim, cfg.rope_theta ?? 10000);

  let x = g.op('Gather', [w.param(`${p}embed_tokens.weight`), ids], { axis: 0 });
  const states: string[] = [x];
  for (let i = 0; i < lastLayer; i++) {
    const lp = `${p}layers.${i}`;
    const h = rmsNorm(w, x, cfg.rms_norm_eps, `${lp}.input_layernorm.weight`);
    const q = applyRope(g, linear(w, h, `${lp}.self_attn.q_proj`), heads, headDim, cos, sin);
    const k = applyRope(g, linear(w, h, `${lp}.self_attn.k_proj`), kvHeads, headDim, cos, sin);
    const v = linear(w, h, `${lp}.self_attn.v_proj`);
    const a = attention(g, q, repeatKv(g, k, kvHeads, rep, headDim), repeatKv(g, v, kvHeads, rep, headDim), {
      numHeads: heads,
      scale: 1 / Math.sqrt(headDim),
      attentionBias: bias,
    });
    x = g.op('Add', [x, linear(w, a, `${lp}.self_attn.o_proj`)]);
    const m = rmsNorm(w, x, cfg.rms_norm_eps, `${lp}.post_attention_layernorm.weight`);
    const act = g.op('Mul', [silu(g, linear(w, m, `${lp}.mlp.gate_proj`)), linear(w, m, `${lp}.mlp.up_proj`)]);
    x = g.op('Add', [x, linear(w, act, `${lp}.mlp.down_proj`)]);
    states.push(x);
  }
  if (opts.allHiddenStates) {
    // The last entry of hidden_states carries the final norm (transformers replaces it).
    const last = rmsNorm(w, x, cfg.rms_norm_eps, `${p}norm.weight`);
    states[states.length - 1] = last;
    for (const [i, s] of states.entries()) g.output(s, `hidden_states.${i}`, 'float32', ['batch', 'seq', cfg.hidden_size]);
    g.output(last, 'last_hidden_state', 'float32', ['batch', 'seq', cfg.hidden_size]);
  }
  g.output(states[target]!, 'hidden_state', 'float32', ['batch', 'seq', cfg.hidden_size]);
}

/** cos/sin tables [1, L, 1, D] for positions 0..L-1 (position_ids = arange, as FramePack passes none). */
function rotaryTables(g: GraphBuilder, ids: string, headDim: number, theta: number): { cos: string; sin: string } {
  const len = sequenceLength(g, ids);
  const pos = g.op('Cast', [g.op('Range', [g.i64(0), len, g.i64(1)])], { to: 1 });
  const invFreq = g.f32(ropeInvFreq(headDim, theta), [1, headDim / 2]);
  const freqs = g.op('Mul', [g.op('Unsqueeze', [pos, g.i64([1])]), invFreq]);
  const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), g.i64([0, 2])]);
  return { cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]) };
}

/** x [B, L, H·D] → x·cos + rotate_half(x)·sin, rotate_half(x) = cat(-x2, x1). */
function applyRope(g: GraphBuilder, x: string, heads: number, headDim: number, cos: string, sin: string): string {
  const x4 = g.op('Reshape', [x, g.i64([0, 0, heads, headDim])]);
  const [x1, x2] = g.node('Split', [x4, g.i64([headDim / 2, headDim / 2])], { axis: -1 }, { outputs: 2 }) as [string, string];
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
  const out = g.op('Add', [g.op('Mul', [x4, cos]), g.op('Mul', [rotated, sin])]);
  return g.op('Reshape', [out, g.i64([0, 0, heads * headDim])]);
}

/** GQA: [B, L, kv·D] → [B, L, kv·rep·D]; query head h reads kv head h / rep (transformers repeat_kv). */
function repeatKv(g: GraphBuilder, x: string, kvHeads: number, rep: number, headDim: number): string {
  if (rep === 1) return x;
  const x5 = g.op('Reshape', [x, g.i64([0, 0, kvHeads, 1, headDim])]);
  const shape = g.op('Concat', [g.op('Shape', [x5], { end: 2 }), g.i64([kvHeads, rep, headDim])], { axis: 0 });
  return g.op('Reshape', [g.op('Expand', [x5, shape]), g.i64([0, 0, kvHeads * rep * headDim])]);
}
