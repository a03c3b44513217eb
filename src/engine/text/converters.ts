// Component converters for HunyuanVideo's two text encoders and their tokenizers:
// text_encoder (+ ../tokenizer) and text_encoder_2 (+ ../tokenizer_2), both from the hunyuan repo.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { float32ComponentStorage, type ComponentConverter, type ConvertOptions } from '../modelset/component.ts';
import type { ComponentManifest } from '../modelset/manifest.ts';
import { buildEncoder, type EncoderKind } from './build.ts';
import { resolveHiddenStateIndex, type LlamaConfig } from './llama.ts';
import { CLIP_MAX_LENGTH, LLAMA_MAX_PROMPT_TOKENS, computeCropStart } from './prompt.ts';
import { checkWeightsFolder, copyExisting, describeSources, requireFile } from './sources.ts';
import { loadTokenizer, loadTokenizerFiles } from './tokenizers.ts';
import { TINY_DIMS, clipLayerShapes, tinyClipTokenizer, tinyLlamaTokenizer, writeJson, writeTinyWeights } from './tiny.ts';

export const LLAMA_HIDDEN_STATE_INDEX = -3;
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt'];

/** Builds `kind` from `srcDir` into `${outDir}/${name}/model.onnx`; logs checkpoint keys the graph does not need. */
async function convertGraph(srcDir: string, outDir: string, name: string, kind: EncoderKind, opts: ConvertOptions): Promise<{ file: string; config: Record<string, unknown> }> {
  // Only the 8B LLaMA is worth quantizing; CLIP-L is small and runs once per prompt.
  const quant = kind === 'llama' ? opts.quant : undefined;
  const built = await buildEncoder(srcDir, kind, {
    storage: float32ComponentStorage(opts),
    hiddenStateIndex: LLAMA_HIDDEN_STATE_INDEX,
    withPooler: false,
    ...(quant ? { quant } : {}),
  });
  try {
    const unused = built.store.keys().filter((k) => !built.binder.used.has(k));
    if (unused.length) opts.log?.info({ component: name, unused: unused.length, example: unused.slice(0, 3) }, 'checkpoint tensors not needed by the graph');
    const file = `${name}/model.onnx`;
    await mkdir(join(outDir, name), { recursive: true });
    await built.graph.save(join(outDir, file));
    return { file, config: built.config };
  } finally {
    await built.store.close();
  }
}

async function tokenizerManifest(srcTokDir: string, outDir: string, component: 'tokenizer' | 'tokenizer_2', extra: Record<string, unknown>): Promise<ComponentManifest> {
  const copied = await copyExisting(srcTokDir, join(outDir, component), TOKENIZER_FILES);
  const files: Record<string, string> = { dir: component };
  for (const f of copied) files[f] = `${component}/${f}`;
  return {
    component,
    config: (await loadTokenizerFiles(srcTokDir)).config,
    dtype: 'none',
    files,
    source: await describeSources(srcTokDir, copied),
    extra,
  };
}

function validateTokenizer(dir: string, what: string, clipStyle: boolean): void {
  if (clipStyle) {
    try {
      requireFile(dir, 'tokenizer.json', what);
      return;
    } catch {
      requireFile(dir, 'vocab.json', what);
      requireFile(dir, 'merges.txt', what);
      return;
    }
  }
  requireFile(dir, 'tokenizer.json', what);
}

