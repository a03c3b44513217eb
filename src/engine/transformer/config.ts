// The packed HunyuanVideo transformer config (diffusers config.json of FramePackI2V_HY) and the
// official state-dict layout it implies. The layout table is the one source for makeTiny, the
// shape-only 13B build and the converter's key checks; a test pins it to the golden state dict.
import { ModelSetError } from '../modelset/manifest.ts';

export const PACKED_CLASS_NAME = 'HunyuanVideoTransformer3DModelPacked';

export interface PackedTransformerConfig {
  inChannels: number;
  outChannels: number;
  numHeads: number;
  headDim: number;
  numLayers: number;
  numSingleLayers: number;
  numRefinerLayers: number;
  mlpRatio: number;
  patchSize: number;
  patchSizeT: number;
  textEmbedDim: number;
  pooledDim: number;
  imageDim: number;
  ropeTheta: number;
  ropeAxesDim: [number, number, number];
}

/** The official lllyasviel/FramePackI2V_HY config.json (13B). */
export const OFFICIAL_CONFIG: Record<string, unknown> = {
  _class_name: PACKED_CLASS_NAME,
  _diffusers_version: '0.33.1',
  attention_head_dim: 128,
  guidance_embeds: true,
  has_clean_x_embedder: true,
  has_image_proj: true,
  image_proj_dim: 1152,
  in_channels: 16,
  mlp_ratio: 4.0,
  num_attention_heads: 24,
  num_layers: 20,
  num_refiner_layers: 2,
  num_single_layers: 40,
  out_channels: 16,
  patch_size: 2,
  patch_size_t: 1,
  pooled_projection_dim: 768,
  qk_norm: 'rms_norm',
  rope_axes_dim: [16, 56, 56],
  rope_theta: 256.0,
  text_embed_dim: 4096,
};

function int(r: Record<string, unknown>, key: string, fallback?: number): number {
  const v = r[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelSetError(`Transformer config.json: ${key} must be a positive integer (got ${JSON.stringify(v)}).`);
  }
  return v;
}

/** Validates a diffusers config.json; throws ModelSetError naming the bad key. */
export function parseTransformerConfig(raw: unknown): PackedTransformerConfig {
  if (typeof raw !== 'object' || raw === null) throw new ModelSetError('Transformer config.json is not a JSON object.');
  const r = raw as Record<string, unknown>;
  if (r._class_name !== PACKED_CLASS_NAME) {
    throw new ModelSetError(
      `Transformer config.json has _class_name ${JSON.stringify(r._class_name)}, expected ${PACKED_CLASS_NAME} (FramePackI2V_HY).`,
    );
  }
  // Defaults are the reference constructor's; FramePack needs the image projection, the clean-latent
  // embedders and guidance, so a config without them is refused rather than silently changed.
  for (const key of ['has_image_proj', 'has_clean_x_embedder', 'guidance_embeds']) {
    if (r[key] !== true) throw new ModelSetError(`Transformer config.json: ${key} must be true for FramePack (got ${JSON.stringify(r[key])}).`);
  }
  if ((r.qk_norm ?? 'rms_norm') !== 'rms_norm') throw new ModelSetError(`Transformer config.json: qk_norm ${JSON.stringify(r.qk_norm)} is not supported (rms_norm only).`);
  const axes = r.rope_axes_dim ?? [16, 56, 56];
  if (!Array.isArray(axes) || axes.length !== 3 || axes.some((a) => typeof a !== 'number' || a <= 0 || a % 2 !== 0)) {
    throw new ModelSetError('Transformer config.json: rope_axes_dim must be three positive even integers.');
  }
  const mlpRatio = r.mlp_ratio ?? 4.0;
  if (typeof mlpRatio !== 'number' || mlpRatio <= 0) throw new ModelSetError('Transformer config.json: mlp_ratio must be a positive number.');
  const theta = r.rope_theta ?? 256.0;
  if (typeof theta !== 'number' || theta <= 0) throw new ModelSetError('Transformer config.json: rope_theta must be a positive number.');
  const cfg: PackedTransformerConfig = {
    inChannels: int(r, 'in_channels', 16),
    outChannels: int(r, 'out_channels', 16),
    numHeads: int(r, 'num_attention_heads', 24),
    headDim: int(r, 'attention_head_dim', 128),
    numLayers: int(r, 'num_layers', 20),
    numSingleLayers: int(r, 'num_single_layers', 40),
    numRefinerLayers: int(r, 'num_refiner_layers', 2),
    mlpRatio,
    patchSize: int(r, 'patch_size', 2),
    patchSizeT: int(r, 'patch_size_t', 1),
    textEmbedDim: int(r, 'text_embed_dim', 4096),
    pooledDim: int(r, 'pooled_projection_dim', 768),
    imageDim: int(r, 'image_proj_dim', 1152),
    ropeTheta: theta,
    ropeAxesDim: axes as [number, number, number],
  };
  if (axes.reduce((a: number, b: number) => a + b, 0) !== cfg.headDim) {
    throw new ModelSetError(`Transformer config.json: rope_axes_dim [${axes.join(', ')}] must sum to attention_head_dim ${cfg.headDim}.`);
  }
  // The clean-latent embedders are hard-wired to 16 channels in the reference.
  if (cfg.inChannels !== 16) throw new ModelSetError('Transformer config.json: in_channels must be 16 (the clean-latent embedders are fixed at 16).');
  return cfg;
}

