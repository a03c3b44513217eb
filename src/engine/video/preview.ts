// Step previews: the 16→3 latent map (vae_decode_fake) laid out like FramePack's UI,
// 'c t h w -> h (t w) c', encoded as a small PNG.
import sharp from 'sharp';
import { vaeDecodeFake, type Tensor } from '../functions/index.ts';

/** Preview rgb bytes (height h, width t·w). */
export function latentPreviewRgb(latents: Tensor): { rgb: Uint8Array; width: number; height: number } {
  const fake = vaeDecodeFake(latents);
  const [, , t, h, w] = fake.dims as [number, number, number, number, number];
  const width = t * w;
  const rgb = new Uint8Array(h * width * 3);
  const plane = h * w;
  for (let c = 0; c < 3; c++) {
    for (let ti = 0; ti < t; ti++) {
      const src = (c * t + ti) * plane;
      for (let y = 0; y < h; y++) {
        const row = (y * width + ti * w) * 3 + c;
        for (let x = 0; x < w; x++) rgb[row + x * 3] = fake.data[src + y * w + x]! * 255; // already in [0,1]; store truncates
      }
    }
  }
  return { rgb, width, height: h };
}

export async function latentPreviewPng(latents: Tensor): Promise<Buffer> {
  const { rgb, width, height } = latentPreviewRgb(latents);
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}
