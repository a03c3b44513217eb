// The decoder's computed peak and the tiling plan built on it (memory-budget.ts planDecodeTiling).
import { describe, expect, it } from 'vitest';
import { planDecodeTiling } from '../../../src/engine/memory-budget.ts';
import { TINY_VAE_CONFIG } from '../../../src/engine/vae/component.ts';
import { parseVaeConfig } from '../../../src/engine/vae/config.ts';
import { LIVE_ACTIVATIONS, largestDecoderActivation, tiledDecodePeakBytes, untiledDecodePeakBytes } from '../../../src/engine/vae/decode-peak.ts';

const GB = 2 ** 30;
const OFFICIAL = { ...TINY_VAE_CONFIG, block_out_channels: [128, 256, 512, 512], layers_per_block: 2, norm_num_groups: 32 };

describe('VAE decode peak', () => {
  it("is the last upsampler's output: the official VAE's 256 channels × 17 frames × full resolution", () => {
    const cfg = parseVaeConfig(OFFICIAL);
    // 5 latent frames of 80×80 → 17 frames of 640×640 after two temporal and three spatial upsamples.
    expect(largestDecoderActivation(cfg, { frames: 5, height: 80, width: 80 })).toBe(256 * 17 * 640 * 640);
    // The tiny set: 8 channels at full resolution.
    expect(largestDecoderActivation(parseVaeConfig(TINY_VAE_CONFIG), { frames: 5, height: 80, width: 80 })).toBe(8 * 17 * 640 * 640);
  });

  it('is tens of GB untiled at the 640 bucket for the official widths, a few GB in 256-px tiles', () => {
    const cfg = parseVaeConfig(OFFICIAL);
    const untiled = untiledDecodePeakBytes(cfg, 640);
    expect(untiled).toBe(LIVE_ACTIVATIONS * 256 * 17 * 640 * 640 * 4);
    expect(untiled / GB).toBeGreaterThan(30);
    expect(tiledDecodePeakBytes(cfg) / GB).toBeLessThan(7);
  });
});

describe('decode tiling plan', () => {
  const official = parseVaeConfig(OFFICIAL);
  const tiny = parseVaeConfig(TINY_VAE_CONFIG);
  it('tiles below FramePack’s 60 GB, as FramePack does, and says why', () => {
    const plan = planDecodeTiling(official, 640, 18, 1 * GB);
    expect(plan.tiled).toBe(true);
    expect(plan.why).toMatch(/budget 18 GB < 60 GB/);
  });

  it('tiles above 60 GB when the untiled peak does not fit next to the weights, and not when it does', () => {
    // An 80 GB device: 60 GB budget, 36 GB of weights leave 24 GB, less than the ≈40 GB an untiled decode needs.
    const h100 = planDecodeTiling(official, 640, 60, 36 * GB);
    expect(h100.tiled).toBe(true);
    expect(h100.why).toMatch(/peaks at ≈39\.8 GB, more than the 24\.0 GB/);
    // A 141 GB device: 105.8 GB budget leaves ≈70 GB.
    expect(planDecodeTiling(official, 640, 105.8, 36 * GB).tiled).toBe(false);
    // The tiny widths at 640 fit anywhere above the threshold.
    expect(planDecodeTiling(tiny, 640, 60, 0.1 * GB).tiled).toBe(false);
  });

  it('decodes untiled without a budget (everything resident, as asked)', () => {
    expect(planDecodeTiling(official, 640, undefined, 36 * GB).tiled).toBe(false);
  });
});
