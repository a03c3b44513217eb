import { describe, expect, it } from 'vitest';
import sharp, { type Sharp } from 'sharp';
import { checkImage, DEFAULT_IMAGE_LIMITS, isAnimatedPng } from '../../../src/bots/common/image.ts';
import { isServableAspect, MAX_BUCKET_ASPECT, MAX_SERVABLE_ASPECT } from '../../../src/engine/functions/buckets.ts';

function solid(width: number, height: number, r = 200): Sharp {
  return sharp({ create: { width, height, channels: 3, background: { r, g: 120, b: 40 } } });
}

/** Random pixels, so a JPEG has real entropy-coded data to truncate. */
function noise(width: number, height: number): Sharp {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
/** Rewrites IHDR's width and height (with a valid CRC) without touching the pixel data. */
function withPngSize(png: Buffer, width: number, height: number): Buffer {
  const ihdrData = Buffer.from(png.subarray(16, 29));
  ihdrData.writeUInt32BE(width, 0);
  ihdrData.writeUInt32BE(height, 4);
  return Buffer.concat([png.subarray(0, 8), pngChunk('IHDR', ihdrData), png.subarray(33)]);
}
/** Inserts an APNG animation-control chunk right after IHDR. */
function withAcTL(png: Buffer, frames: number): Buffer {
  const data = Buffer.alloc(8);
  data.writeUInt32BE(frames, 0);
  return Buffer.concat([png.subarray(0, 33), pngChunk('acTL', data), png.subarray(33)]);
}

describe('checkImage', () => {
  it('accepts a PNG and reports its format and size', async () => {
    const png = await solid(320, 200).png().toBuffer();
    expect(await checkImage(png)).toEqual({ ok: true, format: 'png', width: 320, height: 200 });
  });

  it('accepts a JPEG and a still WebP', async () => {
    expect(await checkImage(await noise(300, 240).jpeg().toBuffer())).toEqual({ ok: true, format: 'jpeg', width: 300, height: 240 });
    expect(await checkImage(await solid(128, 96).webp().toBuffer())).toMatchObject({ ok: true, format: 'webp' });
    // AVIF is reported by libvips as heif with av1 compression, and is decodable.
    expect(await checkImage(await solid(128, 96).avif().toBuffer())).toMatchObject({ ok: true, format: 'heif', width: 128 });
  });

  it('rejects bytes that are not an image with a chat-friendly sentence', async () => {
    const result = await checkImage(Buffer.from('hello, this is a text file\n'.repeat(20)));
    expect(result).toEqual({ ok: false, reason: 'not_image', message: 'That file is not an image I can read (PNG, JPEG or WebP please).' });
    expect(await checkImage(Buffer.alloc(0))).toMatchObject({ ok: false, reason: 'not_image' });
  });

  it('rejects a truncated JPEG whose header is intact as corrupt', async () => {
    const jpeg = await noise(400, 400).jpeg({ quality: 95 }).toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const meta = await sharp(truncated).metadata(); // the header alone still reads fine
    expect(meta.width).toBe(400);
    const result = await checkImage(truncated);
    expect(result).toMatchObject({ ok: false, reason: 'corrupt' });
    if (!result.ok) expect(result.message).toMatch(/damaged/);
  });

  it('rejects animated GIF and WebP made by sharp', async () => {
    const frames = await Promise.all([0, 1, 2].map((i) => solid(96, 96, i * 80).png().toBuffer()));
    for (const format of ['gif', 'webp'] as const) {
      const animated = await sharp(frames, { join: { animated: true } }).toFormat(format).toBuffer();
      expect((await sharp(animated).metadata()).pages).toBe(3);
      const result = await checkImage(animated);
      expect(result).toMatchObject({ ok: false, reason: 'animated' });
    }
  });

  it('rejects an APNG (acTL with several frames) but not a PNG with a one-frame acTL', async () => {
    const png = await solid(128, 128).png().toBuffer();
    expect(isAnimatedPng(png)).toBe(false);
    expect(await checkImage(withAcTL(png, 4))).toMatchObject({ ok: false, reason: 'animated' });
    expect(await checkImage(withAcTL(png, 1))).toMatchObject({ ok: true, format: 'png' });
  });

  it('rejects images smaller than 64 px on a side', async () => {
    const result = await checkImage(await solid(200, 40).png().toBuffer());
    expect(result).toMatchObject({ ok: false, reason: 'too_small' });
    if (!result.ok) expect(result.message).toContain('200×40');
  });

  it('rejects a huge pixel count from the header alone, without decoding', async () => {
    const small = await solid(100, 100).png().toBuffer();
    const huge = withPngSize(small, 30_000, 30_000); // 900 megapixels claimed, a few hundred bytes
    const started = Date.now();
    const result = await checkImage(huge);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({ ok: false, reason: 'too_large_pixels' });
    if (!result.ok) expect(result.message).toContain('30000×30000');
    // The same file passes the pixel check under a big enough limit and then fails the real decode.
    expect(await checkImage(huge, { maxBytes: DEFAULT_IMAGE_LIMITS.maxBytes, maxPixels: 1e9 })).toMatchObject({
      ok: false,
      reason: 'corrupt',
    });
  });

  it('rejects a 100000×64 strip (a few KB) that no bucket can serve, with a sentence naming the shape', async () => {
    const strip = await solid(100_000, 64).png().toBuffer();
    expect(strip.length).toBeLessThan(DEFAULT_IMAGE_LIMITS.maxBytes);
    const result = await checkImage(strip);
    expect(result).toEqual({
      ok: false,
      reason: 'bad_aspect',
      message: 'That image is 100000×64, a 1562.5:1 strip; I can animate shapes up to 4.6:1. Please crop it closer to a normal photo shape and send it again.',
    });
    const column = await checkImage(await solid(64, 400).png().toBuffer());
    expect(column).toMatchObject({ ok: false, reason: 'bad_aspect' });
    if (!column.ok) expect(column.message).toContain('64×400, a 6.3:1 column');
  });

  it('accepts wide shapes a bucket can serve by cropping at most half away', async () => {
    // The widest bucket is 960×416; twice its ratio is the most we crop to.
    expect(MAX_BUCKET_ASPECT).toBeCloseTo(960 / 416, 10);
    expect(MAX_SERVABLE_ASPECT).toBeCloseTo((2 * 960) / 416, 10);
    expect(isServableAspect(64, 295)).toBe(true);
    expect(isServableAspect(64, 296)).toBe(false);
    expect(isServableAspect(296, 64)).toBe(false);
    expect(await checkImage(await solid(1200, 300).png().toBuffer())).toMatchObject({ ok: true, width: 1200, height: 300 });
    expect(await checkImage(await solid(1024, 1024).png().toBuffer())).toMatchObject({ ok: true });
  });

  it('rejects files over the byte limit before looking inside', async () => {
    const png = await noise(256, 256).png().toBuffer();
    const result = await checkImage(png, { maxBytes: 1024, maxPixels: DEFAULT_IMAGE_LIMITS.maxPixels });
    expect(result).toMatchObject({ ok: false, reason: 'too_large_bytes' });
    expect(DEFAULT_IMAGE_LIMITS).toEqual({ maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 });
  });
});
