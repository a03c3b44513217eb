// FramePack's 640-resolution aspect buckets (diffusers_helper/bucket_tools.py), as (height, width).
export const BUCKETS_640: ReadonlyArray<readonly [number, number]> = [
  [416, 960], [448, 864], [480, 832], [512, 768], [544, 704], [576, 672], [608, 640],
  [640, 608], [672, 576], [704, 544], [768, 512], [832, 480], [864, 448], [960, 416],
];

/**
 * The bucket whose aspect best matches h:w, by |h·bw − w·bh|. Ties go to the LAST bucket, as the
 * reference compares with `<=` (so a square image lands on 640×608).
 */
export function findNearestBucket(h: number, w: number): { height: number; width: number } {
  let best = BUCKETS_640[0]!;
  let bestMetric = Infinity;
  for (const bucket of BUCKETS_640) {
    const metric = Math.abs(h * bucket[1] - w * bucket[0]);
    if (metric <= bestMetric) {
      bestMetric = metric;
      best = bucket;
    }
  }
  return { height: best[0], width: best[1] };
}

/** The widest (or tallest) long:short side ratio any bucket has: 960:416 ≈ 2.31. */
export const MAX_BUCKET_ASPECT = Math.max(...BUCKETS_640.map(([h, w]) => Math.max(h, w) / Math.min(h, w)));

/**
 * How far beyond the widest bucket an image may go: the center crop to that bucket may cut away at
 * most half of the image. Past that the crop keeps a sliver (a 100000×64 strip keeps 0.15 %) and the
 * resize before it grows without bound, so such images are refused instead.
 */
export const MAX_SERVABLE_ASPECT = 2 * MAX_BUCKET_ASPECT;

/** Whether some bucket can serve an h×w image by cropping away at most half of it. */
export function isServableAspect(h: number, w: number): boolean {
  if (!(h > 0 && w > 0)) return false;
  return Math.max(h, w) / Math.min(h, w) <= MAX_SERVABLE_ASPECT;
}
