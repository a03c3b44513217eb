// The "size" part of a timing key: the FramePack resolution bucket the engine will use for this image.
// Step time depends on the token count, i.e. on the bucket, so ETAs are learned per bucket.
import sharp from 'sharp';

// diffusers_helper/bucket_tools.py, bucket_options[640], as (height, width).
const BUCKETS_640: ReadonlyArray<readonly [number, number]> = [
  [416, 960], [448, 864], [480, 832], [512, 768], [544, 704], [576, 672], [608, 640],
  [640, 608], [672, 576], [704, 544], [768, 512], [832, 480], [864, 448], [960, 416],
];

/** FramePack's find_nearest_bucket: the bucket whose aspect ratio is closest (first wins ties). */
export function nearestBucket(width: number, height: number): { width: number; height: number } {
  let best = BUCKETS_640[0]!;
  let bestMetric = Infinity;
  for (const bucket of BUCKETS_640) {
    const [bh, bw] = bucket;
    const metric = Math.abs(height * bw - width * bh);
    if (metric < bestMetric) {
      best = bucket;
      bestMetric = metric;
    }
  }
  return { height: best[0], width: best[1] };
}

export const UNKNOWN_SIZE = 'unknown';

/** "640x608" for a readable image (bytes or a path), UNKNOWN_SIZE otherwise (the job still runs). */
export async function sizeKeyOf(image: Buffer | string): Promise<string> {
  try {
    // Header only, no pixel decode.
    const meta = await sharp(image).metadata();
    if (!meta.width || !meta.height) return UNKNOWN_SIZE;
    const swap = (meta.orientation ?? 1) >= 5; // EXIF rotations by 90° swap width and height.
    const bucket = swap ? nearestBucket(meta.height, meta.width) : nearestBucket(meta.width, meta.height);
    return `${bucket.width}x${bucket.height}`;
  } catch {
    return UNKNOWN_SIZE;
  }
}
