// The sampling direction as a strategy: how the sections of a job are planned, which history frames
// are packed into each section's context, how generated latents join the history, which latents are
// decoded after a section and how their pixels join the video. FramePack's original model samples in
// inverted (anti-drifting) order; FramePack-F1 samples forward. The pipeline and the conformance
// handlers only talk to this interface.
import type { Tensor } from '../functions/tensor.ts';
import type { PixelHistory } from '../video/history.ts';

/**
 * Frames of history the packed context holds at each compression: 1 frame at 1× (next to the start
 * latent), 2 at 2×, 16 at 4× — FramePack's `[1, 2, 16]` split (19 frames in all).
 */
export const HISTORY_SIZES = [1, 2, 16] as const;
export const [HISTORY_1X, HISTORY_2X, HISTORY_4X] = HISTORY_SIZES;
/** Frames of history the context can see: 1 + 2 + 16. */
export const HISTORY_CONTEXT_FRAMES = HISTORY_1X + HISTORY_2X + HISTORY_4X;

export type DirectionName = 'inverted' | 'forward';

/** One section of a job, in generation order, with the latent indices of its packed context. */
export interface DirectionSection {
  /** 0-based position in generation order. */
  index: number;
  /** The last section the job samples. */
  isLastSection: boolean;
  /** Inverted order only: the section's latent padding (0 = the start of the video). */
  latentPadding?: number;
  latentIndices: number[];
  /** Start latent index followed by the 1× history frame's index. */
  cleanLatentIndices: number[];
  cleanLatent2xIndices: number[];
  cleanLatent4xIndices: number[];
}

/** Latent history of a job: what the reference calls history_latents and total_generated_latent_frames. */
export interface LatentHistory {
  /** [1,C,T,h,w] float32, including the zero frames the reference starts with. */
  latents: Tensor;
  /** Frames of it that are real video (generated or the start latent). */
  generated: number;
}

/** The three context tensors a section's transformer calls get besides the noisy window. */
export interface PackedContext {
  cleanLatents: Tensor;
  cleanLatents2x: Tensor;
  cleanLatents4x: Tensor;
}

/** An end frame written into the history before the first section (original model only). */
export interface EndFrame {
  latent: Tensor;
  /** 0.05–1.0; the latent is multiplied by it (FramePack-Studio's "End Frame Influence"). */
  strength: number;
}

export interface SamplingDirection {
  readonly name: DirectionName;
  /** Which end of the video the first generated section makes (shown in the chat status). */
  readonly firstSectionMakes: 'start' | 'end';
  /** Every section the job samples, in generation order. */
  planSections(seconds: number, windowSize: number): DirectionSection[];
  /** The history before the first section. */
  initialHistory(startLatent: Tensor, endFrame?: EndFrame): LatentHistory;
  /** Context latents of the next section, taken from the history. */
  packContext(history: LatentHistory, startLatent: Tensor): PackedContext;
  /** Adds a section's generated latents ([1,C,window,h,w]) to the history. */
  commit(history: LatentHistory, generated: Tensor, section: DirectionSection, startLatent: Tensor): LatentHistory;
  /**
   * The history cut to the frames any later section reads (its packed context and its decode
   * window), so memory and checkpoints stay the same size however long the video grows.
   * `generated` still counts every frame made; realHistory() needs the uncut history.
   */
  boundHistory(history: LatentHistory, windowSize: number): LatentHistory;
  /** The latents to decode after a section (`first`: nothing decoded yet). */
  decodeWindow(history: LatentHistory, section: DirectionSection, windowSize: number, first: boolean): Tensor;
  /** Joins decoded pixels to the video so far, cross-fading `windowSize·4 − 3` frames after the first. */
  mergePixels(pixels: PixelHistory, decoded: Tensor, windowSize: number, first: boolean): void;
  /** The real video latents in video order (the reference's real_history_latents). */
  realHistory(history: LatentHistory): Tensor;
  /** Pixel frames of the video once the first `finished` sections are merged. */
  framesAfterSections(sections: readonly DirectionSection[], windowSize: number, finished: number): number;
}

/** Pixel frames a latent span decodes to (FramePack: T·4 − 3). */
export function pixelFrames(latentFrames: number): number {
  return Math.max(0, latentFrames * 4 - 3);
}

/** The reference's `end_latent * strength` in float32 (skipped at 1.0, as the reference does; same values). */
export function scaledEndLatent(end: EndFrame): Tensor {
  if (end.strength === 1) return { data: Float32Array.from(end.latent.data), dims: [...end.latent.dims] };
  const s = Math.fround(end.strength);
  return { data: end.latent.data.map((v) => Math.fround(v * s)), dims: [...end.latent.dims] };
}
