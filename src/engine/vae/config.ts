// The diffusers AutoencoderKLHunyuanVideo config, validated, plus the block plan it implies
// (which down/up blocks change time and/or space), derived exactly as the reference constructor does.
import { ModelSetError } from '../modelset/manifest.ts';

export const VAE_CLASS_NAME = 'AutoencoderKLHunyuanVideo';

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normNumGroups: number;
  scalingFactor: number;
  spatialCompressionRatio: number;
  temporalCompressionRatio: number;
  midBlockAddAttention: boolean;
}

/** Stride (encoder) or scale factor (decoder) per block as [t, h, w]; null when the block keeps the size. */
export type Resample = [number, number, number] | null;

const DOWN = 'HunyuanVideoDownBlock3D';
const UP = 'HunyuanVideoUpBlock3D';

function num(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelSetError(`VAE config: ${key} must be a number.`);
  return v;
}

/** Parses config.json (the object). Defaults are the diffusers constructor defaults. */
export function parseVaeConfig(raw: unknown): VaeConfig {
  if (typeof raw !== 'object' || raw === null) throw new ModelSetError('VAE config.json is not a JSON object.');
  const r = raw as Record<string, unknown>;
  if (r._class_name !== VAE_CLASS_NAME) {
    throw new ModelSetError(`VAE config.json has _class_name ${JSON.stringify(r._class_name)}, expected ${VAE_CLASS_NAME}.`);
  }
  const blockOutChannels = (r.block_out_channels ?? [128, 256, 512, 512]) as unknown;
  if (!Array.isArray(blockOutChannels) || blockOutChannels.some((c) => typeof c !== 'number')) {
    throw new ModelSetError('VAE config: block_out_channels must be a list of numbers.');
  }
  const n = blockOutChannels.length;
  for (const [key, want] of [['down_block_types', DOWN], ['up_block_types', UP]] as const) {
    const types = (r[key] ?? new Array(n).fill(want)) as unknown;
    if (!Array.isArray(types) || types.length !== n || types.some((t) => t !== want)) {
      throw new ModelSetError(`VAE config: ${key} must be ${n} × ${want} (the only block type the reference supports).`);
    }
  }
  const act = r.act_fn ?? 'silu';
  if (act !== 'silu' && act !== 'swish') throw new ModelSetError(`VAE config: act_fn ${String(act)} is not supported (silu only).`);
  const cfg: VaeConfig = {
    inChannels: num(r, 'in_channels', 3),
    outChannels: num(r, 'out_channels', 3),
    latentChannels: num(r, 'latent_channels', 16),
    blockOutChannels: blockOutChannels as number[],
    layersPerBlock: num(r, 'layers_per_block', 2),
    normNumGroups: num(r, 'norm_num_groups', 32),
    scalingFactor: num(r, 'scaling_factor', 0.476986),
    spatialCompressionRatio: num(r, 'spatial_compression_ratio', 8),
    temporalCompressionRatio: num(r, 'temporal_compression_ratio', 4),
    midBlockAddAttention: (r.mid_block_add_attention ?? true) === true,
  };
  if (cfg.temporalCompressionRatio !== 4) {
    throw new ModelSetError(`VAE config: temporal_compression_ratio ${cfg.temporalCompressionRatio} is not supported (4 only, as the decoder).`);
  }
  if (!Number.isInteger(Math.log2(cfg.spatialCompressionRatio))) {
    throw new ModelSetError('VAE config: spatial_compression_ratio must be a power of two.');
  }
  for (const c of cfg.blockOutChannels) {
    if (c % cfg.normNumGroups !== 0) {
      throw new ModelSetError(`VAE config: channel count ${c} is not divisible by norm_num_groups ${cfg.normNumGroups}.`);
    }
  }
  return cfg;
}

/** Encoder down-block strides, as HunyuanVideoEncoder3D.__init__ chooses them (temporal ratio 4). */
export function downsamplePlan(cfg: VaeConfig): Resample[] {
  const n = cfg.blockOutChannels.length;
  const spatialLayers = Math.log2(cfg.spatialCompressionRatio);
  const timeLayers = Math.log2(cfg.temporalCompressionRatio);
  return cfg.blockOutChannels.map((_, i) => {
    const spatial = i < spatialLayers;
    const time = i >= n - 1 - timeLayers && i !== n - 1;
    return spatial || time ? [time ? 2 : 1, spatial ? 2 : 1, spatial ? 2 : 1] : null;
  });
}

/** Decoder up-block scale factors (same rule, counted over reversed channels). */
export function upsamplePlan(cfg: VaeConfig): Resample[] {
  return downsamplePlan(cfg);
}
