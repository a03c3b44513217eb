// The start image: FramePack's bucket choice and resize_and_center_crop (PIL Lanczos), here with
// sharp's lanczos3 (pixel values differ slightly from PIL; geometry is the same).
import sharp from 'sharp';
import { findNearestBucket, roundHalfEven } from '../functions/index.ts';

export interface PreparedImage {
  /** H×W×3 rgb bytes. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * The 640-bucket for the image, optionally scaled to another resolution (multiples of 16; the tiny
 * model set uses a small one so CPU runs stay short).
 */
export function bucketFor(h: number, w: number, resolution = 640): { height: number; width: number } {
  const b = findNearestBucket(h, w);
  if (resolution === 640) return b;
  const scale = (v: number) => Math.max(16, Math.round((v * resolution) / 640 / 16) * 16);
  return { height: scale(b.height), width: scale(b.width) };
}

interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** How an ow×oh source becomes its width×height bucket: an optional cut, one resize, an optional cut. */
export interface ResizePlan {
  /** Cut from the (oriented) source before scaling, when scaling first would waste work. */
  before?: Region;
  /** The size the source (or its cut) is resized to. */
  resize: { width: number; height: number };
  /** The reference's center crop of the resized image. */
  after?: Region;
}

/**
 * Past this many times the bucket's pixels, the source or the reference's scaled intermediate is
 * cropped first: a 100000×64 strip scaled first becomes 650000×416 (1.14 GB) to keep 960×416.
 */
const CROP_FIRST_FACTOR = 2;

/** The plan for one image; undefined when it already has the bucket's size. */
export function planStartImage(ow: number, oh: number, width: number, height: number): ResizePlan | undefined {
  if (ow === width && oh === height) return undefined;
  const scale = Math.max(width / ow, height / oh);
  const rw = Math.max(width, roundHalfEven(ow * scale));
  const rh = Math.max(height, roundHalfEven(oh * scale));
  const target = width * height;
  if (ow * oh > CROP_FIRST_FACTOR * target || rw * rh > CROP_FIRST_FACTOR * target) {
    // The same center box, mapped back to source pixels (rounded to whole ones), then one resize:
    // within a fraction of a source pixel of resize-then-crop, at a fraction of the cost.
    const cw = Math.min(ow, Math.max(1, roundHalfEven(width / scale)));
    const ch = Math.min(oh, Math.max(1, roundHalfEven(height / scale)));
    const before = { left: roundHalfEven((ow - cw) / 2), top: roundHalfEven((oh - ch) / 2), width: cw, height: ch };
    return { before, resize: { width, height } };
  }
  // PIL's crop rounds the float box the way Python's round() does.
  const after = { left: roundHalfEven((rw - width) / 2), top: roundHalfEven((rh - height) / 2), width, height };
  return { resize: { width: rw, height: rh }, ...(rw !== width || rh !== height ? { after } : {}) };
}

/**
 * Reads, orients, resizes and center-crops an image to its bucket. `bucket` forces a size: the end
 * image is cropped to the start image's bucket (FramePack-Studio resizes it with the same call).
 */
export async function prepareStartImage(input: string | Buffer, resolution = 640, bucket?: { width: number; height: number }): Promise<PreparedImage> {
  const img = sharp(input, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb');
  const meta = await sharp(input).rotate().metadata();
  const ow = meta.autoOrient?.width ?? meta.width;
  const oh = meta.autoOrient?.height ?? meta.height;
  if (!ow || !oh) throw new Error('The image has no readable size.');
  const { height, width } = bucket ?? bucketFor(oh, ow, resolution);
  const plan = planStartImage(ow, oh, width, height);
  let pipeline = img;
  if (plan) {
    // extract() before resize() cuts the oriented source (sharp applies them in call order).
    if (plan.before) pipeline = pipeline.extract(plan.before);
    pipeline = pipeline.resize(plan.resize.width, plan.resize.height, { fit: 'fill', kernel: 'lanczos3' });
    if (plan.after) {
      const { width: rw, height: rh } = plan.resize;
      pipeline = sharp(await pipeline.raw().toBuffer(), { raw: { width: rw, height: rh, channels: 3 } }).extract(plan.after);
    }
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) throw new Error('Unexpected image layout after resizing.');
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}

/** rgb bytes → [1,3,1,H,W] in [-1,1] (float32 v/127.5 − 1, as the reference). */
export function imageToPixels(img: PreparedImage): { data: Float32Array; dims: number[] } {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = Math.fround(img.rgb[p * 3 + c]! / 127.5) - 1;
  }
  return { data: out, dims: [1, 3, 1, img.height, img.width] };
}