export const innerDim = (c: PackedTransformerConfig): number => c.numHeads * c.headDim;
export const mlpDim = (c: PackedTransformerConfig): number => Math.floor(innerDim(c) * c.mlpRatio);

/** Every parameter of the official state dict, name → shape, in module order. */
export function officialParamShapes(c: PackedTransformerConfig): Map<string, number[]> {
  const D = innerDim(c);
  const M = mlpDim(c);
  const hd = c.headDim;
  const m = new Map<string, number[]>();
  const lin = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  const conv = (name: string, k: [number, number, number], inCh: number) => {
    m.set(`${name}.weight`, [D, inCh, ...k]);
    m.set(`${name}.bias`, [D]);
  };
  conv('x_embedder.proj', [c.patchSizeT, c.patchSize, c.patchSize], c.inChannels);
  const ce = 'context_embedder';
  lin(`${ce}.time_text_embed.timestep_embedder.linear_1`, D, 256);
  lin(`${ce}.time_text_embed.timestep_embedder.linear_2`, D, D);
  lin(`${ce}.time_text_embed.text_embedder.linear_1`, D, c.textEmbedDim);
  lin(`${ce}.time_text_embed.text_embedder.linear_2`, D, D);
  lin(`${ce}.proj_in`, D, c.textEmbedDim);
  for (let i = 0; i < c.numRefinerLayers; i++) {
    const p = `${ce}.token_refiner.refiner_blocks.${i}`;
    m.set(`${p}.norm1.weight`, [D]);
    m.set(`${p}.norm1.bias`, [D]);
    for (const n of ['to_q', 'to_k', 'to_v', 'to_out.0']) lin(`${p}.attn.${n}`, D, D);
    m.set(`${p}.norm2.weight`, [D]);
    m.set(`${p}.norm2.bias`, [D]);
    // The refiner's FeedForward always uses ratio 4 (the reference does not pass mlp_ratio down).
    lin(`${p}.ff.net.0.proj`, 4 * D, D);
    lin(`${p}.ff.net.2`, D, 4 * D);
    lin(`${p}.norm_out.linear`, 2 * D, D);
  }
  const tt = 'time_text_embed';
  lin(`${tt}.timestep_embedder.linear_1`, D, 256);
  lin(`${tt}.timestep_embedder.linear_2`, D, D);
  lin(`${tt}.guidance_embedder.linear_1`, D, 256);
  lin(`${tt}.guidance_embedder.linear_2`, D, D);
  lin(`${tt}.text_embedder.linear_1`, D, c.pooledDim);
  lin(`${tt}.text_embedder.linear_2`, D, D);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer_blocks.${i}`;
    lin(`${p}.norm1.linear`, 6 * D, D);
    lin(`${p}.norm1_context.linear`, 6 * D, D);
    for (const n of ['to_q', 'to_k', 'to_v', 'add_k_proj', 'add_v_proj', 'add_q_proj', 'to_out.0', 'to_add_out']) lin(`${p}.attn.${n}`, D, D);
    for (const n of ['norm_q', 'norm_k', 'norm_added_q', 'norm_added_k']) m.set(`${p}.attn.${n}.weight`, [hd]);
    for (const ff of ['ff', 'ff_context']) {
      lin(`${p}.${ff}.net.0.proj`, M, D);
      lin(`${p}.${ff}.net.2`, D, M);
    }
  }
  for (let i = 0; i < c.numSingleLayers; i++) {
    const p = `single_transformer_blocks.${i}`;
    for (const n of ['to_q', 'to_k', 'to_v']) lin(`${p}.attn.${n}`, D, D);
    m.set(`${p}.attn.norm_q.weight`, [hd]);
    m.set(`${p}.attn.norm_k.weight`, [hd]);
    lin(`${p}.norm.linear`, 3 * D, D);
    lin(`${p}.proj_mlp`, M, D);
    lin(`${p}.proj_out`, D, D + M);
  }
  lin('norm_out.linear', 2 * D, D);
  lin('proj_out', c.patchSizeT * c.patchSize * c.patchSize * c.outChannels, D);
  lin('image_projection.up', 3 * D, c.imageDim);
  lin('image_projection.down', D, 3 * D);
  conv('clean_x_embedder.proj', [1, 2, 2], 16);
  conv('clean_x_embedder.proj_2x', [2, 4, 4], 16);
  conv('clean_x_embedder.proj_4x', [4, 8, 8], 16);
  return m;
}

/** A tiny official-format config (same structure as the golden set). */
export function tinyRawConfig(): Record<string, unknown> {
  return {
    ...OFFICIAL_CONFIG,
    attention_head_dim: 16,
    image_proj_dim: 24,
    num_attention_heads: 2,
    num_layers: 2,
    num_refiner_layers: 1,
    num_single_layers: 2,
    pooled_projection_dim: 16,
    rope_axes_dim: [4, 6, 6],
    text_embed_dim: 32,
  };
}
