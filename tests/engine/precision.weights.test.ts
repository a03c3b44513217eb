// Weight bytes of the official 13B transformer and the LLaMA-8B text encoder per precision and
// quantization mode, built shapes-only (no weights are read): what a GPU must hold once loaded.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, uniqueWeightBytes } from '../../src/engine/onnx/graph.ts';
import { quantSpec } from '../../src/engine/onnx/quant.ts';
import { shapeOnlyWeights, WeightBinder, type Precision } from '../../src/engine/onnx/weights.ts';
import { buildTransformerGraphs } from '../../src/engine/transformer/build.ts';
import { OFFICIAL_CONFIG, officialParamShapes, parseTransformerConfig } from '../../src/engine/transformer/config.ts';
import { buildLlama, type LlamaConfig } from '../../src/engine/text/llama.ts';

const GB = 1e9;
type Mode = { precision: Precision; quant: 'none' | 'int8' | 'int4' };

function transformerBytes(mode: Mode): number {
  const cfg = parseTransformerConfig(OFFICIAL_CONFIG);
  const quant = quantSpec(mode.quant, 64);
  const graphs = buildTransformerGraphs(cfg, shapeOnlyWeights(officialParamShapes(cfg)), {
    storage: 'fp32',
    precision: mode.precision,
    ...(quant ? { quant } : {}),
  });
  return uniqueWeightBytes(graphs.map((g) => g.graph));
}

/** meta-llama/Meta-Llama-3-8B as HunyuanVideo's text_encoder (llava-llama-3-8b's language model). */
const LLAMA_8B: LlamaConfig = {
  hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8,
  rms_norm_eps: 1e-5, rope_theta: 500000, vocab_size: 128320, hidden_act: 'silu',
};

function llamaShapes(c: LlamaConfig): Map<string, number[]> {
  const d = c.hidden_size;
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * (d / c.num_attention_heads);
  const m = new Map<string, number[]>([['embed_tokens.weight', [c.vocab_size, d]], ['norm.weight', [d]]]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `layers.${i}`;
    m.set(`${p}.self_attn.q_proj.weight`, [d, d]).set(`${p}.self_attn.k_proj.weight`, [kv, d]).set(`${p}.self_attn.v_proj.weight`, [kv, d]);
    m.set(`${p}.self_attn.o_proj.weight`, [d, d]).set(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, d]);
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediate_size, d]).set(`${p}.mlp.down_proj.weight`, [d, c.intermediate_size]);
    m.set(`${p}.input_layernorm.weight`, [d]).set(`${p}.post_attention_layernorm.weight`, [d]);
  }
  return m;
}

function llamaBytes(mode: Mode): number {
  const quant = quantSpec(mode.quant, 64);
  // The converted text encoder stores fp16 weights in an fp16 set (it computes in float32).
  const g = new GraphBuilder('llama');
  const w = new WeightBinder(g, shapeOnlyWeights(llamaShapes(LLAMA_8B)), { storage: mode.precision === 'fp16' ? 'fp16' : 'fp32', ...(quant ? { quant } : {}) });
  buildLlama(w, LLAMA_8B, { hiddenStateIndex: -3 });
  return g.weightBytes;
}

describe('weight bytes once loaded, shapes only', () => {
  it('13B transformer: fp32 ≈ 51.5 GB, fp16 ≤ 26.0 GB, int8 ≤ 14 GB, int4 ≤ 7.5 GB', () => {
    const fp32 = transformerBytes({ precision: 'fp32', quant: 'none' });
    const fp16 = transformerBytes({ precision: 'fp16', quant: 'none' });
    const int8 = transformerBytes({ precision: 'fp16', quant: 'int8' });
    const int4 = transformerBytes({ precision: 'fp16', quant: 'int4' });
    console.log(`13B transformer weights: fp32 ${(fp32 / GB).toFixed(2)} GB, fp16 ${(fp16 / GB).toFixed(2)} GB, fp16+int8/64 ${(int8 / GB).toFixed(2)} GB, fp16+int4/64 ${(int4 / GB).toFixed(2)} GB`);
    expect(fp32).toBeGreaterThan(12_874_314_816 * 4 - 1);
    expect(fp16 / GB).toBeLessThanOrEqual(26.0);
    expect(int8 / GB).toBeLessThanOrEqual(14);
    expect(int4 / GB).toBeLessThanOrEqual(7.5);
    // Quantization actually replaced the matrices: int4 is under a third of fp16.
    expect(int4 / fp16).toBeLessThan(0.3);
  });

  it('LLaMA-8B text encoder (30 layers built, hidden_states[-3]): fp16 ≤ 16.1 GB, int4 ≤ 4.8 GB', () => {
    const fp16 = llamaBytes({ precision: 'fp16', quant: 'none' });
    const int8 = llamaBytes({ precision: 'fp16', quant: 'int8' });
    const int4 = llamaBytes({ precision: 'fp16', quant: 'int4' });
    console.log(`LLaMA-8B text encoder weights: fp16 ${(fp16 / GB).toFixed(2)} GB, int8/64 ${(int8 / GB).toFixed(2)} GB, int4/64 ${(int4 / GB).toFixed(2)} GB`);
    expect(fp16 / GB).toBeLessThanOrEqual(16.1);
    expect(int4 / GB).toBeLessThanOrEqual(4.8);
    expect(int8).toBeLessThan(fp16);
  });
});
