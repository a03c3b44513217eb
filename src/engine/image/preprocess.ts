// SiglipImageProcessor.preprocess as transformers runs it for FramePack: resize with PIL (uint8,
// fixed-point separable convolution, horizontal pass then vertical), rescale by 1/255 in float64
// then float32, normalise (x - mean) / std in float32, HWC → CHW. The resize is a port of PIL's
// algorithm rather than sharp/libvips, whose kernels and rounding differ from PIL's by a few levels.

export interface PreprocessorConfig {
  do_resize?: boolean;
  size?: { height?: number; width?: number; shortest_edge?: number };
  /** PIL resample id: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming. */
  resample?: number;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number[];
  image_std?: number[];
}

interface Filter { support: number; fn: (x: number) => number }

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const FILTERS: Record<number, Filter> = {
  1: { support: 3, fn: (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  2: { support: 1, fn: (x) => { const a = Math.abs(x); return a < 1 ? 1 - a : 0; } },
  3: {
    support: 2,
    fn: (x) => {
      const a = -0.5; // PIL's bicubic uses a = -0.5
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  4: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  5: { support: 1, fn: (x) => { const t = Math.abs(x); return t === 0 ? 1 : t >= 1 ? 0 : sinc(t) * (0.54 + 0.46 * Math.cos(Math.PI * t)); } },
};

const PRECISION_BITS = 32 - 8 - 2;

/** Per output pixel: first input index, count, fixed-point weights (PIL precompute_coeffs + 8bpc normalisation). */
function coefficients(inSize: number, outSize: number, filter: Filter): { start: Int32Array; count: Int32Array; weights: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      weights[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}

const clip8 = (v: number) => { const x = v >> PRECISION_BITS; return x < 0 ? 0 : x > 255 ? 255 : x; };

/** One separable pass over interleaved uint8 RGB along x (horizontal) or y (vertical). */
function pass(src: Uint8Array, w: number, h: number, outLen: number, horizontal: boolean, filter: Filter): Uint8Array {
  const inLen = horizontal ? w : h;
  const { start, count, weights, ksize } = coefficients(inLen, outLen, filter);
  const ow = horizontal ? outLen : w;
  const oh = horizontal ? h : outLen;
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const o = horizontal ? x : y;
      const s0 = start[o]!;
      const n = count[o]!;
      for (let c = 0; c < 3; c++) {
        let acc = 1 << (PRECISION_BITS - 1);
        for (let i = 0; i < n; i++) {
          const idx = horizontal ? (y * w + s0 + i) * 3 + c : ((s0 + i) * w + x) * 3 + c;
          acc += src[idx]! * weights[o * ksize + i]!;
        }
        out[(y * ow + x) * 3 + c] = clip8(acc);
      }
    }
  }
  return out;
}

/** PIL Image.resize for an RGB uint8 image (resample 1..5; box = None, reducing_gap = None). */
export function resizeRgbPil(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, resample = 3): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`PIL resample ${resample} is not supported (use 1..5).`);
  if (rgb.length !== width * height * 3) throw new Error(`Expected ${width}x${height}x3 bytes, got ${rgb.length}.`);
  let img = rgb;
  let w = width;
  if (outWidth !== width) { img = pass(img, w, height, outWidth, true, filter); w = outWidth; }
  if (outHeight !== height) img = pass(img, w, height, outHeight, false, filter);
  return img === rgb ? rgb.slice() : img;
}

export function targetSize(cfg: PreprocessorConfig): { width: number; height: number } {
  const s = cfg.size ?? {};
  if (s.height && s.width) return { width: s.width, height: s.height };
  throw new Error('preprocessor_config.json size must give height and width (SiglipImageProcessor).');
}

/** HxWx3 uint8 → pixel_values float32 [1, 3, H', W']. */
export function preprocessSiglip(rgb: Uint8Array, width: number, height: number, cfg: PreprocessorConfig): { data: Float32Array; dims: number[] } {
  let img = rgb;
  let w = width;
  let h = height;
  if (cfg.do_resize ?? true) {
    const t = targetSize(cfg);
    img = resizeRgbPil(rgb, width, height, t.width, t.height, cfg.resample ?? 3);
    w = t.width;
    h = t.height;
  }
  const rescale = cfg.do_rescale ?? true;
  const factor = cfg.rescale_factor ?? 1 / 255;
  const normalize = cfg.do_normalize ?? true;
  const mean = (cfg.image_mean ?? [0.5, 0.5, 0.5]).map(Math.fround);
  const std = (cfg.image_std ?? [0.5, 0.5, 0.5]).map(Math.fround);
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = img[i * 3 + c]!;
      if (rescale) v = Math.fround(v * factor); // numpy: float64 multiply, then astype(float32)
      if (normalize) v = Math.fround(Math.fround(v - mean[c]!) / std[c]!);
      out[c * plane + i] = v;
    }
  }
  return { data: out, dims: [1, 3, h, w] };
}
