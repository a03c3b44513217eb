// Weight bytes of the official 13B transformer and the LLaMA-8B text encoder per precision and
// quantization mode, built shapes-only (no weights are read): what a GPU must hold once loaded.
// The same functions feed `recurvid models list` and `doctor`.
import { describe, expect, it } from 'vitest';
import { llamaModeBytes, transformerModeBytes, type ModeBytes } from '../../../src/engine/conversion/memory.ts';
import { OFFICIAL_CONFIG } from '../../../src/engine/transformer/config.ts';
import type { LlamaConfig } from '../../../src/engine/text/llama.ts';

const GB = 1e9;
const pick = (rows: ModeBytes[], mode: string) => rows.find((r) => r.mode === mode)!.bytes;

/** meta-llama/Meta-Llama-3-8B as HunyuanVideo's text_encoder (llava-llama-3-8b's language model). */
const LLAMA_8B: LlamaConfig = {
  hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8,
  rms_norm_eps: 1e-5, rope_theta: 500000, vocab_size: 128320, hidden_act: 'silu',
};

describe('weight bytes once loaded, shapes only', () => {
  it('13B transformer: fp32 ≈ 51.5 GB, fp16 ≤ 26.0 GB, int8 ≤ 14 GB, int4 ≤ 7.5 GB, int8 dynamic ≤ 13.5 GB', () => {
    const rows = transformerModeBytes(OFFICIAL_CONFIG);
    console.log(`13B transformer weights: ${rows.map((r) => `${r.mode} ${(r.bytes / GB).toFixed(2)} GB`).join(', ')}`);
    expect(pick(rows, 'fp32')).toBeGreaterThanOrEqual(12_874_314_816 * 4);
    expect(pick(rows, 'fp16') / GB).toBeLessThanOrEqual(26.0);
    expect(pick(rows, 'int8/64') / GB).toBeLessThanOrEqual(14);
    expect(pick(rows, 'int4/64') / GB).toBeLessThanOrEqual(7.5);
    // The CPU fast mode: int8 matrices, fp32 for the rest.
    expect(pick(rows, 'int8 dynamic') / GB).toBeLessThanOrEqual(13.5);
    expect(pick(rows, 'int8 dynamic')).toBeLessThan(pick(rows, 'int8/64'));
    // Quantization really replaced the matrices: int4 is under a third of fp16.
    expect(pick(rows, 'int4/64') / pick(rows, 'fp16')).toBeLessThan(0.3);
  });

  it('LLaMA-8B text encoder (30 layers built for hidden_states[-3]): fp16 ≤ 16.1 GB, int4 ≤ 4.8 GB', () => {
    const rows = llamaModeBytes(LLAMA_8B, -3);
    console.log(`LLaMA-8B text encoder weights: ${rows.map((r) => `${r.mode} ${(r.bytes / GB).toFixed(2)} GB`).join(', ')}`);
    expect(pick(rows, 'fp16') / GB).toBeLessThanOrEqual(16.1);
    expect(pick(rows, 'int4/64') / GB).toBeLessThanOrEqual(4.8);
    expect(pick(rows, 'int8/64')).toBeLessThan(pick(rows, 'fp16'));
  });
});
