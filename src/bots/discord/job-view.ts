// What one job's status message should show right now: text, buttons and which files it carries.
// Pure: no I/O, so the rendering is easy to test and the sender can diff it against what was sent.
import { ButtonBuilder, ButtonStyle, ActionRowBuilder, escapeMarkdown } from 'discord.js';
import type { JobOptions } from '../../options/job-options.ts';
import { progressVideoFileName, progressVideoLabel, type ProgressVideoShows } from '../common/progress-video.ts';
import { renderJobStatus, type StatusState } from '../common/status.ts';
import { DISCORD_CONTENT_LIMIT, fitPart } from '../common/text-limit.ts';
import { encodeCustomId } from './custom-ids.ts';
import type { MessageRow } from './status-messenger.ts';

export type Phase = StatusState['phase'];

/** The shared status state (from the common reducer) plus what only Discord shows. */
export interface JobView {
  jobId: string;
  seq: number;
  ownerId: string;
  /** Phase, position, progress, error, elapsed…: owned by bots/common/status.ts's reducer. */
  status: StatusState;
  promptSource?: 'user' | 'helper' | 'default';
  /** How the prompt was chosen, as said when the job was submitted (already escaped). */
  notice?: string;
  startedAt?: number;
  /** The latest finished section's progress video: the whole video so far, or the newest section's clip. */
  sectionVideo?: { path: string; bytes: number; shows: ProgressVideoShows; section: number; sections: number };
  /** The latest latent preview chosen for display (not every step's). */
  preview?: { seq: number; png: Buffer };
  /** The final video, already fitted to the upload limit. */
  finalVideo?: { path: string; bytes: number };
  notes: string[];
}

/** A file the message should carry; `key` identifies its content so unchanged files are not re-sent. */
export interface DesiredFile {
  name: string;
  key: string;
  contentType: string;
  source: { path: string } | { data: Buffer };
}

export interface RenderedStatus {
  content: string;
  components: MessageRow[];
  files: DesiredFile[];
}

export function renderStatus(view: JobView): RenderedStatus {
  const render = (prompt: string): string => {
    const shown: JobOptions = { ...view.status.options, prompt: escapeMarkdown(prompt) };
    const state: StatusState = { ...view.status, options: shown };
    const lines = [renderJobStatus(state)];
    if (view.notice) lines.push(view.notice);
    else if (view.promptSource === 'helper') lines.push('The prompt was suggested by the prompt helper.');
    else if (view.promptSource === 'default') lines.push('No prompt was given, so the default motion prompt is used.');
    lines.push(...view.notes);
    const sv = view.sectionVideo;
    if (sv && view.status.phase !== 'done') lines.push(`Attached: ${progressVideoLabel(sv.shows, sv.section, sv.sections)}.`);
    return lines.join('\n');
  };
  // A long (or heavily escaped) prompt is shortened first, so the notes after it stay readable.
  const content = fitPart(render, view.status.options.prompt, DISCORD_CONTENT_LIMIT);
  return { content, components: buttonsFor(view), files: filesFor(view) };
}

function filesFor(view: JobView): DesiredFile[] {
  if (view.status.phase === 'done') {
    return view.finalVideo
      ? [{ name: `recurvid-${view.seq}.mp4`, key: `final:${view.finalVideo.path}`, contentType: 'video/mp4', source: { path: view.finalVideo.path } }]
      : [];
  }
  const files: DesiredFile[] = [];
  if (view.sectionVideo) {
    files.push({ name: progressVideoFileName(view.sectionVideo.shows), key: `video:${view.sectionVideo.path}`, contentType: 'video/mp4', source: { path: view.sectionVideo.path } });
  }
  if (view.preview && view.status.phase === 'running') {
    files.push({ name: 'preview.png', key: `preview:${view.preview.seq}`, contentType: 'image/png', source: { data: view.preview.png } });
  }
  return files;
}

function buttonsFor(view: JobView): MessageRow[] {
  const buttons: ButtonBuilder[] = [];
  const { phase } = view.status;
  if (phase === 'queued' || phase === 'resumed' || phase === 'running') {
    buttons.push(new ButtonBuilder().setCustomId(encodeCustomId('cancel', view.jobId)).setLabel('Cancel').setStyle(ButtonStyle.Danger));
  } else {
    buttons.push(new ButtonBuilder().setCustomId(encodeCustomId('reroll', view.jobId)).setLabel('Re-roll').setStyle(ButtonStyle.Primary));
    if (phase === 'done') {
      buttons.push(
        new ButtonBuilder().setCustomId(encodeCustomId('longer', view.jobId)).setLabel('Same seed, longer').setStyle(ButtonStyle.Secondary),
      );
    }
  }
  return [new ActionRowBuilder<ButtonBuilder>().addComponents(buttons).toJSON()];
}
