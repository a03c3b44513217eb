// The peak memory of one VAE decoder call, computed from the VAE's config and the latent tile's
// shape, so the memory plan chooses tiling before anything runs (a decode that does not fit is found
// out by the OOM killer, minutes into a job).
//
// The decoder's largest activation is the last upsampler's output: the channels of the block before
// the full-resolution block, at full resolution (the official VAE: 256 channels × 17 frames × the
// bucket's pixels). A few tensors of that size are alive at once (a convolution's input, its padded
// copy and output, GroupNorm's temporaries): LIVE_ACTIVATIONS, measured. The mid-block attention no
// longer adds an L×L term (vae/layers.ts frameCausalAttention).
import { upsamplePlan, type VaeConfig } from './config.ts';
import { DEFAULT_TILES } from './tiling.ts';

/**
 * Largest-activation-sized tensors alive at the peak of a decoder call, measured with onnxruntime's
 * CPU provider as the growth of peak RSS per value of the largest activation: 3.9 with the official
 * widths (random weights, 17×64×64 → 17×96×96 px), 5.9 with the tiny widths (17×304×320 →
 * 17×608×640 px, where fixed-width tensors weigh more). The larger one bounds both.
 */
export const LIVE_ACTIVATIONS = 6;

export interface LatentTile {
  frames: number;
  height: number;
  width: number;
}

/** Values (channels × frames × height × width) of the largest activation of one decoder call. */
export function largestDecoderActivation(cfg: VaeConfig, tile: LatentTile): number {
  const channels = [...cfg.blockOutChannels].reverse();
  let { frames, height, width } = tile;
  let largest = channels[0]! * frames * height * width; // conv_in and the mid block, at latent resolution
  upsamplePlan(cfg).forEach((factor, i) => {
    const c = channels[i]!;
    largest = Math.max(largest, c * frames * height * width);
    if (!factor) return;
    if (factor[0] === 2) frames = 1 + 2 * (frames - 1);
    height *= factor[1];
    width *= factor[2];
    largest = Math.max(largest, c * frames * height * width);
  });
  return largest;
}

export function decoderCallPeakBytes(cfg: VaeConfig, tile: LatentTile, bytesPerValue = 4): number {
  return LIVE_ACTIVATIONS * largestDecoderActivation(cfg, tile) * bytesPerValue;
}

/** A framewise tile's latent frames (diffusers' default: 16 pixel frames → 4 latent, plus one). */
const FRAMEWISE_LATENT_FRAMES = DEFAULT_TILES.sampleMinFrames / 4 + 1;

/** One untiled decoder call at a bucket resolution (buckets hold about resolution² pixels). */
export function untiledDecodePeakBytes(cfg: VaeConfig, resolution: number, bytesPerValue = 4): number {
  const side = Math.ceil(resolution / cfg.spatialCompressionRatio);
  return decoderCallPeakBytes(cfg, { frames: FRAMEWISE_LATENT_FRAMES, height: side, width: side }, bytesPerValue);
}

/** One spatially tiled decoder call (256-px tiles). */
export function tiledDecodePeakBytes(cfg: VaeConfig, bytesPerValue = 4): number {
  const side = DEFAULT_TILES.sampleMinHeight / cfg.spatialCompressionRatio;
  return decoderCallPeakBytes(cfg, { frames: FRAMEWISE_LATENT_FRAMES, height: side, width: side }, bytesPerValue);
}
