// The record of a job as admitted: the request's who/where/what plus the ids and files the queue
// assigned, state 'queued'. Both backends (p-queue and BullMQ) admit through it, so a new request
// field reaches the record in one place.
import { userIdentity } from './identity.ts';
import type { JobRecord, JobRequest } from './types.ts';

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
