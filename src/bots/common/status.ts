// The status of a job as both chat adapters show it: one reducer turns queue events into status
// state (so Discord and Telegram cannot drift apart) and plain-text rendering of that state.
// Adapters escape or format the text for their platform; nothing here knows about Markdown or HTML.
import type { EngineEvent } from '../../engine/types.ts';
import { DEFAULT_JOB_OPTIONS, type JobOptions } from '../../options/job-options.ts';
import type { JobRecord, QueueEvent } from '../../queue/types.ts';
import type { TimingEstimate } from '../../queue/types.ts';
import { runProgress } from './run-estimate.ts';

export const END_FIRST_NOTE =
  'FramePack makes the end of the video first, so early previews show the last seconds and the video grows toward the start.';
/** F1 samples forward: the opposite order. */
export const START_FIRST_NOTE =
  'FramePack-F1 makes the start of the video first, so early previews show the first seconds and the video grows toward the end.';

/** Which end of the video this job makes first, as the status and the first preview's caption say it. */
export function sectionOrderNote(options: Pick<JobOptions, 'model'>): string {
  return options.model === 'f1' ? START_FIRST_NOTE : END_FIRST_NOTE;
}

export interface StatusState {
  jobSeq: number;
  phase: 'queued' | 'resumed' | 'running' | 'done' | 'failed' | 'cancelled';
  position?: number;
  /**
   * Queued: the queue's estimate of when the video is ready (its wait plus its own run).
   * Running: the estimated time left of this job. Never "time until it starts".
   */
  etaMs?: number | null;
  /** What the engine is doing now (an EngineStage, or 'starting'). */
  stage?: string;
  /** The engine's detail for the stage, e.g. "text encoders" while loading. */
  stageDetail?: string;
  section?: number;
  sections?: number;
  step?: number;
  steps?: number;
  error?: string;
  options: JobOptions;
  /** The job came with an end image (the settings line says so, with its strength). */
  hasEndImage?: boolean;
  startedAt?: number;
  elapsedMs?: number;
  /** Mean measured time per sampling step of this run (from the engine's step events). */
  stepMs?: number;
  /** The last section whose video is written. */
  sectionDone?: number;
  /** This run's mean decode + write time per section, from its own events. */
  overheadMs?: number;
  /** How many sections `overheadMs` was measured on. */
  overheadSections?: number;
  /** When the current section's last step ended, i.e. its decode started. */
  samplingEndedAt?: number;
  /** The queue's measured times for jobs like this one (per step, per section's decode and write). */
  estimate?: TimingEstimate;
  /** 0–1 of the whole job, every stage weighed by its expected duration. */
  fraction?: number;
  /** How delivering the finished video went, when it needs saying (said after "is done"). */
  delivery?: string;
  /** Why the job was picked up again, when the queue says (e.g. "resumed on another GPU …"); shown while it runs. */
  resumedNote?: string;
}

/** The first status of a job, before any event. */
export function initialStatus(job: Pick<JobRecord, 'seq' | 'options' | 'endImagePath'>): StatusState {
  return { jobSeq: job.seq, phase: 'queued', options: job.options, ...(job.endImagePath !== undefined ? { hasEndImage: true } : {}) };
}

export function isTerminal(state: Pick<StatusState, 'phase'>): boolean {
  return state.phase === 'done' || state.phase === 'failed' || state.phase === 'cancelled';
}

/**
 * The one place a queue event becomes status state, for every platform: adapters keep the
 * returned state and only render and send it. Pure; `now` is the adapter's injected clock.
 * A finished job's state never changes again (late events are ignored).
 */
