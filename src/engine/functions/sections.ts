// FramePack's section schedule (demo_gradio.py worker): how many sections a video length needs,
// the padding of each (inverted, anti-drifting order: the end of the video is made first), and the
// latent index split of each section's packed context.

/** Python's round(): halves go to the even neighbour (2.5 → 2, 5.5 → 6). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function totalLatentSections(seconds: number, windowSize: number): number {
  return Math.max(roundHalfEven((seconds * 30) / (windowSize * 4)), 1);
}

/** Paddings in generation order; above 4 sections FramePack repeats 2 instead of counting down. */
export function latentPaddings(totalSections: number): number[] {
  if (totalSections > 4) return [3, ...Array<number>(totalSections - 3).fill(2), 1, 0];
  return Array.from({ length: totalSections }, (_, i) => totalSections - 1 - i);
}

export interface SectionPlan {
  /** 0-based position in generation order. */
  index: number;
  latentPadding: number;
  isLastSection: boolean;
  latentPaddingSize: number;
  latentIndices: number[];
  /** Start latent index (0) followed by the most recent history frame's index. */
  cleanLatentIndices: number[];
  cleanLatent2xIndices: number[];
  cleanLatent4xIndices: number[];
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** `arange(...).split([1, pad·window, window, 1, 2, 16])`, with the pre/post clean indices joined. */
export function sectionIndices(latentPadding: number, windowSize: number): Omit<SectionPlan, 'index'> {
  const pad = latentPadding * windowSize;
  let at = 0;
  const pre = range(at, 1); at += 1;
  at += pad; // blank indices: never given to the model
  const latentIndices = range(at, windowSize); at += windowSize;
  const post = range(at, 1); at += 1;
  const twoX = range(at, 2); at += 2;
  const fourX = range(at, 16);
  return {
    latentPadding,
    isLastSection: latentPadding === 0,
    latentPaddingSize: pad,
    latentIndices,
    cleanLatentIndices: [...pre, ...post],
    cleanLatent2xIndices: twoX,
    cleanLatent4xIndices: fourX,
  };
}

/** Every section the worker runs: it iterates the paddings and stops after the first 0. */
export function planSections(seconds: number, windowSize: number): SectionPlan[] {
  const plans: SectionPlan[] = [];
  for (const padding of latentPaddings(totalLatentSections(seconds, windowSize))) {
    plans.push({ index: plans.length, ...sectionIndices(padding, windowSize) });
    if (padding === 0) break;
  }
  return plans;
}

/** Latent frames a section adds to the history (the last one also prepends the start latent). */
export function sectionLatentFrames(plan: SectionPlan, windowSize: number): number {
  return windowSize + (plan.isLastSection ? 1 : 0);
}

/** Pixel frames the decoded video has after sections 0..k (FramePack: total latents·4 − 3). */
export function framesAfterSections(plans: readonly SectionPlan[], windowSize: number, finished: number): number {
  let latents = 0;
  for (let i = 0; i < finished; i++) latents += sectionLatentFrames(plans[i]!, windowSize);
  return Math.max(0, latents * 4 - 3);
}
