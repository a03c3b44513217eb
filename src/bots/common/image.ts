// Checks an uploaded image before it is queued: size, format, animation, dimensions and a real
// decode, so that a bad upload gets a clear sentence in chat instead of a failed job later.
import sharp, { type Metadata } from 'sharp';
import { isServableAspect, MAX_SERVABLE_ASPECT } from '../../engine/functions/buckets.ts';

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 };

/** The shortest side we accept; FramePack buckets images to about 640 px, tiny inputs only blur. */
export const MIN_IMAGE_SIDE = 64;

export type ImageCheck =
  | { ok: true; format: string; width: number; height: number }
  | {
      ok: false;
      reason: 'too_large_bytes' | 'too_large_pixels' | 'not_image' | 'corrupt' | 'animated' | 'too_small' | 'bad_aspect';
      message: string;
    };

// Formats sharp decodes in the prebuilt binaries. SVG is left out on purpose: it is a document,
// not a photo, and rendering it has its own risks.
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff']);

const NOT_IMAGE = 'That file is not an image I can read (PNG, JPEG or WebP please).';

export async function checkImage(bytes: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<ImageCheck> {
  if (bytes.length > limits.maxBytes) {
    return fail(
      'too_large_bytes',
      `That image is ${formatMiB(bytes.length)}; the limit is ${formatMiB(limits.maxBytes)}. Please send a smaller file.`,
    );
  }
  if (bytes.length === 0) return fail('not_image', NOT_IMAGE);

  let meta: Metadata;
  try {
    // Header only: metadata() does not decode pixels, so a huge image costs nothing here.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    return fail('not_image', NOT_IMAGE);
  }
  const format = meta.format;
  if (!format || !ACCEPTED_FORMATS.has(format) || !meta.width || !meta.height) return fail('not_image', NOT_IMAGE);

  if (format === 'heif' && meta.compression !== 'av1') {
    // HEIC (HEVC) is patent-encumbered and not in sharp's prebuilt libvips; AVIF is.
    return fail('not_image', 'HEIC photos are not supported here. Please send a PNG, JPEG or WebP (most phones can share as JPEG).');
  }
  const { width, height } = meta;
  if ((meta.pages ?? 1) > 1 || (format === 'png' && isAnimatedPng(bytes))) {
    return fail(
      'animated',
      'That image is animated (or has several pages). Please send a still image: one frame, PNG, JPEG or WebP.',
    );
  }
  if (width * height > limits.maxPixels) {
    return fail(
      'too_large_pixels',
      `That image is ${width}×${height} (${formatMegapixels(width * height)}); the limit is ${formatMegapixels(limits.maxPixels)}. Please send a smaller image.`,
    );
  }
  if (Math.min(width, height) < MIN_IMAGE_SIDE) {
    return fail(
      'too_small',
      `That image is only ${width}×${height}. Please send one at least ${MIN_IMAGE_SIDE} pixels on each side.`,
    );
  }

  if (!isServableAspect(height, width)) {
    // Checked before decoding: such a strip is cheap to send and costly to crop (issue 22).
    const ratio = Math.max(width, height) / Math.min(width, height);
    return fail(
      'bad_aspect',
      `That image is ${width}×${height}, a ${formatRatio(ratio)}:1 ${width > height ? 'strip' : 'column'}; I can animate shapes up to ${formatRatio(MAX_SERVABLE_ASPECT)}:1. Please crop it closer to a normal photo shape and send it again.`,
    );
  }

  try {
    // A real decode of every pixel (downscaled on the way): truncated or damaged files fail here.
    await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error' })
      .resize(64, 64, { fit: 'inside' })
      .raw()
      .toBuffer();
  } catch {
    return fail('corrupt', 'That image seems damaged: I could not decode it. Please send it again or try another file.');
  }
  return { ok: true, format, width, height };
}

function fail(reason: Extract<ImageCheck, { ok: false }>['reason'], message: string): ImageCheck {
  return { ok: false, reason, message };
}

/** APNG: libvips reads only the first frame, so look for the animation control chunk ourselves. */
export function isAnimatedPng(bytes: Buffer): boolean {
  const PNG_SIGNATURE_LENGTH = 8;
  let offset = PNG_SIGNATURE_LENGTH;
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (type === 'acTL') {
      const frames = offset + 12 <= bytes.length ? bytes.readUInt32BE(offset + 8) : 0;
      return frames > 1;
    }
    // acTL must come before the image data; stop at the first IDAT.
    if (type === 'IDAT' || type === 'IEND') return false;
    offset += 12 + length;
  }
  return false;
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${mib >= 10 ? Math.round(mib) : Math.round(mib * 10) / 10} MB`;
}

function formatRatio(ratio: number): string {
  return String(Math.round(ratio * 10) / 10);
}

function formatMegapixels(pixels: number): string {
  return `${Math.round(pixels / 100_000) / 10} megapixels`;
}
