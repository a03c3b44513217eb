// Memory-bounded VAE coding, following diffusers' AutoencoderKLHunyuanVideo step by step:
//  - framewise (temporal) tiling, on by default there and therefore in FramePack: latents with more
//    than 4 frames are decoded 5 latent frames at a time (stride 3), pixels with more than 16 frames
//    are encoded 17 at a time (stride 12); consecutive tiles are cross-faded over the overlap.
//  - spatial tiling (enable_tiling, FramePack's low-VRAM mode): 256-px tiles, stride 192, cross-faded
//    over 64 px vertically and horizontally.
// The network itself is a callback, so the same code drives onnxruntime sessions and test doubles.
// Blends mutate later tiles in place, as the reference does (a tile's left neighbour is the
// already-blended one). Encoder tiles blend mean and the already-clamped logvar; diffusers blends the
// raw moments and clamps afterwards: identical unless a logvar lies outside [-30, 20].
import { blendInto, concatAxis, sliceAxis, type Tensor } from './tensor.ts';

const T = 2;
const H = 3;
const W = 4;

/** Tile sizes in pixel units, with diffusers' defaults. */
export interface TileConfig {
  sampleMinHeight: number;
  sampleMinWidth: number;
  sampleMinFrames: number;
  sampleStrideHeight: number;
  sampleStrideWidth: number;
  sampleStrideFrames: number;
}

export const DEFAULT_TILES: TileConfig = {
  sampleMinHeight: 256,
  sampleMinWidth: 256,
  sampleMinFrames: 16,
  sampleStrideHeight: 192,
  sampleStrideWidth: 192,
  sampleStrideFrames: 12,
};

export interface TilingOptions {
  /** Spatial tiling (diffusers' use_tiling). Default false. */
  tiled?: boolean;
  /** Temporal tiling (diffusers' use_framewise_decoding/encoding). Default true, as in diffusers and FramePack. */
  framewise?: boolean;
  tiles?: Partial<TileConfig>;
}

/** Spatial / temporal compression of the model. */
export interface Compression {
  spatial: number;
  temporal: number;
}

/** One network call: a 5-D tensor in, one or more 5-D tensors of the same geometry out. */
export type Coder = (x: Tensor) => Promise<Tensor[]>;

function resolve(opts: TilingOptions) {
  return { tiled: opts.tiled === true, framewise: opts.framewise !== false, tiles: { ...DEFAULT_TILES, ...opts.tiles } };
}

/**
 * Spatial tiles over `x` (tile `min`, step `stride`, in x's units), each coded, then cross-faded
 * (`blend`, in output units, above and left, in place as the reference) and cropped to `keep`.
 */
async function spatialTiles(
  x: Tensor,
  code: Coder,
  min: [number, number],
  stride: [number, number],
  blend: [number, number],
  keep: [number, number],
  outSize: [number, number],
): Promise<Tensor[]> {
  const rows: Tensor[][][] = [];
  for (let i = 0; i < x.dims[H]!; i += stride[0]) {
    const row: Tensor[][] = [];
    for (let j = 0; j < x.dims[W]!; j += stride[1]) {
      row.push(await code(sliceAxis(sliceAxis(x, H, i, i + min[0]), W, j, j + min[1])));
    }
    rows.push(row);
  }
  const outputs = rows[0]![0]!.length;
  const results: Tensor[] = [];
  for (let k = 0; k < outputs; k++) {
    const resultRows: Tensor[] = [];
    rows.forEach((row, i) => {
      const kept = row.map((tiles, j) => {
        const tile = tiles[k]!;
        if (i > 0) blendInto(rows[i - 1]![j]![k]!, tile, H, blend[0]);
        if (j > 0) blendInto(row[j - 1]![k]!, tile, W, blend[1]);
        return sliceAxis(sliceAxis(tile, H, 0, keep[0]), W, 0, keep[1]);
      });
      resultRows.push(concatAxis(kept, W));
    });
    results.push(sliceAxis(sliceAxis(concatAxis(resultRows, H), H, 0, outSize[0]), W, 0, outSize[1]));
  }
  return results;
}

/** Temporal tiles already coded (first frame of every tile but the first dropped), cross-faded and joined. */
function joinTemporal(row: Tensor[][], blend: number, keep: number, frames: number): Tensor[] {
  const results: Tensor[] = [];
  for (let k = 0; k < row[0]!.length; k++) {
    const kept = row.map((tiles, i) => {
      const tile = tiles[k]!;
      if (i > 0) {
        blendInto(row[i - 1]![k]!, tile, T, blend);
        return sliceAxis(tile, T, 0, keep);
      }
      return sliceAxis(tile, T, 0, keep + 1);
    });
    results.push(sliceAxis(concatAxis(kept, T), T, 0, frames));
  }
  return results;
}

