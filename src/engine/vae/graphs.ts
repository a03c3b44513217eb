// Encoder and decoder graphs of AutoencoderKLHunyuanVideo, built from its config and checkpoint.
//   encoder.onnx: pixels [B, 3, T, H, W] → mean, logvar [B, latent, 1+(T-1)/4, H/8, W/8]
//                 (encoder → quant_conv → moments split in two, logvar clamped to [-30, 20] as
//                 DiagonalGaussianDistribution does)
//   decoder.onnx: latents [B, latent, t, h, w] (unscaled) → sample [B, 3, 1+(t-1)·4, 8h, 8w]
//                 (post_quant_conv → decoder)
import { GraphBuilder } from '../onnx/graph.ts';
import { silu } from '../onnx/ops.ts';
import { WeightBinder, type BinderOptions, type StorageDtype, type WeightProvider } from '../onnx/weights.ts';
import { downsamplePlan, upsamplePlan, type VaeConfig } from './config.ts';
import { causalConv3d, causalUpsample, groupNorm, midBlock, plainConv3d, resnetBlock } from './layers.ts';

export interface BuiltGraph {
  graph: GraphBuilder;
  /** Checkpoint keys the graph uses (to report unused or missing keys). */
  used: Set<string>;
}

function buildEncoderInto(w: WeightBinder, cfg: VaeConfig): void {
  const g = w.g;
  const groups = cfg.normNumGroups;
  // Inputs and outputs stay float32 (the JS side's type); the graph computes in g.compute.
  const pixels = g.toCompute(g.input('pixels', 'float32', ['B', cfg.inChannels, 'T', 'H', 'W']));
  let h = causalConv3d(w, pixels, 'encoder.conv_in');
  downsamplePlan(cfg).forEach((stride, i) => {
    for (let j = 0; j < cfg.layersPerBlock; j++) h = resnetBlock(w, h, `encoder.down_blocks.${i}.resnets.${j}`, groups);
    if (stride) h = causalConv3d(w, h, `encoder.down_blocks.${i}.downsamplers.0.conv`, stride);
  });
  h = midBlock(w, h, 'encoder.mid_block', groups, cfg.midBlockAddAttention);
  h = silu(g, groupNorm(w, h, 'encoder.conv_norm_out', groups));
  h = causalConv3d(w, h, 'encoder.conv_out');
  const moments = plainConv3d(w, h, 'quant_conv');
  const [mean, logvar] = g.node('Split', [moments, g.i64([cfg.latentChannels, cfg.latentChannels])], { axis: 1 }, { outputs: 2 });
  const clamped = g.op('Clip', [g.toFloat32(logvar!), g.f32(-30), g.f32(20)]);
  const latentShape = ['B', cfg.latentChannels, 't', 'h', 'w'];
  g.output(g.toFloat32(mean!), 'mean', 'float32', latentShape);
  g.output(clamped, 'logvar', 'float32', latentShape);
}

function buildDecoderInto(w: WeightBinder, cfg: VaeConfig): void {
  const g = w.g;
  const groups = cfg.normNumGroups;
  const latents = g.toCompute(g.input('latents', 'float32', ['B', cfg.latentChannels, 't', 'h', 'w']));
  let h = plainConv3d(w, latents, 'post_quant_conv');
  h = causalConv3d(w, h, 'decoder.conv_in');
  h = midBlock(w, h, 'decoder.mid_block', groups, cfg.midBlockAddAttention);
  upsamplePlan(cfg).forEach((factor, i) => {
    // The decoder's up blocks hold one more resnet than the encoder's down blocks.
    for (let j = 0; j <= cfg.layersPerBlock; j++) h = resnetBlock(w, h, `decoder.up_blocks.${i}.resnets.${j}`, groups);
    if (factor) h = causalConv3d(w, causalUpsample(g, h, factor), `decoder.up_blocks.${i}.upsamplers.0.conv`);
  });
  h = silu(g, groupNorm(w, h, 'decoder.conv_norm_out', groups));
  h = causalConv3d(w, h, 'decoder.conv_out');
  g.output(g.toFloat32(h), 'sample', 'float32', ['B', cfg.outChannels, 'T', 'H', 'W']);
}

/** `binder`: a storage dtype (float32 compute) or the binder's options ({ compute: 'float16' } for fp16 sets). */
export function buildVaeEncoder(cfg: VaeConfig, weights: WeightProvider, binder: StorageDtype | BinderOptions = 'fp32'): BuiltGraph {
  const w = new WeightBinder(new GraphBuilder('hunyuan_vae_encoder'), weights, binder);
  buildEncoderInto(w, cfg);
  return { graph: w.g, used: w.used };
}

export function buildVaeDecoder(cfg: VaeConfig, weights: WeightProvider, binder: StorageDtype | BinderOptions = 'fp32'): BuiltGraph {
  const w = new WeightBinder(new GraphBuilder('hunyuan_vae_decoder'), weights, binder);
  buildDecoderInto(w, cfg);
  return { graph: w.g, used: w.used };
}