export const textEncoderConverter: ComponentConverter = {
  components: ['text_encoder', 'tokenizer'],
  source: { repo: 'hunyuan', subdir: 'text_encoder' },
  async validate(srcDir) {
    await checkWeightsFolder(srcDir, ['llama'], 'text_encoder (LLaMA)');
    validateTokenizer(join(srcDir, '..', 'tokenizer'), 'tokenizer (LLaMA)', false);
  },
  async convert(srcDir, outDir, opts) {
    await this.validate(srcDir);
    const weightFiles = await checkWeightsFolder(srcDir, ['llama'], 'text_encoder');
    const tokDir = join(srcDir, '..', 'tokenizer');
    const cropStart = computeCropStart(await loadTokenizer(tokDir));
    const { file, config } = await convertGraph(srcDir, outDir, 'text_encoder', 'llama', opts);
    const hiddenIndex = resolveHiddenStateIndex(config as unknown as LlamaConfig, LLAMA_HIDDEN_STATE_INDEX);
    return [
      {
        component: 'text_encoder',
        config,
        dtype: float32ComponentStorage(opts),
        precision: 'fp32',
        quant: opts.quant ?? null,
        files: { model: file },
        source: await describeSources(srcDir, ['config.json', ...weightFiles]),
        extra: { hidden_state_index: LLAMA_HIDDEN_STATE_INDEX, hidden_state_layer: hiddenIndex, crop_start: cropStart, max_prompt_tokens: LLAMA_MAX_PROMPT_TOKENS, final_norm: false },
      },
      await tokenizerManifest(tokDir, outDir, 'tokenizer', { crop_start: cropStart, max_length: LLAMA_MAX_PROMPT_TOKENS + cropStart }),
    ];
  },
  async makeTiny(srcDir, seed) {
    const tok = tinyLlamaTokenizer();
    const tokDir = join(srcDir, '..', 'tokenizer');
    await writeJson(join(tokDir, 'tokenizer.json'), tok.json);
    await writeJson(join(tokDir, 'tokenizer_config.json'), tok.config);
    await writeJson(join(tokDir, 'special_tokens_map.json'), { bos_token: tok.config.bos_token, eos_token: tok.config.eos_token });
    const hidden = TINY_DIMS.llamaHidden;
    const cfg = {
      architectures: ['LlamaModel'], attention_bias: false, attention_dropout: 0, bos_token_id: tok.vocabSize - 5, eos_token_id: tok.vocabSize - 4,
      head_dim: 8, hidden_act: 'silu', hidden_size: hidden, initializer_range: 0.02, intermediate_size: 64, max_position_embeddings: 8192,
      mlp_bias: false, model_type: 'llama', num_attention_heads: 4, num_hidden_layers: 4, num_key_value_heads: 2, pretraining_tp: 1,
      rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 500000, tie_word_embeddings: false, torch_dtype: 'float32', use_cache: true, vocab_size: tok.vocabSize,
    };
    await writeJson(join(srcDir, 'config.json'), cfg);
    const s: Record<string, number[]> = { 'embed_tokens.weight': [tok.vocabSize, hidden], 'norm.weight': [hidden] };
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      const p = `layers.${i}`;
      s[`${p}.input_layernorm.weight`] = [hidden];
      s[`${p}.post_attention_layernorm.weight`] = [hidden];
      s[`${p}.self_attn.q_proj.weight`] = [4 * 8, hidden];
      s[`${p}.self_attn.k_proj.weight`] = [2 * 8, hidden];
      s[`${p}.self_attn.v_proj.weight`] = [2 * 8, hidden];
      s[`${p}.self_attn.o_proj.weight`] = [hidden, 4 * 8];
      s[`${p}.mlp.gate_proj.weight`] = [64, hidden];
      s[`${p}.mlp.up_proj.weight`] = [64, hidden];
      s[`${p}.mlp.down_proj.weight`] = [hidden, 64];
    }
    await writeTinyWeights(join(srcDir, 'model.safetensors'), s, seed);
  },
};

export const textEncoder2Converter: ComponentConverter = {
  components: ['text_encoder_2', 'tokenizer_2'],
  source: { repo: 'hunyuan', subdir: 'text_encoder_2' },
  async validate(srcDir) {
    await checkWeightsFolder(srcDir, ['clip_text_model'], 'text_encoder_2 (CLIP text)');
    validateTokenizer(join(srcDir, '..', 'tokenizer_2'), 'tokenizer_2 (CLIP)', true);
  },
  async convert(srcDir, outDir, opts) {
    await this.validate(srcDir);
    const weightFiles = await checkWeightsFolder(srcDir, ['clip_text_model'], 'text_encoder_2');
    const tokDir = join(srcDir, '..', 'tokenizer_2');
    await loadTokenizer(tokDir); // fails early on an unusable tokenizer folder
    const { file, config } = await convertGraph(srcDir, outDir, 'text_encoder_2', 'clip_text_model', opts);
    return [
      {
        component: 'text_encoder_2',
        config,
        dtype: float32ComponentStorage(opts),
        precision: 'fp32',
        files: { model: file },
        source: await describeSources(srcDir, ['config.json', ...weightFiles]),
        extra: { output: 'pooler_output', max_length: CLIP_MAX_LENGTH },
      },
      await tokenizerManifest(tokDir, outDir, 'tokenizer_2', { max_length: CLIP_MAX_LENGTH }),
    ];
  },
  async makeTiny(srcDir, seed) {
    const tok = tinyClipTokenizer();
    const tokDir = join(srcDir, '..', 'tokenizer_2');
    await writeJson(join(tokDir, 'vocab.json'), tok.vocab);
    await mkdir(tokDir, { recursive: true });
    await writeFile(join(tokDir, 'merges.txt'), tok.merges);
    await writeJson(join(tokDir, 'tokenizer_config.json'), tok.config);
    await writeJson(join(tokDir, 'special_tokens_map.json'), tok.specialMap);
    const hidden = TINY_DIMS.clipHidden;
    const cfg = {
      architectures: ['CLIPTextModel'], attention_dropout: 0, bos_token_id: 0, eos_token_id: 2, hidden_act: 'quick_gelu', hidden_size: hidden,
      initializer_factor: 1, initializer_range: 0.02, intermediate_size: 32, layer_norm_eps: 1e-5, max_position_embeddings: CLIP_MAX_LENGTH,
      model_type: 'clip_text_model', num_attention_heads: 2, num_hidden_layers: 2, pad_token_id: 1, projection_dim: hidden, torch_dtype: 'float32',
      vocab_size: tok.vocabSize,
    };
    await writeJson(join(srcDir, 'config.json'), cfg);
    const s: Record<string, number[]> = {
      'text_model.embeddings.token_embedding.weight': [tok.vocabSize, hidden],
      'text_model.embeddings.position_embedding.weight': [CLIP_MAX_LENGTH, hidden],
      'text_model.final_layer_norm.weight': [hidden],
      'text_model.final_layer_norm.bias': [hidden],
    };
    for (let i = 0; i < cfg.num_hidden_layers; i++) Object.assign(s, clipLayerShapes(`text_model.encoder.layers.${i}`, hidden, cfg.intermediate_size));
    await writeTinyWeights(join(srcDir, 'model.safetensors'), s, seed + 1);
  },
};