/** diffusers `_decode` (without post-processing): latents → [sample]. */
export async function tiledDecode(z: Tensor, decode: Coder, ratio: Compression, opts: TilingOptions = {}): Promise<Tensor[]> {
  const { tiled, framewise, tiles } = resolve(opts);
  const s = ratio.spatial;
  const minH = Math.floor(tiles.sampleMinHeight / s);
  const minW = Math.floor(tiles.sampleMinWidth / s);
  const minT = Math.floor(tiles.sampleMinFrames / ratio.temporal);
  const strideT = Math.floor(tiles.sampleStrideFrames / ratio.temporal);

  const spatial = (t: Tensor) =>
    spatialTiles(
      t,
      decode,
      [minH, minW],
      [Math.floor(tiles.sampleStrideHeight / s), Math.floor(tiles.sampleStrideWidth / s)],
      [tiles.sampleMinHeight - tiles.sampleStrideHeight, tiles.sampleMinWidth - tiles.sampleStrideWidth],
      [tiles.sampleStrideHeight, tiles.sampleStrideWidth],
      [t.dims[H]! * s, t.dims[W]! * s],
    );
  const needsSpatial = (t: Tensor) => tiled && (t.dims[W]! > minW || t.dims[H]! > minH);
  const single = (t: Tensor) => (needsSpatial(t) ? spatial(t) : decode(t));

  const frames = z.dims[T]!;
  if (!(framewise && frames > minT)) return single(z);
  const row: Tensor[][] = [];
  for (let i = 0; i < frames; i += strideT) {
    let decoded = await single(sliceAxis(z, T, i, i + minT + 1));
    if (i > 0) decoded = decoded.map((d) => sliceAxis(d, T, 1, d.dims[T]!));
    row.push(decoded);
  }
  const sampleFrames = (frames - 1) * ratio.temporal + 1;
  return joinTemporal(row, tiles.sampleMinFrames - tiles.sampleStrideFrames, tiles.sampleStrideFrames, sampleFrames);
}

/** diffusers `_encode`: pixels → [mean, logvar] (every output of `encode`, tiled alike). */
export async function tiledEncode(x: Tensor, encode: Coder, ratio: Compression, opts: TilingOptions = {}): Promise<Tensor[]> {
  const { tiled, framewise, tiles } = resolve(opts);
  const s = ratio.spatial;
  const minLatH = Math.floor(tiles.sampleMinHeight / s);
  const minLatW = Math.floor(tiles.sampleMinWidth / s);
  const strideLatH = Math.floor(tiles.sampleStrideHeight / s);
  const strideLatW = Math.floor(tiles.sampleStrideWidth / s);

  const spatial = (t: Tensor) =>
    spatialTiles(
      t,
      encode,
      [tiles.sampleMinHeight, tiles.sampleMinWidth],
      [tiles.sampleStrideHeight, tiles.sampleStrideWidth],
      [minLatH - strideLatH, minLatW - strideLatW],
      [strideLatH, strideLatW],
      [Math.floor(t.dims[H]! / s), Math.floor(t.dims[W]! / s)],
    );
  const needsSpatial = (t: Tensor) => tiled && (t.dims[W]! > tiles.sampleMinWidth || t.dims[H]! > tiles.sampleMinHeight);
  const single = (t: Tensor) => (needsSpatial(t) ? spatial(t) : encode(t));

  const frames = x.dims[T]!;
  if (!(framewise && frames > tiles.sampleMinFrames)) return single(x);
  const minLatT = Math.floor(tiles.sampleMinFrames / ratio.temporal);
  const strideLatT = Math.floor(tiles.sampleStrideFrames / ratio.temporal);
  const row: Tensor[][] = [];
  for (let i = 0; i < frames; i += tiles.sampleStrideFrames) {
    let enc = await single(sliceAxis(x, T, i, i + tiles.sampleMinFrames + 1));
    if (i > 0) enc = enc.map((e) => sliceAxis(e, T, 1, e.dims[T]!));
    row.push(enc);
  }
  const latentFrames = Math.floor((frames - 1) / ratio.temporal) + 1;
  return joinTemporal(row, minLatT - strideLatT, strideLatT, latentFrames);
}
