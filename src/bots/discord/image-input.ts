// Picks the image out of a Discord attachment, downloads it with a size cap and checks it, so a
// bad upload is answered with one clear sentence before anything is queued.
import type { Attachment, Collection } from 'discord.js';
import { checkImage, DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../common/image.ts';
import { downloadLimited, DownloadError } from '../common/download.ts';

export interface ImageInput {
  bytes: Buffer;
  name: string;
  width: number;
  height: number;
}

export type ImageResult = { ok: true; image: ImageInput } | { ok: false; message: string };

/** The facts about an attachment that we can judge before downloading it. */
export interface AttachmentInfo {
  url: string;
  name: string;
  size: number;
  contentType: string | null;
}

export const NO_IMAGE = 'I need an image to animate: attach a PNG, JPEG or WebP still image.';

export function attachmentInfo(a: Attachment): AttachmentInfo {
  return { url: a.url, name: a.name, size: a.size, contentType: a.contentType };
}

/** The first attachment that looks like an image, else the first attachment (to say why it is not one). */
export function pickAttachment(attachments: Collection<string, Attachment> | readonly Attachment[]): AttachmentInfo | undefined {
  const list = [...attachments.values()];
  const image = list.find((a) => a.contentType?.startsWith('image/') ?? /\.(png|jpe?g|webp|gif|avif)$/i.test(a.name));
  const chosen = image ?? list[0];
  return chosen ? attachmentInfo(chosen) : undefined;
}

/** Checks that need no download: an early, immediate answer for obvious mistakes. */
export function precheckAttachment(info: AttachmentInfo | undefined, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): string | undefined {
  if (!info) return NO_IMAGE;
  if (info.contentType && !info.contentType.startsWith('image/')) {
    return `That file (${info.contentType}) is not an image. Please attach a PNG, JPEG or WebP still image.`;
  }
  if (info.size > limits.maxBytes) {
    return `That image is ${mib(info.size)}; the limit is ${mib(limits.maxBytes)}. Please send a smaller file.`;
  }
  return undefined;
}

export async function loadImage(info: AttachmentInfo, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<ImageResult> {
  const early = precheckAttachment(info, limits);
  if (early) return { ok: false, message: early };
  let bytes: Buffer;
  try {
    bytes = await downloadLimited(info.url, limits.maxBytes, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    if (err instanceof DownloadError) return { ok: false, message: `I could not get that image: ${err.message}` };
    throw err;
  }
  const check = await checkImage(bytes, limits);
  if (!check.ok) return { ok: false, message: check.message };
  return { ok: true, image: { bytes, name: safeName(info.name, check.format), width: check.width, height: check.height } };
}

function safeName(name: string, format: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return /\.[A-Za-z0-9]{2,5}$/.test(base) ? base : `image.${format === 'jpeg' ? 'jpg' : format}`;
}

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