export function reduceStatus(prev: StatusState, event: QueueEvent, now: number): StatusState {
  if (isTerminal(prev)) return prev;
  const s: StatusState = { ...prev, options: event.job.options };
  switch (event.type) {
    case 'queued':
    case 'position':
      if (s.phase === 'queued' || s.phase === 'resumed') {
        s.position = event.position;
        s.etaMs = event.etaMs;
      }
      break;
    case 'resumed':
      s.phase = 'resumed';
      s.position = event.position;
      if (event.note) s.resumedNote = event.note;
      delete s.etaMs;
      break;
    case 'started':
      if (event.job.estimate) s.estimate = event.job.estimate;
      s.phase = 'running';
      s.stage = 'starting';
      s.startedAt = startOf(event.job) ?? now;
      delete s.position;
      delete s.etaMs;
      break;
    case 'engine':
      if (s.phase !== 'running') {
        s.phase = 'running';
        delete s.position;
        delete s.etaMs;
      }
      s.startedAt ??= startOf(event.job) ?? now;
      if (event.job.estimate) s.estimate = event.job.estimate;
      applyEngineEvent(s, event.event, now);
      updateRunProgress(s, now);
      break;
    case 'done':
      s.phase = 'done';
      s.stage = 'done';
      delete s.etaMs;
      delete s.position;
      break;
    case 'failed':
      s.phase = 'failed';
      s.error = event.reason;
      delete s.etaMs;
      break;
    case 'cancelled':
      s.phase = 'cancelled';
      delete s.etaMs;
      break;
  }
  if (startOf(event.job) !== undefined) s.startedAt = startOf(event.job);
  if (s.startedAt !== undefined) s.elapsedMs = Math.max(0, (event.job.finishedAt ?? now) - s.startedAt);
  return s;
}

function updateRunProgress(s: StatusState, now: number): void {
  const p = runProgress(s, now);
  if (p.fraction !== undefined) s.fraction = p.fraction;
  if (p.remainingMs !== undefined) s.etaMs = p.remainingMs;
  else delete s.etaMs; // unknown decode time: no estimate rather than one that counts sampling only
}

