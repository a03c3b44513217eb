// What the bot processes and the GPU workers agree on in Redis: the BullMQ queue name, the job's
// data, the progress messages a worker publishes (BullMQ job progress → QueueEvents 'progress'),
// the job's return value, and the few keys BullMQ has no mechanism for (admission lock, fairness
// round, the active-job table that positions and per-user limits are read from, cancel requests).
import type { EngineEvent } from '../../engine/types.ts';
import type { JobOptions } from '../../options/job-options.ts';
import type { JobProgress, Platform } from '../types.ts';

export const QUEUE_NAME = 'recurvid-animate';

export const redisKeys = {
  /** Next job number users see (#seq). INCR. */
  seq: 'recurvid:seq',
  /** The fairness round being served (the highest round of a started job). */
  round: 'recurvid:round',
  /** Hash jobId → ActiveEntry JSON: every queued or running job. */
  active: 'recurvid:active',
  /** Short lock around admission (limits, seq, round and enqueue must be one step). */
  admissionLock: 'recurvid:admission-lock',
  /** Pub/sub channel: a bot asks whichever worker runs a job to stop it. */
  cancelChannel: 'recurvid:cancel',
  /** Set when a running job was cancelled, so a worker that picks it up after a stall stops too. */
  cancelled: (jobId: string) => `recurvid:cancelled:${jobId}`,
  /** Sorted set of finished job ids by finish time, for retention. */
  finished: 'recurvid:finished',
};

/** BullMQ job data: everything a worker needs, with the image in the artifact store. */
export interface GpuJobData {
  id: string;
  seq: number;
  round: number;
  imageName: string;
  /** Set when the job has an end image (in the artifact store under artifactKeys.endImage). */
  endImageName?: string;
  options: JobOptions;
}

/** One entry of the shared active-job table. */
export interface ActiveEntry {
  id: string;
  seq: number;
  round: number;
  platform: Platform;
  userId: string;
  timingKey: string;
  /** Sections and steps per section, for ETAs without loading the record. */
  sections: number;
  steps: number;
  state: 'queued' | 'running';
  startedAt?: number;
  progress?: JobProgress;
}

/** An engine event as it crosses Redis: files and previews travel as artifact keys / base64. */
export type WireEngineEvent =
  | Exclude<EngineEvent, { type: 'step' | 'section' }>
  | (Omit<Extract<EngineEvent, { type: 'step' }>, 'previewPng'> & { previewPngBase64?: string })
  | (Omit<Extract<EngineEvent, { type: 'section' }>, 'videoPath' | 'segmentPath'> & { videoKey: string });

export interface GpuProgress {
  /** Increases with every message of one run, so a late duplicate is recognisable. */
  n: number;
  worker: string;
  event: WireEngineEvent;
}

export interface GpuResult {
  videoKey: string;
  frames: number;
  seconds: number;
  timings: Record<string, number>;
  resumed: boolean;
  worker: string;
}

/** failedReason prefix of a job stopped by a cancel; the rest is the user id who cancelled. */
export const CANCELLED_PREFIX = 'recurvid:cancelled-by:';
