// Plain-text status rendering shared by the Discord and Telegram adapters. Adapters escape or
// format the text for their platform; nothing here knows about Markdown or HTML.
import { ANIMATE_LIMITS, cacheModeOf, modelOf, type AnimateOptions } from '../../engine/types.ts';

export const END_FIRST_NOTE =
  'FramePack makes the end of the video first, so early previews show the last seconds and the video grows toward the start.';
/** F1 samples forward: the opposite order. */
export const START_FIRST_NOTE =
  'FramePack-F1 makes the start of the video first, so early previews show the first seconds and the video grows toward the end.';

export interface StatusState {
  jobSeq: number;
  phase: 'queued' | 'resumed' | 'running' | 'done' | 'failed' | 'cancelled';
  position?: number;
  etaMs?: number | null;
  stage?: string;
  section?: number;
  sections?: number;
  step?: number;
  steps?: number;
  error?: string;
  options: AnimateOptions;
  elapsedMs?: number;
}

/** "█████░░░░░ 50%": the fraction is clamped to 0–1. */
export function progressBar(fraction: number, width = 20): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const cells = Math.max(1, Math.round(width));
  const filled = Math.round(f * cells);
  return `${'█'.repeat(filled)}${'░'.repeat(cells - filled)} ${Math.floor(f * 100)}%`;
}

/** A rough, human estimate: "less than a minute", "about 2 min", "about 1 h 20 min", "unknown". */
export function formatEta(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 60_000) return 'less than a minute';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${hours} h${rest ? ` ${rest} min` : ''}`;
}

/** An exact-ish elapsed time: "4.2 s", "42 s", "3 min 2 s", "1 h 4 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0 s';
  const seconds = ms / 1000;
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min${total % 60 ? ` ${total % 60} s` : ''}`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** The settings a user needs to reproduce a video. */
export function describeSettings(options: AnimateOptions): string {
  const parts = [
    `seed ${options.seed}`,
    `${options.seconds} s`,
    `${options.steps} steps`,
    // Unchanged wording for TeaCache on/off (what users know); MagCache and F1 are named when chosen.
    cacheModeOf(options) === 'magcache' ? 'MagCache' : `TeaCache ${cacheModeOf(options) === 'teacache' ? 'on' : 'off'}`,
  ];
  if (modelOf(options) === 'f1') parts.push('model F1');
  if (options.distilledCfg !== ANIMATE_LIMITS.distilledCfg.default) parts.push(`cfg ${options.distilledCfg}`);
  const prompt = options.prompt.trim() || '(none)';
  return `Prompt: ${prompt}\nSettings: ${parts.join(', ')}`;
}

/** The whole status message for one job. */
export function renderJobStatus(state: StatusState): string {
  const head = `Job #${state.jobSeq}`;
  const settings = describeSettings(state.options);
  switch (state.phase) {
    case 'queued':
      return [`${head} is queued${positionText(state)}.`, settings].join('\n');
    case 'resumed':
      return [`${head} was picked up again after a restart${positionText(state)}.`, settings].join('\n');
    case 'running':
      return [...runningLines(state), settings].join('\n');
    case 'done':
      return [`${head} is done${state.elapsedMs !== undefined ? ` in ${formatDuration(state.elapsedMs)}` : ''}.`, settings].join('\n');
    case 'failed':
      return [`${head} failed: ${state.error?.trim() || 'an unknown error.'}`, settings].join('\n');
    case 'cancelled':
      return [`${head} was cancelled.`, settings].join('\n');
  }
}

function positionText(state: StatusState): string {
  if (state.position === undefined) return '';
  const where = state.position <= 1 ? 'next in line' : `position ${state.position}`;
  const eta = state.etaMs === undefined || state.etaMs === null ? '' : `, starts in ${formatEta(state.etaMs)}`;
  return ` (${where}${eta})`;
}

function runningLines(state: StatusState): string[] {
  const lines: string[] = [];
  const where: string[] = [];
  if (state.section !== undefined && state.sections) where.push(`section ${state.section}/${state.sections}`);
  if (state.step !== undefined && state.steps) where.push(`step ${state.step}/${state.steps}`);
  lines.push(`Job #${state.jobSeq} is running${state.stage ? ` (${state.stage.replace(/_/g, ' ')})` : ''}${where.length ? `: ${where.join(', ')}` : ''}.`);
  const fraction = overallFraction(state);
  if (fraction !== undefined) lines.push(progressBar(fraction));
  const timing: string[] = [];
  if (state.elapsedMs !== undefined) timing.push(`elapsed ${formatDuration(state.elapsedMs)}`);
  if (state.etaMs !== undefined && state.etaMs !== null) timing.push(`remaining ${formatEta(state.etaMs)}`);
  if (timing.length) lines.push(capitalize(timing.join(', ')));
  if (state.sections !== undefined && state.sections > 1) lines.push(modelOf(state.options) === 'f1' ? START_FIRST_NOTE : END_FIRST_NOTE);
  return lines;
}

/** Progress across all sections: finished sections plus the share of the current one. */
function overallFraction(state: StatusState): number | undefined {
  if (!state.sections || state.section === undefined) return undefined;
  const within = state.step !== undefined && state.steps ? state.step / state.steps : 0;
  return (state.section - 1 + within) / state.sections;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
