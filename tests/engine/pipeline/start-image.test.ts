// The start image's resize plan: ordinary images follow the reference's resize-then-center-crop,
// and an image much larger than its bucket (or a far-from-bucket strip) is cropped first.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { bucketFor, planStartImage, prepareStartImage } from '../../../src/engine/pipeline/image.ts';
import { roundHalfEven } from '../../../src/engine/functions/index.ts';

/** The reference's way, as prepareStartImage did it before: scale to cover, then center-crop. */
async function resizeThenCrop(input: Buffer, width: number, height: number): Promise<Buffer> {
  const img = sharp(input).rotate().removeAlpha().toColourspace('srgb');
  const meta = await sharp(input).rotate().metadata();
  const ow = meta.autoOrient.width;
  const oh = meta.autoOrient.height;
  const scale = Math.max(width / ow, height / oh);
  const rw = Math.max(width, roundHalfEven(ow * scale));
  const rh = Math.max(height, roundHalfEven(oh * scale));
  const resized = await img.resize(rw, rh, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
  return sharp(resized, { raw: { width: rw, height: rh, channels: 3 } })
    .extract({ left: roundHalfEven((rw - width) / 2), top: roundHalfEven((rh - height) / 2), width, height })
    .raw()
    .toBuffer();
}

/** Smooth gradients, so a sub-pixel shift of the crop changes values by little. */
function gradient(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = Math.round((255 * x) / (width - 1));
      px[i + 1] = Math.round((255 * y) / (height - 1));
      px[i + 2] = Math.round(127.5 + 127.5 * Math.sin((x + y) / 300));
    }
  }
  return px;
}

describe('planStartImage', () => {
  it('crops a 100000×64 strip to the bucket shape before resizing, so only the bucket size is resized', () => {
    const bucket = bucketFor(64, 100_000);
    expect(bucket).toEqual({ height: 416, width: 960 });
    const plan = planStartImage(100_000, 64, bucket.width, bucket.height)!;
    // 960/6.5 ≈ 147.7 source columns in the middle; scaling first would make 650000×416.
    expect(plan.before).toEqual({ left: 49_926, top: 0, width: 148, height: 64 });
    expect(plan.resize.width * plan.resize.height).toBe(960 * 416);
    expect(plan.after).toBeUndefined();
  });

  it('keeps resize-then-crop for an image near its bucket size', () => {
    // 1000×700 → bucket 768×512: scale 0.768 → 768×538, then 13 rows off the top.
    expect(bucketFor(700, 1000)).toEqual({ height: 512, width: 768 });
    expect(planStartImage(1000, 700, 768, 512)).toEqual({
      resize: { width: 768, height: 538 },
      after: { left: 0, top: 13, width: 768, height: 512 },
    });
    expect(planStartImage(768, 512, 768, 512)).toBeUndefined();
  });
});

describe('prepareStartImage', () => {
  it('cropping a large photo first matches resize-then-center-crop within rounding', async () => {
    const png = await sharp(gradient(2400, 1500), { raw: { width: 2400, height: 1500, channels: 3 } }).png().toBuffer();
    const bucket = bucketFor(1500, 2400);
    expect(planStartImage(2400, 1500, bucket.width, bucket.height)?.before).toBeDefined();
    const got = await prepareStartImage(png);
    expect({ width: got.width, height: got.height }).toEqual(bucket);
    const want = await resizeThenCrop(png, bucket.width, bucket.height);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got.rgb[i]! - want[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    expect(sum / want.length).toBeLessThan(0.5);
    expect(max).toBeLessThanOrEqual(2);
  });

  it('crops in oriented coordinates (EXIF rotation) and keeps the middle of a wide strip', async () => {
    // 6000×400 stored, shown rotated 90° as 400×6000: a tall column whose middle third is red.
    const w = 6000;
    const h = 400;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const red = x >= 2000 && x < 4000;
        px.set(red ? [230, 20, 20] : [20, 20, 230], (y * w + x) * 3);
      }
    }
    const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const got = await prepareStartImage(jpeg);
    expect({ width: got.width, height: got.height }).toEqual({ width: 416, height: 960 });
    for (let p = 0; p < got.width * got.height; p += 997) {
      expect(got.rgb[p * 3]!).toBeGreaterThan(180);
      expect(got.rgb[p * 3 + 2]!).toBeLessThan(70);
    }
  });
});
