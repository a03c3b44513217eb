// The copy of an image a prompt suggestion keeps while it waits for "Animate with this prompt":
// at most 1024 px on the long side, as JPEG. FramePack buckets inputs to about 640 px, so the job
// loses nothing visible, and a waiting suggestion holds ~0.2 MB instead of a 20 MB original.
import sharp from 'sharp';

export const SUGGESTION_MAX_SIDE = 1024;
/** Total bytes of the copies all waiting suggestions of one bot hold; the oldest go first past it. */
export const SUGGESTION_STORE_BYTES = 32 * 1024 * 1024;

export interface SuggestionCopy {
  bytes: Buffer;
  width: number;
  height: number;
}

export async function suggestionCopy(image: Buffer): Promise<SuggestionCopy> {
  const { data, info } = await sharp(image, { failOn: 'error' })
    .rotate() // EXIF orientation is applied here, since JPEG output drops the tag
    .resize({ width: SUGGESTION_MAX_SIDE, height: SUGGESTION_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' }) // as the prompt helper sees transparent images
    .jpeg({ quality: 90 })
    .toBuffer({ resolveWithObject: true });
  return { bytes: data, width: info.width, height: info.height };
}

/** The stored copy's file name: the original's stem with .jpg. */
export function suggestionCopyName(name: string): string {
  const stem = name.replace(/\.[A-Za-z0-9]+$/, '') || 'image';
  return `${stem}.jpg`;
}
