// Tiled / framewise VAE coding: the tensor helpers, the tile bookkeeping proven exact with local
// (tiling-invariant) stand-in networks, and tiled vs whole decoding of the tiny random VAE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { vaeConverter } from '../../../src/engine/vae/component.ts';
import { SeededRandom } from '../../../src/engine/seeded-random.ts';
import { HunyuanVae } from '../../../src/engine/vae/runtime.ts';
import { blendInto, concatAxis, maxAbsDiff, sliceAxis, type Tensor } from '../../../src/engine/vae/tensor.ts';
import { tiledDecode, tiledEncode, type Coder } from '../../../src/engine/vae/tiling.ts';

const RATIO = { spatial: 8, temporal: 4 };

function random(dims: number[], seed: number): Tensor {
  return { data: new SeededRandom(seed).normals(dims.reduce((a, b) => a * b, 1)), dims };
}

/** Element (c, f, y, x) of a [1, C, T, H, W] tensor. */
function at(t: Tensor, c: number, f: number, y: number, x: number): number {
  const [, , T, H, W] = t.dims as [number, number, number, number, number];
  return t.data[((c * T + f) * H + y) * W + x]!;
}

/**
 * A local decoder: latent frame 0 → 1 frame, every later latent frame → 4 frames, each latent pixel
 * → an 8×8 block (output channel c = latent channel c). Its output for any tile is the matching
 * crop of its output for the whole, so correct tiling must reproduce whole decoding exactly.
 */
const localDecoder: Coder = async (z) => {
  const [B, , T, H, W] = z.dims as [number, number, number, number, number];
  const C = 3;
  const TT = 1 + (T - 1) * 4;
  const out = new Float32Array(B * C * TT * H * 8 * W * 8);
  let i = 0;
  for (let c = 0; c < C; c++)
    for (let f = 0; f < TT; f++)
      for (let y = 0; y < H * 8; y++)
        for (let x = 0; x < W * 8; x++) out[i++] = at(z, c, f === 0 ? 0 : Math.floor((f - 1) / 4) + 1, y >> 3, x >> 3);
  return [{ data: out, dims: [B, C, TT, H * 8, W * 8] }];
};

/** A local encoder: frames 0, 4, 8, … and 8×8 block means → mean; logvar = −mean. */
const localEncoder: Coder = async (x) => {
  const [B, , T, H, W] = x.dims as [number, number, number, number, number];
  const t = Math.floor((T - 1) / 4) + 1;
  const h = H / 8;
  const w = W / 8;
  const mean = new Float32Array(B * 2 * t * h * w);
  let i = 0;
  for (let c = 0; c < 2; c++)
    for (let f = 0; f < t; f++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          let s = 0;
          for (let dy = 0; dy < 8; dy++) for (let dx = 0; dx < 8; dx++) s += at(x, c, f * 4, y * 8 + dy, xx * 8 + dx);
          mean[i++] = s / 64;
        }
  const dims = [B, 2, t, h, w];
  return [{ data: mean, dims }, { data: mean.map((v) => -v), dims }];
};

function counting(coder: Coder): { coder: Coder; calls: () => number } {
  let n = 0;
  return {
    coder: (x) => {
      n++;
      return coder(x);
    },
    calls: () => n,
  };
}

const meanAbs = (a: Tensor, b: Tensor) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0) / a.data.length;

describe('tensor helpers', () => {
  const t: Tensor = { data: Float32Array.from({ length: 12 }, (_, i) => i), dims: [2, 3, 2] };

  it('slices and concatenates along an axis', () => {
    expect(Array.from(sliceAxis(t, 1, 1, 3).data)).toEqual([2, 3, 4, 5, 8, 9, 10, 11]);
    expect(sliceAxis(t, 1, 2, 99).dims).toEqual([2, 1, 2]);
    const back = concatAxis([sliceAxis(t, 1, 0, 1), sliceAxis(t, 1, 1, 3)], 1);
    expect(back).toEqual(t);
    expect(() => concatAxis([t, sliceAxis(t, 0, 0, 1)], 1)).toThrow(/do not match/);
  });

  it('blends like diffusers blend_h: b[y] = a[-n+y]·(1−y/n) + b[y]·y/n', () => {
    const a: Tensor = { data: Float32Array.from([10, 20, 30, 40]), dims: [1, 4] };
    const b: Tensor = { data: Float32Array.from([0, 0, 0, 7]), dims: [1, 4] };
    blendInto(a, b, 1, 3);
    const want = [20, 30 * (2 / 3), 40 * (1 / 3), 7];
    for (const [i, v] of want.entries()) expect(b.data[i]).toBeCloseTo(v, 5);
  });
});

