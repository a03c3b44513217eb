// The chat's progress-video policy: every section while the video is short, then only when the
// video has doubled since the last whole one, so whole previews sum to at most twice the final video.
import { describe, expect, it } from 'vitest';
import { progressVideoKind, WHOLE_VIDEO_FRAMES } from '../../../src/engine/video/progress-video.ts';

/** Simulates a job of `sections` sections of `perSection` frames each; returns the kind per section. */
function simulate(sections: number, perSection: number): { kinds: string[]; wholeFrames: number } {
  let lastWhole = 0;
  let wholeFrames = 0;
  const kinds: string[] = [];
  for (let k = 1; k <= sections; k++) {
    const frames = k * perSection;
    const kind = k === sections ? 'whole' : progressVideoKind(frames, lastWhole);
    if (kind === 'whole') { lastWhole = frames; wholeFrames += frames; }
    kinds.push(kind);
  }
  return { kinds, wholeFrames };
}

describe('progressVideoKind', () => {
  it('shows the whole video while it is at most WHOLE_VIDEO_FRAMES long', () => {
    expect(progressVideoKind(1, 0)).toBe('whole');
    expect(progressVideoKind(WHOLE_VIDEO_FRAMES, WHOLE_VIDEO_FRAMES - 36)).toBe('whole');
  });

  it('past the threshold, shows the whole video only once it has doubled', () => {
    expect(progressVideoKind(WHOLE_VIDEO_FRAMES + 36, WHOLE_VIDEO_FRAMES)).toBe('newest');
    expect(progressVideoKind(2 * WHOLE_VIDEO_FRAMES - 1, WHOLE_VIDEO_FRAMES)).toBe('newest');
    expect(progressVideoKind(2 * WHOLE_VIDEO_FRAMES, WHOLE_VIDEO_FRAMES)).toBe('whole');
  });

  it('keeps the bytes of whole previews linear in a 120 s job (≈100 sections of 36 frames)', () => {
    const sections = 100;
    const per = 36;
    const { kinds, wholeFrames } = simulate(sections, per);
    const finalFrames = sections * per;
    const shortPart = Math.floor(WHOLE_VIDEO_FRAMES / per);
    // Every section up to 10 s shows the whole video; after that only a handful do.
    expect(kinds.slice(0, shortPart).every((k) => k === 'whole')).toBe(true);
    expect(kinds.filter((k) => k === 'whole').length).toBeLessThan(shortPart + 6);
    // Past the short part, whole previews add up to less than twice the final video (plus the last).
    const shortSum = (shortPart * (shortPart + 1) / 2) * per;
    expect(wholeFrames - shortSum - finalFrames).toBeLessThan(2 * finalFrames);
    // What grows quadratically today: every section's whole video.
    const quadratic = (sections * (sections + 1) / 2) * per;
    expect(wholeFrames).toBeLessThan(quadratic / 10);
  });
});
