// Component converter for FramePack's image encoder: SigLIP vision from flux_redux_bfl
// (image_encoder) and its SiglipImageProcessor settings (../feature_extractor).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { float32ComponentStorage, type ComponentConverter } from '../modelset/component.ts';
import type { ComponentManifest } from '../modelset/manifest.ts';
import { readJson } from '../text/build.ts';
import { buildImageEncoder } from './encoder.ts';
import { checkWeightsFolder, copyExisting, describeSources, requireFile } from '../text/sources.ts';
import { TINY_DIMS, clipLayerShapes, writeJson, writeTinyWeights } from '../text/tiny.ts';
import { siglipTokens, type SiglipVisionConfig } from './siglip.ts';
import { targetSize, type PreprocessorConfig } from './preprocess.ts';

export const imageEncoderConverter: ComponentConverter = {
  components: ['image_encoder', 'feature_extractor'],
  source: { repo: 'redux', subdir: 'image_encoder' },
  async validate(srcDir) {
    await checkWeightsFolder(srcDir, ['siglip_vision_model'], 'image_encoder (SigLIP)');
    requireFile(join(srcDir, '..', 'feature_extractor'), 'preprocessor_config.json', 'feature_extractor');
  },
  async convert(srcDir, outDir, opts): Promise<ComponentManifest[]> {
    await this.validate(srcDir);
    const weightFiles = await checkWeightsFolder(srcDir, ['siglip_vision_model'], 'image_encoder');
    const feDir = join(srcDir, '..', 'feature_extractor');
    const pre = await readJson<PreprocessorConfig>(join(feDir, 'preprocessor_config.json'));
    const built = await buildImageEncoder(srcDir, { storage: float32ComponentStorage(opts), withPooler: false });
    const cfg = built.config as unknown as SiglipVisionConfig;
    try {
      const size = targetSize(pre);
      if (size.width !== cfg.image_size || size.height !== cfg.image_size) {
        throw new Error(`feature_extractor size ${size.width}x${size.height} does not match image_encoder image_size ${cfg.image_size}.`);
      }
      await mkdir(join(outDir, 'image_encoder'), { recursive: true });
      await built.graph.save(join(outDir, 'image_encoder', 'model.onnx'));
    } finally {
      await built.store.close();
    }
    const copied = await copyExisting(feDir, join(outDir, 'feature_extractor'), ['preprocessor_config.json']);
    return [
      {
        component: 'image_encoder',
        config: built.config,
        dtype: float32ComponentStorage(opts),
        precision: 'fp32',
        files: { model: 'image_encoder/model.onnx' },
        source: await describeSources(srcDir, ['config.json', ...weightFiles]),
        extra: { output: 'last_hidden_state', post_layernorm: true, tokens: siglipTokens(cfg), hidden_size: cfg.hidden_size },
      },
      {
        component: 'feature_extractor',
        config: pre,
        dtype: 'none',
        files: { config: 'feature_extractor/preprocessor_config.json' },
        source: await describeSources(feDir, copied),
      },
    ];
  },
  async makeTiny(srcDir, seed) {
    const hidden = TINY_DIMS.siglipHidden;
    const cfg = {
      architectures: ['SiglipVisionModel'], attention_dropout: 0, hidden_act: 'gelu_pytorch_tanh', hidden_size: hidden, image_size: 56,
      intermediate_size: 48, layer_norm_eps: 1e-6, model_type: 'siglip_vision_model', num_attention_heads: 2, num_channels: 3,
      num_hidden_layers: 2, patch_size: 14, torch_dtype: 'float32',
    };
    await writeJson(join(srcDir, 'config.json'), cfg);
    await writeJson(join(srcDir, '..', 'feature_extractor', 'preprocessor_config.json'), {
      do_convert_rgb: null, do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.5, 0.5, 0.5],
      image_processor_type: 'SiglipImageProcessor', image_std: [0.5, 0.5, 0.5], processor_class: 'SiglipProcessor',
      resample: 3, rescale_factor: 0.00392156862745098, size: { height: cfg.image_size, width: cfg.image_size },
    });
    const p = 'vision_model';
    const n = (cfg.image_size / cfg.patch_size) ** 2;
    const s: Record<string, number[]> = {
      [`${p}.embeddings.patch_embedding.weight`]: [hidden, 3, cfg.patch_size, cfg.patch_size],
      [`${p}.embeddings.patch_embedding.bias`]: [hidden],
      [`${p}.embeddings.position_embedding.weight`]: [n, hidden],
      [`${p}.post_layernorm.weight`]: [hidden],
      [`${p}.post_layernorm.bias`]: [hidden],
      [`${p}.head.probe`]: [1, 1, hidden],
      [`${p}.head.attention.in_proj_weight`]: [3 * hidden, hidden],
      [`${p}.head.attention.in_proj_bias`]: [3 * hidden],
      [`${p}.head.attention.out_proj.weight`]: [hidden, hidden],
      [`${p}.head.attention.out_proj.bias`]: [hidden],
      [`${p}.head.layernorm.weight`]: [hidden],
      [`${p}.head.layernorm.bias`]: [hidden],
      [`${p}.head.mlp.fc1.weight`]: [cfg.intermediate_size, hidden],
      [`${p}.head.mlp.fc1.bias`]: [cfg.intermediate_size],
      [`${p}.head.mlp.fc2.weight`]: [hidden, cfg.intermediate_size],
      [`${p}.head.mlp.fc2.bias`]: [hidden],
    };
    for (let i = 0; i < cfg.num_hidden_layers; i++) Object.assign(s, clipLayerShapes(`${p}.encoder.layers.${i}`, hidden, cfg.intermediate_size));
    await writeTinyWeights(join(srcDir, 'model.safetensors'), s, seed + 2);
  },
};
