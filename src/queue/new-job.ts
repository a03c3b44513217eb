// The record of a job as admitted (the request's who/where/what plus the ids and files the queue
// assigned, state 'queued') and as it starts a run. Both backends (p-queue and BullMQ) go through
// these, so a new request field or start-time fact reaches the record in one place.
import { userIdentity } from './identity.ts';
import type { JobRecord, JobRequest, TimingEstimate } from './types.ts';

export interface AdmittedFiles {
  imagePath: string;
  workDir: string;
  endImagePath?: string | undefined;
}

export function newJobRecord(req: JobRequest, id: string, seq: number, files: AdmittedFiles, createdAt: number): JobRecord {
  return {
    id,
    seq,
    platform: req.platform,
    userId: userIdentity(req.platform, req.userId),
    ...(req.userName !== undefined && { userName: req.userName }),
    reply: { ...req.reply },
    imagePath: files.imagePath,
    ...(files.endImagePath !== undefined && { endImagePath: files.endImagePath }),
    workDir: files.workDir,
    options: { ...req.options },
    ...(req.promptSource !== undefined && { promptSource: req.promptSource }),
    state: 'queued',
    progress: {},
    createdAt,
    resumes: 0,
  };
}

/**
 * A run of the job starts (first, after a restart, or on another GPU): this run's start time and a
 * fresh progress; the first start is kept for the user's elapsed time, and the measured times of
 * jobs like it (null before any) go with the record for the bots' ETAs.
 */
export function markRunStarted(record: JobRecord, now: number, estimate: TimingEstimate | null): void {
  record.state = 'running';
  record.startedAt = now;
  record.firstStartedAt ??= now;
  record.progress = {};
  if (estimate) record.estimate = estimate;
  else delete record.estimate;
}
