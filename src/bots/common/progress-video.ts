// What the chat says about the progress video a section leaves: the whole video so far, or (in a
// long job, between the times its length doubles) only the newest section's clip. The engine
// chooses which (engine/video/progress-video.ts); both adapters word it the same way.
import type { EngineEvent } from '../../engine/types.ts';

export type ProgressVideoShows = Extract<EngineEvent, { type: 'section' }>['shows'];

/** "the video so far, after section 3/9" or "the newest section (12/100); …". */
export function progressVideoLabel(shows: ProgressVideoShows, section: number, sections: number): string {
  if (shows === 'whole') return `the video so far, after section ${section}/${sections}`;
  return `the newest section (${section}/${sections}); the whole video so far is shown again each time it doubles in length`;
}

/** The attachment's file name, so a user can tell a clip from the growing video. */
export function progressVideoFileName(shows: ProgressVideoShows): string {
  return shows === 'whole' ? 'progress.mp4' : 'newest-section.mp4';
}