function applyEngineEvent(s: StatusState, e: EngineEvent, now: number): void {
  switch (e.type) {
    case 'stage': {
      s.stage = e.stage;
      delete s.stageDetail;
      const of = e.detail ? /^section (\d+)\/(\d+)$/.exec(e.detail) : null;
      if (of) {
        const section = Number(of[1]);
        if (section !== s.section && e.stage === 'sampling') s.step = 0; // a new section starts from step 0
        s.section = section;
        s.sections = Number(of[2]);
      } else if (e.detail) {
        s.stageDetail = e.detail;
      }
      if (e.stage === 'decoding' || e.stage === 'writing') s.step = s.steps; // that section's sampling is over
      break;
    }
    case 'step':
      Object.assign(s, { stage: 'sampling', section: e.section, sections: e.sections, step: e.step, steps: e.steps });
      delete s.stageDetail;
      // Smoothed, so one slow step (a preview, a GC pause) does not swing the estimate.
      if (e.stepMs > 0) s.stepMs = s.stepMs === undefined ? e.stepMs : s.stepMs * 0.8 + e.stepMs * 0.2;
      s.samplingEndedAt = now;
      break;
    case 'section':
      Object.assign(s, { section: e.section, sections: e.sections, sectionDone: e.section });
      if (s.samplingEndedAt !== undefined) {
        const n = s.overheadSections ?? 0;
        s.overheadMs = ((s.overheadMs ?? 0) * n + Math.max(0, now - s.samplingEndedAt)) / (n + 1);
        s.overheadSections = n + 1;
        delete s.samplingEndedAt;
      }
      break;
    case 'done':
      s.stage = 'finishing';
      delete s.etaMs;
      break;
  }
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

/** Elapsed time counts from the job's first start: a restart or a hand-over does not reset it. */
function startOf(job: JobRecord): number | undefined {
  return job.firstStartedAt ?? job.startedAt;
}

/** An exact-ish elapsed time: "4.2 s", "42 s", "3 min 2 s", "1 h 4 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0 s';
  const seconds = ms / 1000;
  if (seconds < 9.95) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min${total % 60 ? ` ${total % 60} s` : ''}`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** A video length: "6.0 s" (one decimal, whatever float the frame count gave). */
export function formatSeconds(seconds: number): string {
  return Number.isFinite(seconds) && seconds >= 0 ? `${seconds.toFixed(1)} s` : '? s';
}

/** The settings a user needs to reproduce a video. */
export function describeSettings(options: JobOptions, hasEndImage = false): string {
  const parts = [
    `seed ${options.seed}`,
    `${options.seconds} s`,
    `${options.steps} steps`,
    // Unchanged wording for TeaCache on/off (what users know); MagCache and F1 are named when chosen.
    options.cache === 'magcache' ? 'MagCache' : `TeaCache ${options.cache === 'teacache' ? 'on' : 'off'}`,
  ];
  if (options.model === 'f1') parts.push('model F1');
  if (options.distilledCfg !== DEFAULT_JOB_OPTIONS.distilledCfg) parts.push(`cfg ${options.distilledCfg}`);
  const strength = options.endFrameStrength;
  if (hasEndImage) parts.push(`end image (strength ${strength})`);
  // A typed or saved end_strength without an end image is accepted but does nothing: say so.
  else if (strength !== DEFAULT_JOB_OPTIONS.endFrameStrength) parts.push(`end_strength ${strength} has no effect without an end image`);
  const prompt = options.prompt.trim() || '(none)';
  return `Prompt: ${prompt}\nSettings: ${parts.join(', ')}`;
}

/** The whole status message for one job. */
export function renderJobStatus(state: StatusState): string {
  const head = `Job #${state.jobSeq}`;
  const settings = describeSettings(state.options, state.hasEndImage);
  switch (state.phase) {
    case 'queued':
      return [`${head} is queued${positionText(state)}.`, settings].join('\n');
    case 'resumed':
      return [`${head} was ${state.resumedNote ?? 'picked up again after a restart'}${positionText(state)}.`, settings].join('\n');
    case 'running':
      return [...runningLines(state), settings].join('\n');
    case 'done': {
      const took = state.elapsedMs !== undefined ? ` in ${formatDuration(state.elapsedMs)}` : '';
      return [`${head} is done${took}.`, ...(state.delivery ? [state.delivery] : []), settings].join('\n');
    }
    case 'failed':
      return [`${head} failed: ${state.error?.trim() || 'an unknown error.'}`, settings].join('\n');
    case 'cancelled':
      return [`${head} was cancelled.`, settings].join('\n');
  }
}

function positionText(state: StatusState): string {
  if (state.position === undefined) return '';
  return ` (${describePosition(state.position, state.etaMs)})`;
}

/**
 * "position 3, ready in about 4 min" / "next in line": the status message and /queue say it alike.
 * The queue's estimate covers the jobs ahead and this job's own run, so it is when the video is
 * ready, never when it starts; an unknown estimate is left out rather than printed as "unknown".
 */
export function describePosition(position: number, etaMs: number | null | undefined): string {
  const where = position <= 1 ? 'next in line' : `position ${position}`;
  const known = etaMs !== undefined && etaMs !== null && Number.isFinite(etaMs) && etaMs >= 0;
  return known ? `${where}, ready in ${formatEta(etaMs)}` : where;
}

/** What the engine is doing, in words: "sampling section 1/2, step 3/8", "decoding section 2/2". */
export function describeStage(state: Pick<StatusState, 'stage' | 'stageDetail' | 'section' | 'sections' | 'step' | 'steps'>): string {
  const ofSections = state.section !== undefined && state.sections ? ` section ${state.section}/${state.sections}` : '';
  switch (state.stage) {
    case undefined:
    case 'starting':
      return 'starting';
    case 'loading':
      return `loading models${state.stageDetail ? ` (${state.stageDetail})` : ''}`;
    case 'encoding_text':
      return 'encoding the prompt';
    case 'encoding_image':
      return 'encoding the image';
    case 'sampling': {
      const step = state.step !== undefined && state.steps ? `, step ${state.step}/${state.steps}` : '';
      return `sampling${ofSections}${step}`;
    }
    case 'decoding':
      return `decoding${ofSections} into frames`;
    case 'writing':
      return `writing the video${ofSections ? ` (${ofSections.trim()})` : ''}`;
    case 'finishing':
    case 'done':
      return 'finishing the video';
    default:
      return state.stage.replace(/_/g, ' ');
  }
}

function runningLines(state: StatusState): string[] {
  const lines: string[] = [`Job #${state.jobSeq} is ${describeStage(state)}.`];
  if (state.resumedNote) lines.push(`${capitalize(state.resumedNote)}.`);
  const fraction = state.fraction ?? runProgress(state, 0).fraction;
  if (fraction !== undefined) lines.push(progressBar(fraction));
  const timing: string[] = [];
  if (state.elapsedMs !== undefined) timing.push(`elapsed ${formatDuration(state.elapsedMs)}`);
  if (state.etaMs !== undefined && state.etaMs !== null) timing.push(`ready in ${formatEta(state.etaMs)}`);
  if (timing.length) lines.push(capitalize(timing.join(', ')));
  if (state.sections !== undefined && state.sections > 1) lines.push(sectionOrderNote(state.options));
  return lines;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
