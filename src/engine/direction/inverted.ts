// Inverted (anti-drifting) sampling of FramePack's original model (demo_gradio.py worker): the end of
// the video is made first; the history grows by PREPENDING; the context is the start latent plus the
// NEWEST (first) history frames; the last section prepends the start latent itself. An end frame
// (FramePack-Studio's "Original with Endframe") is written once into history frame 0.
import { concatTime, sliceTime, type Tensor } from '../functions/tensor.ts';
import { planSections } from '../functions/sections.ts';
import type { PixelHistory } from '../video/history.ts';
import {
  HISTORY_1X, HISTORY_2X, HISTORY_CONTEXT_FRAMES, pixelFrames, scaledEndLatent,
  type DirectionSection, type EndFrame, type LatentHistory, type PackedContext, type SamplingDirection,
} from './types.ts';

/** Latent frames a section adds: its window, plus the start latent on the last section. */
function framesAdded(section: DirectionSection, windowSize: number): number {
  return windowSize + (section.isLastSection ? 1 : 0);
}

export const invertedDirection: SamplingDirection = {
  name: 'inverted',
  firstSectionMakes: 'end',

  planSections(seconds, windowSize) {
    return planSections(seconds, windowSize);
  },

  initialHistory(startLatent: Tensor, endFrame?: EndFrame): LatentHistory {
    const [, c, , h, w] = startLatent.dims as [number, number, number, number, number];
    const latents: Tensor = { data: new Float32Array(c * HISTORY_CONTEXT_FRAMES * h * w), dims: [1, c, HISTORY_CONTEXT_FRAMES, h, w] };
    if (endFrame) {
      // history_latents[:, :, 0:1] = end_latent · strength: the first section sees it as its 1× "post"
      // frame; later sections see it move through the 2× and 4× context as frames are prepended.
      const end = scaledEndLatent(endFrame);
      if (end.dims[1] !== c || end.dims[2] !== 1 || end.dims[3] !== h || end.dims[4] !== w) {
        throw new Error(`The end frame latent has shape [${end.dims.join(', ')}], the start latent [${startLatent.dims.join(', ')}].`);
      }
      const plane = h * w;
      for (let ch = 0; ch < c; ch++) latents.data.set(end.data.subarray(ch * plane, (ch + 1) * plane), ch * HISTORY_CONTEXT_FRAMES * plane);
    }
    return { latents, generated: 0 };
  },

  packContext(history: LatentHistory, startLatent: Tensor): PackedContext {
    const h = history.latents;
    return {
      cleanLatents: concatTime([startLatent, sliceTime(h, 0, HISTORY_1X)]),
      cleanLatents2x: sliceTime(h, HISTORY_1X, HISTORY_1X + HISTORY_2X),
      cleanLatents4x: sliceTime(h, HISTORY_1X + HISTORY_2X, HISTORY_CONTEXT_FRAMES),
    };
  },

  commit(history, generated, section, startLatent) {
    const added = section.isLastSection ? concatTime([startLatent, generated]) : generated;
    return { latents: concatTime([added, history.latents]), generated: history.generated + added.dims[2]! };
  },

  boundHistory(history, windowSize) {
    // The next context is the first 1 + 2 + 16 frames; a decode window the first 2·window + 1.
    const keep = Math.max(HISTORY_CONTEXT_FRAMES, 2 * windowSize + 1);
    const t = history.latents.dims[2]!;
    return t <= keep ? history : { latents: sliceTime(history.latents, 0, keep), generated: history.generated };
  },

  decodeWindow(history, section, windowSize, first) {
    return sliceTime(history.latents, 0, first ? history.generated : framesAdded(section, windowSize) + windowSize);
  },

  mergePixels(pixels: PixelHistory, decoded: Tensor, windowSize: number, first: boolean) {
    const overlap = windowSize * 4 - 3;
    pixels.prepend(decoded, first ? 0 : overlap, overlap);
  },

  realHistory(history) {
    return sliceTime(history.latents, 0, history.generated);
  },

  framesAfterSections(sections, windowSize, finished) {
    let latents = 0;
    for (let i = 0; i < finished; i++) latents += framesAdded(sections[i]!, windowSize);
    return pixelFrames(latents);
  },
};
