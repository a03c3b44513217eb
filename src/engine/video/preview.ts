// Step previews: the 16→3 latent map (vae_decode_fake) laid out like FramePack's UI,
// 'c t h w -> h (t w) c', encoded as a small PNG.
import sharp from 'sharp';
import { LATENT_RGB_BIAS, LATENT_RGB_FACTORS, type Tensor } from '../functions/index.ts';

/**
 * Preview rgb bytes (height h, width t·w): vae_decode_fake fused with the layout, one pass per latent
 * channel with float32 accumulators (the golden-checked vaeDecodeFake is the reference for this).
 */
export function latentPreviewRgb(latents: Tensor): { rgb: Uint8Array; width: number; height: number } {
  const [, c, t, h, w] = latents.dims as [number, number, number, number, number];
  if (c !== 16) throw new Error(`latent preview expects 16 channels, got ${c}.`);
  const n = t * h * w;
  const acc = new Float32Array(3 * n);
  acc.fill(LATENT_RGB_BIAS[0], 0, n);
  acc.fill(LATENT_RGB_BIAS[1], n, 2 * n);
  acc.fill(LATENT_RGB_BIAS[2], 2 * n);
  const src = latents.data;
  for (let ch = 0; ch < 16; ch++) {
    const [k0, k1, k2] = LATENT_RGB_FACTORS[ch]!;
    const base = ch * n;
    for (let p = 0; p < n; p++) {
      const v = src[base + p]!;
      acc[p]! += k0 * v;
      acc[n + p]! += k1 * v;
      acc[2 * n + p]! += k2 * v;
    }
  }
  const width = t * w;
  const rgb = new Uint8Array(h * width * 3);
  const plane = h * w;
  for (let col = 0; col < 3; col++) {
    for (let ti = 0; ti < t; ti++) {
      const from = col * n + ti * plane;
      for (let y = 0; y < h; y++) {
        const row = (y * width + ti * w) * 3 + col;
        for (let x = 0; x < w; x++) {
          const v = acc[from + y * w + x]!;
          rgb[row + x * 3] = v <= 0 ? 0 : v >= 1 ? 255 : v * 255; // clamp to [0,1]; the store truncates
        }
      }
    }
  }
  return { rgb, width, height: h };
}

export async function latentPreviewPng(latents: Tensor): Promise<Buffer> {
  const { rgb, width, height } = latentPreviewRgb(latents);
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}
