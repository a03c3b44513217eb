// Every sentence the queue says to users, in one place so adapters and tests read the same words.
import { randomBytes } from 'node:crypto';
import type { JobRecord } from './types.ts';

const jobRef = (job: Pick<JobRecord, 'seq'>): string => `#${job.seq}`;

export function userLimitMessage(active: readonly Pick<JobRecord, 'seq' | 'state'>[], perUser: number): string {
  if (perUser === 1 && active.length === 1) {
    const job = active[0]!;
    const where = job.state === 'running' ? 'running' : 'in the queue';
    return `You already have a job ${where} (${jobRef(job)}). Cancel it or wait.`;
  }
  const refs = active.map(jobRef).join(', ');
  return `You already have ${active.length} jobs in the queue (${refs}); the limit is ${perUser} per person. Cancel one or wait.`;
}

export function queueFullMessage(queueMax: number): string {
  return `The queue is full (${queueMax} jobs). Please try again later.`;
}

export const CLOSED_MESSAGE = 'The bot is shutting down and is not taking new jobs. Please try again in a minute.';

export const NOT_OWNER_MESSAGE = 'Only the person who started this job (or an admin) can cancel it.';

export const NOT_FOUND_MESSAGE = "I can't find that job. It may have finished long ago and been cleaned up.";

export function finishedMessage(job: Pick<JobRecord, 'seq' | 'state'>): string {
  const how = job.state === 'done' ? 'finished' : job.state === 'failed' ? 'failed' : 'been cancelled';
  return `Job ${jobRef(job)} has already ${how}, so there is nothing to cancel.`;
}

/**
 * Kinds of failure a user can act on, recognised by their text (errors cross the engine process and
 * BullMQ as strings, so classes do not survive). Everything else is "an internal error": raw engine
 * text can hold server paths, ffmpeg stderr or provider dumps, and never goes to a chat.
 */
const KNOWN_FAILURES: ReadonlyArray<{ test: RegExp; say: string }> = [
  { test: /out of memory|\bOOM\b|failed to allocate|bad_alloc|cannot allocate memory/i, say: 'the GPU ran out of memory; fewer seconds or a smaller image may fit' },
  { test: /over the artifact store's cap|ArtifactTooLarge/i, say: 'a finished section was larger than the job store accepts; fewer seconds may fit' },
  { test: /engine process stopped unexpectedly/i, say: 'the engine process stopped unexpectedly' },
  { test: /finished video was not found/i, say: 'the finished video went missing before it could be sent' },
];

export interface FailureReport {
  /** The one sentence users see: what happened in their words, and the error id. */
  reason: string;
  /** Quoted in the sentence and logged beside the raw error, so an operator finds the detail. */
  errorId: string;
}

/** Turns an engine error into one sentence a user can read plus an id; the detail stays in the log. */
export function describeFailure(error: unknown, errorId = newErrorId()): FailureReport {
  const raw = error instanceof Error ? error.message : String(error);
  const known = KNOWN_FAILURES.find((k) => k.test.test(raw));
  const what = known ? known.say : 'an internal error';
  return { reason: `Sorry, the video could not be made (${what}; error id ${errorId}). Your image was kept; you can try again.`, errorId };
}

/** Short, unguessable enough to not collide in a log, easy to read out: "E-3f9a1c2b". */
export function newErrorId(): string {
  return `E-${randomBytes(4).toString('hex')}`;
}

export const UNAVAILABLE_MESSAGE =
  'The job queue cannot be reached right now (its Redis server does not answer), so nothing was queued. Please try again in a minute.';
