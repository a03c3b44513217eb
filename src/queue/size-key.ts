// The "size" part of a timing key: the FramePack resolution bucket the engine will use for this image.
// Step time depends on the token count, i.e. on the bucket, so ETAs are learned per bucket.
import sharp from 'sharp';
import { findNearestBucket } from '../engine/functions/buckets.ts';

export const UNKNOWN_SIZE = 'unknown';

/** "640x608" for a readable image (bytes or a path), UNKNOWN_SIZE otherwise (the job still runs). */
export async function sizeKeyOf(image: Buffer | string): Promise<string> {
  try {
    // Header only, no pixel decode.
    const meta = await sharp(image).metadata();
    if (!meta.width || !meta.height) return UNKNOWN_SIZE;
    const swap = (meta.orientation ?? 1) >= 5; // EXIF rotations by 90° swap width and height.
    const bucket = swap ? findNearestBucket(meta.width, meta.height) : findNearestBucket(meta.height, meta.width);
    return `${bucket.width}x${bucket.height}`;
  } catch {
    return UNKNOWN_SIZE;
  }
}
