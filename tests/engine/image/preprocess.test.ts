import { describe, expect, it } from 'vitest';
import { preprocessSiglip, resizeRgbPil } from '../../../src/engine/image/preprocess.ts';

const gray = (row: number[]) => new Uint8Array(row.flatMap((v) => [v, v, v]));
const red = (img: Uint8Array) => Array.from(img.filter((_, i) => i % 3 === 0));

describe('PIL-compatible resize', () => {
  it('bilinear 4→2 widens the support when downscaling (PIL antialias): [0,100,200,255] → [71,209]', () => {
    // Hand-derived from PIL's coefficient rule: weights [3,3,1]/7 and [1,3,3]/7.
    expect(red(resizeRgbPil(gray([0, 100, 200, 255]), 4, 1, 2, 1, 2))).toEqual([71, 209]);
  });

  it('bicubic keeps a constant image constant and clips overshoot to 0..255', () => {
    const flat = new Uint8Array(7 * 5 * 3).fill(200);
    expect(new Set(resizeRgbPil(flat, 7, 5, 3, 4, 3))).toEqual(new Set([200]));
    const step = gray([0, 0, 0, 255, 255, 255]);
    const up = red(resizeRgbPil(step, 6, 1, 15, 1, 3));
    expect(Math.min(...up)).toBe(0);
    expect(Math.max(...up)).toBe(255);
    expect(up[0]).toBe(0);
    expect(up[14]).toBe(255);
  });

  it('same size is the identity', () => {
    const img = new Uint8Array(5 * 4 * 3).map((_, i) => (i * 31) % 256);
    expect(Array.from(resizeRgbPil(img, 5, 4, 5, 4, 3))).toEqual(Array.from(img));
  });
});

describe('SigLIP preprocessing', () => {
  it('rescales by 1/255 and normalises with mean/std 0.5 into CHW', () => {
    const img = new Uint8Array([0, 255, 51, 255, 0, 102]); // 2x1
    const px = preprocessSiglip(img, 2, 1, { do_resize: false, rescale_factor: 1 / 255, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
    expect(px.dims).toEqual([1, 3, 1, 2]);
    expect(Array.from(px.data.slice(0, 2))).toEqual([-1, 1]);
    expect(Array.from(px.data.slice(2, 4))).toEqual([1, -1]);
    expect(px.data[4]).toBeCloseTo(Math.fround(Math.fround(51 / 255 - 0.5) / 0.5), 7);
  });

  it('resizes to the configured size first', () => {
    const px = preprocessSiglip(new Uint8Array(20 * 10 * 3).fill(255), 20, 10, { size: { height: 4, width: 6 }, resample: 3 });
    expect(px.dims).toEqual([1, 3, 4, 6]);
    expect(new Set(px.data)).toEqual(new Set([1]));
  });
});
