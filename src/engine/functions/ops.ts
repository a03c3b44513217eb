// Tensor helpers from diffusers_helper (utils.py, hunyuan.py), float32 like the reference.
import { linspaceF32 } from './flux.ts';
import type { Tensor } from './tensor.ts';

const f = Math.fround;

/**
 * Crops or zero-pads [1,F,C] to [1,length,C]; the mask marks real rows (1) and padding (0).
 * FramePack pads the LLaMA text vector to 512 tokens this way.
 */
export function cropOrPadYieldMask(x: Tensor, length: number): { y: Tensor; mask: Uint8Array } {
  const [b, frames, c] = x.dims as [number, number, number];
  if (b !== 1) throw new Error('cropOrPadYieldMask expects batch size 1.');
  const keep = Math.min(frames, length);
  const y = new Float32Array(length * c);
  y.set(x.data.subarray(0, keep * c));
  const mask = new Uint8Array(length);
  mask.fill(1, 0, keep);
  return { y: { data: y, dims: [1, length, c] }, mask };
}

/**
 * Joins two [1,C,T,H,W] videos along time, cross-fading the last `overlap` frames of `history`
 * into the first `overlap` of `current` with weights linspace(1, 0, overlap). FramePack's worker
 * passes the newly decoded (earlier) frames as `history`.
 */
export function softAppendBcthw(history: Tensor, current: Tensor, overlap: number): Tensor {
  const [, c, th, h, w] = history.dims as [number, number, number, number, number];
  const tc = current.dims[2]!;
  if (current.dims[1] !== c || current.dims[3] !== h || current.dims[4] !== w) throw new Error('softAppendBcthw: shapes differ.');
  const ov = Math.max(0, overlap);
  if (th < ov || tc < ov) throw new Error(`softAppendBcthw: overlap ${ov} exceeds a length (${th}, ${tc}).`);
  const weights = ov > 0 ? linspaceF32(1, 0, ov) : new Float32Array(0);
  const plane = h * w;
  const total = th + tc - ov;
  const out = new Float32Array(c * total * plane);
  for (let ch = 0; ch < c; ch++) {
    const hBase = ch * th * plane;
    const cBase = ch * tc * plane;
    const oBase = ch * total * plane;
    out.set(history.data.subarray(hBase, hBase + (th - ov) * plane), oBase);
    for (let k = 0; k < ov; k++) {
      const wk = weights[k]!;
      const wc = f(1 - wk);
      const hs = hBase + (th - ov + k) * plane;
      const cs = cBase + k * plane;
      const os = oBase + (th - ov + k) * plane;
      for (let p = 0; p < plane; p++) out[os + p] = f(f(wk * history.data[hs + p]!) + f(wc * current.data[cs + p]!));
    }
    out.set(current.data.subarray(cBase + ov * plane, cBase + tc * plane), oBase + th * plane);
  }
  return { data: out, dims: [1, c, total, h, w] };
}

// ComfyUI's 16→3 latent-to-RGB factors, as FramePack's vae_decode_fake uses them (float32).
export const LATENT_RGB_FACTORS: ReadonlyArray<readonly [number, number, number]> = [
  [-0.0395, -0.0331, 0.0445], [0.0696, 0.0795, 0.0518], [0.0135, -0.0945, -0.0282], [0.0108, -0.025, -0.0765],
  [-0.0209, 0.0032, 0.0224], [-0.0804, -0.0254, -0.0639], [-0.0991, 0.0271, -0.0669], [-0.0646, -0.0422, -0.04],
  [-0.0696, -0.0595, -0.0894], [-0.0799, -0.0208, -0.0375], [0.1166, 0.1627, 0.0962], [0.1165, 0.0432, 0.0407],
  [-0.2315, -0.192, -0.1355], [-0.027, 0.0401, -0.0821], [-0.0616, -0.0997, -0.0727], [0.0249, -0.0469, -0.1703],
];
export const LATENT_RGB_BIAS = [0.0259, -0.0192, -0.0761] as const;
const FACTORS_F32 = Float32Array.from(
  { length: 48 }, (_, i) => LATENT_RGB_FACTORS[i % 16]![Math.floor(i / 16)]!, // [rgb][channel]
);

