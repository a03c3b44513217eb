// Every sentence the queue says to users, in one place so adapters and tests read the same words.
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

/** Turns an engine error into one sentence a user can read; the details stay in the log. */
export function failureReason(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const firstLine = raw.split('\n', 1)[0]!.trim().replace(/\s+/g, ' ');
  const detail = firstLine.length > 200 ? `${firstLine.slice(0, 197)}...` : firstLine;
  const because = detail ? ` (${detail.replace(/[.!]+$/, '')})` : '';
  return `Sorry, the video could not be made${because}. Your image was kept; you can try again.`;
}

export const UNAVAILABLE_MESSAGE =
  'The job queue cannot be reached right now (its Redis server does not answer), so nothing was queued. Please try again in a minute.';
