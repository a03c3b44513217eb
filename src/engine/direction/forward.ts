// Forward sampling of FramePack-F1 (demo_gradio_f1.py worker): the start of the video is made first;
// the start latent is APPENDED after 19 zero frames; every section packs the start latent plus the
// END of the history (1×, 2×, 16× from newest to oldest), appends its generated frames, and its
// decoded pixels are appended with soft_append_bcthw(history, current) — the other argument order.
import { concatTime, sliceTime, type Tensor } from '../functions/tensor.ts';
import { totalLatentSections } from '../functions/sections.ts';
import type { PixelHistory } from '../video/history.ts';
import {
  HISTORY_1X, HISTORY_2X, HISTORY_4X, HISTORY_CONTEXT_FRAMES, pixelFrames,
  type DirectionSection, type PackedContext, type SamplingDirection,
} from './types.ts';

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** `arange(1 + 16 + 2 + 1 + window).split([1, 16, 2, 1, window])`: the same indices every section. */
export function forwardSectionIndices(windowSize: number): Omit<DirectionSection, 'index' | 'isLastSection'> {
  let at = 0;
  const start = range(at, 1); at += 1;
  const fourX = range(at, HISTORY_4X); at += HISTORY_4X;
  const twoX = range(at, HISTORY_2X); at += HISTORY_2X;
  const oneX = range(at, HISTORY_1X); at += HISTORY_1X;
  return { latentIndices: range(at, windowSize), cleanLatentIndices: [...start, ...oneX], cleanLatent2xIndices: twoX, cleanLatent4xIndices: fourX };
}

export const forwardDirection: SamplingDirection = {
  name: 'forward',
  firstSectionMakes: 'start',

  planSections(seconds, windowSize) {
    // Same count rule as the original worker: int(max(round(seconds·30 / (window·4)), 1)), half to even.
    const n = totalLatentSections(seconds, windowSize);
    const indices = forwardSectionIndices(windowSize);
    return Array.from({ length: n }, (_, index) => ({ index, isLastSection: index === n - 1, ...structuredClone(indices) }));
  },

  initialHistory(startLatent, endFrame) {
    if (endFrame) throw new Error('An end frame needs the original model; F1 samples forward from the start image only.');
    const [, c, , h, w] = startLatent.dims as [number, number, number, number, number];
    const zeros: Tensor = { data: new Float32Array(c * HISTORY_CONTEXT_FRAMES * h * w), dims: [1, c, HISTORY_CONTEXT_FRAMES, h, w] };
    return { latents: concatTime([zeros, startLatent]), generated: 1 };
  },

  packContext(history, startLatent): PackedContext {
    const h = history.latents;
    const t = h.dims[2]!;
    const from = t - HISTORY_CONTEXT_FRAMES;
    return {
      cleanLatents4x: sliceTime(h, from, from + HISTORY_4X),
      cleanLatents2x: sliceTime(h, from + HISTORY_4X, from + HISTORY_4X + HISTORY_2X),
      cleanLatents: concatTime([startLatent, sliceTime(h, t - HISTORY_1X, t)]),
    };
  },

  commit(history, generated) {
    return { latents: concatTime([history.latents, generated]), generated: history.generated + generated.dims[2]! };
  },

  boundHistory(history, windowSize) {
    // The next context is the last 1 + 2 + 16 frames; a decode window the last 2·window.
    const keep = Math.max(HISTORY_CONTEXT_FRAMES, 2 * windowSize);
    const t = history.latents.dims[2]!;
    return t <= keep ? history : { latents: sliceTime(history.latents, t - keep, t), generated: history.generated };
  },

  decodeWindow(history, _section, windowSize, first) {
    const t = history.latents.dims[2]!;
    return sliceTime(history.latents, t - (first ? history.generated : windowSize * 2), t);
  },

  mergePixels(pixels: PixelHistory, decoded, windowSize, first) {
    const overlap = windowSize * 4 - 3;
    pixels.append(decoded, first ? 0 : overlap, overlap);
  },

  realHistory(history) {
    const t = history.latents.dims[2]!;
    return sliceTime(history.latents, t - history.generated, t);
  },

  framesAfterSections(_sections, windowSize, finished) {
    return finished === 0 ? 0 : pixelFrames(1 + finished * windowSize);
  },
};