/** The cheap latent preview: a fixed 1×1×1 conv from 16 latent channels to RGB in [0,1]. */
export function vaeDecodeFake(latents: Tensor): Tensor {
  const [, c, t, h, w] = latents.dims as [number, number, number, number, number];
  if (c !== 16) throw new Error(`vaeDecodeFake expects 16 latent channels, got ${c}.`);
  const n = t * h * w;
  const out = new Float32Array(3 * n);
  const src = latents.data;
  for (let rgb = 0; rgb < 3; rgb++) {
    const acc = new Float64Array(n).fill(f(LATENT_RGB_BIAS[rgb]!));
    for (let ch = 0; ch < 16; ch++) {
      const k = FACTORS_F32[rgb * 16 + ch]!;
      const base = ch * n;
      for (let p = 0; p < n; p++) acc[p]! += k * src[base + p]!;
    }
    const o = rgb * n;
    for (let p = 0; p < n; p++) {
      const v = acc[p]!;
      out[o + p] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { data: out, dims: [1, 3, t, h, w] };
}

/** FramePack's save_bcthw_as_mp4 grid width: the first of 6, 5, 4, 3, 2 that divides the batch, else the batch. */
export function gridPerRow(batch: number): number {
  for (const p of [6, 5, 4, 3, 2]) if (batch % p === 0) return p;
  return batch;
}

/**
 * Pixels [B,3,T,H,W] in [-1,1] → rgb24 frames T×(m·H)×(n·W)×3, as save_bcthw_as_mp4 does: clamp,
 * ×127.5 + 127.5 in float32, truncate toward zero, and lay a batch out as a grid
 * (`(m n) c t h w -> t (m h) (n w) c`, n = gridPerRow(B)). Returns the frames and their size.
 */
export function framesToUint8Grid(pixels: Tensor): { data: Uint8Array; frames: number; height: number; width: number } {
  const [b, c, t, h, w] = pixels.dims as [number, number, number, number, number];
  if (pixels.dims.length !== 5 || c !== 3 || !(b >= 1)) throw new Error(`save_bcthw_as_mp4 expects [B,3,T,H,W], got [${pixels.dims.join(',')}].`);
  const n = gridPerRow(b);
  const m = b / n;
  const width = n * w;
  const height = m * h;
  const plane = h * w;
  const out = new Uint8Array(t * height * width * 3);
  const src = pixels.data;
  for (let bi = 0; bi < b; bi++) {
    const top = Math.floor(bi / n) * h;
    const left = (bi % n) * w;
    for (let ch = 0; ch < 3; ch++) {
      for (let ti = 0; ti < t; ti++) {
        const s = ((bi * 3 + ch) * t + ti) * plane;
        const frame = ti * height * width;
        for (let y = 0; y < h; y++) {
          const row = (frame + (top + y) * width + left) * 3 + ch;
          for (let x = 0; x < w; x++) {
            let v = src[s + y * w + x]!;
            v = v < -1 ? -1 : v > 1 ? 1 : v;
            out[row + x * 3] = f(f(v * 127.5) + 127.5); // Uint8Array stores truncate toward 0
          }
        }
      }
    }
  }
  return { data: out, frames: t, height, width };
}

/** Pixels [1,3,T,H,W] in [-1,1] → rgb24 frames T×H×W×3 (the batch-1 case of framesToUint8Grid). */
export function framesToUint8(pixels: Tensor): Uint8Array {
  if (pixels.dims[0] !== 1 || pixels.dims[1] !== 3) throw new Error('framesToUint8 expects [1,3,T,H,W].');
  return framesToUint8Grid(pixels).data;
}
