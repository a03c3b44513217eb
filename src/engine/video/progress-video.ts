// What the chat is shown after each section of a job: the whole video so far, or only the newest
// section. A user watching a short job wants the growing video every time (FramePack's demo shows
// it), and for a short video that costs little. For a minute-long one, uploading (and assembling)
// the whole video after each of ~100 sections would be quadratic in bytes and flood the chat, so past
// WHOLE_VIDEO_FRAMES the whole video is shown only when it has doubled in length since it was last
// shown (and the last section is the final video anyway); in between, the newest section plays as a
// short clip, which is what is new to look at. Bytes written and uploaded stay linear: the whole
// previews past the threshold sum to at most twice the final video.

/** Up to this length (10 s at 30 fps) every section shows the whole video so far. */
export const WHOLE_VIDEO_FRAMES = 300;

export type ProgressVideoKind = 'whole' | 'newest';

/**
 * `frames`: the video's length after this section; `lastWholeFrames`: its length when the whole
 * video was last shown (0 if never).
 */
export function progressVideoKind(frames: number, lastWholeFrames: number): ProgressVideoKind {
  if (frames <= WHOLE_VIDEO_FRAMES) return 'whole';
  return frames >= 2 * lastWholeFrames ? 'whole' : 'newest';
}