describe('tiling bookkeeping (exact with local stand-in networks)', () => {
  const smallTiles = { sampleMinHeight: 32, sampleMinWidth: 32, sampleStrideHeight: 24, sampleStrideWidth: 24 };

  it('spatial tiled decode equals whole decode, with several tiles', async () => {
    const z = random([1, 16, 3, 7, 9], 1);
    const [whole] = await localDecoder(z);
    const d = counting(localDecoder);
    const [tiled] = await tiledDecode(z, d.coder, RATIO, { tiled: true, tiles: smallTiles });
    expect(tiled!.dims).toEqual(whole!.dims);
    expect(d.calls()).toBe(3 * 3); // rows 0,3,6 × cols 0,3,6
    expect(maxAbsDiff(tiled!, whole!)).toBe(0);
  });

  it('framewise decode (5 latent frames per tile, stride 3) equals whole decode', async () => {
    const z = random([1, 16, 10, 2, 3], 2);
    const [whole] = await localDecoder(z);
    const d = counting(localDecoder);
    const [framewise] = await tiledDecode(z, d.coder, RATIO);
    expect(framewise!.dims).toEqual([1, 3, 37, 16, 24]);
    expect(d.calls()).toBe(4); // i = 0, 3, 6, 9
    expect(maxAbsDiff(framewise!, whole!)).toBe(0);
    // 4 latent frames or fewer: one call, as diffusers
    const few = counting(localDecoder);
    await tiledDecode(sliceAxis(z, 2, 0, 4), few.coder, RATIO);
    expect(few.calls()).toBe(1);
  });

  it('framewise + spatial decode together equal whole decode', async () => {
    const z = random([1, 16, 7, 5, 6], 3);
    const [whole] = await localDecoder(z);
    const [both] = await tiledDecode(z, localDecoder, RATIO, { tiled: true, tiles: smallTiles });
    expect(maxAbsDiff(both!, whole!)).toBe(0);
  });

  it('spatial + framewise encode (17 frames per tile, stride 12) equal whole encode, mean and logvar', async () => {
    const x = random([1, 3, 29, 40, 56], 4);
    const whole = await localEncoder(x);
    const e = counting(localEncoder);
    const tiled = await tiledEncode(x, e.coder, RATIO, { tiled: true, tiles: smallTiles });
    expect(tiled.map((t) => t.dims)).toEqual([[1, 2, 8, 5, 7], [1, 2, 8, 5, 7]]);
    expect(e.calls()).toBe(3 * 2 * 3); // frames 0,12,24 × rows 0,24 × cols 0,24,48
    expect(maxAbsDiff(tiled[0]!, whole[0]!)).toBe(0);
    expect(maxAbsDiff(tiled[1]!, whole[1]!)).toBe(0);
  });

  it('a network whose tiles are shifted by one latent column is caught (the checks above can fail)', async () => {
    const z = random([1, 16, 2, 7, 9], 5);
    const [whole] = await localDecoder(z);
    const shifted: Coder = async (t) => localDecoder(t.dims[4] === 9 ? t : sliceAxis(concatAxis([t, t], 4), 4, 1, t.dims[4]! + 1));
    const [bad] = await tiledDecode(z, shifted, RATIO, { tiled: true, tiles: smallTiles });
    expect(maxAbsDiff(bad!, whole!)).toBeGreaterThan(0.1);
  });
});

describe('tiny random VAE: tiled vs whole decode', () => {
  let dir: string;
  let vae: HunyuanVae;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recurvid-vae-tiles-'));
    await vaeConverter.makeTiny(join(dir, 'src'), 11);
    const [entry] = await vaeConverter.convert(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
    await updateManifest(join(dir, 'set'), { tiny: true, components: { vae: entry! } });
    vae = await HunyuanVae.load(join(dir, 'set'));
  });
  afterAll(async () => {
    await vae.close();
    await rm(dir, { recursive: true });
  });

  it('decodes in tiles with blending; reports the max difference to whole decoding', async () => {
    const z = random([1, 16, 3, 8, 12], 6); // 64 x 96 pixels, 9 frames
    const tiles = { sampleMinHeight: 48, sampleMinWidth: 48, sampleStrideHeight: 32, sampleStrideWidth: 32 };
    const before = vae.calls.decoder;
    const whole = await vae.decode(z);
    expect(vae.calls.decoder - before).toBe(1);
    const tiled = await vae.decode(z, { tiled: true, tiles });
    expect(vae.calls.decoder - before - 1).toBe(2 * 3); // rows 0,4 × columns 0,4,8 of 6×6-latent tiles
    expect(tiled.dims).toEqual([1, 3, 9, 64, 96]);
    const unrelated = await vae.decode(random([1, 16, 3, 8, 12], 7));

    const maxDiff = maxAbsDiff(whole, tiled);
    const meanDiff = meanAbs(whole, tiled);
    const baseline = meanAbs(whole, unrelated);
    console.log(
      `tiny VAE tiled (48px tiles, stride 32, 6 tiles) vs whole: max |Δ| ${maxDiff.toFixed(4)}, mean |Δ| ${meanDiff.toFixed(4)}; ` +
        `two unrelated latents: mean |Δ| ${baseline.toFixed(4)}`,
    );
    expect(Number.isFinite(maxDiff)).toBe(true);
    // Tiles see less context (the mid-block attention spans the whole frame; random weights amplify
    // it), so they differ; the bulk must still agree far better than unrelated outputs do.
    expect(meanDiff).toBeLessThan(0.5 * baseline);

    // The top-left kept region of the first tile is never blended: it is that tile decoded alone.
    const tile = await vae.decode(sliceAxis(sliceAxis(z, 3, 0, 6), 4, 0, 6));
    const region = (t: Tensor) => sliceAxis(sliceAxis(t, 3, 0, 32), 4, 0, 32);
    expect(maxAbsDiff(region(tiled), region(tile))).toBe(0);
  });
});
