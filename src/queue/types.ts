// The queue's public contract: adapters submit requests, subscribe to events, cancel. They never
// touch the engine.
import type { EngineEvent } from '../engine/types.ts';
import type { JobOptions } from '../options/job-options.ts';

export type Platform = 'discord' | 'telegram' | 'cli';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Where and how to answer: platform-specific ids the adapter stores and reads back (all strings). */
export type ReplyTarget = Record<string, string>;

export interface JobRequest {
  platform: Platform;
  /** The platform's own user id (or its identity); the record holds the identity `platform:id` (identity.ts). */
  userId: string;
  /** Display name for logs and admin views. */
  userName?: string;
  reply: ReplyTarget;
  image: Buffer;
  /** Original file name or a safe default, used for the saved copy's extension. */
  imageName: string;
  /** Optional end image (original model only): the video ends on it. Checked like the start image. */
  endImage?: Buffer;
  endImageName?: string;
  options: JobOptions;
  /** True when the prompt was written by the prompt helper or is the default prompt. */
  promptSource?: 'user' | 'helper' | 'default';
}

export interface JobProgress {
  stage?: string;
  section?: number;
  sections?: number;
  step?: number;
  steps?: number;
}

export interface JobRecord {
  id: string;
  /** Monotonic submission number; also the short id users see (#12). */
  seq: number;
  platform: Platform;
  /** The owner's identity, `platform:id` (identity.ts): equal numeric ids on two platforms are two users. */
  userId: string;
  userName?: string;
  reply: ReplyTarget;
  imagePath: string;
  /** The saved end image, when the job has one. */
  endImagePath?: string;
  workDir: string;
  options: JobOptions;
  promptSource?: JobRequest['promptSource'];
  state: JobState;
  progress: JobProgress;
  error?: string;
  cancelledBy?: string;
  createdAt: number;
  /** When this run of the job started (reset when it is resumed after a restart or on another worker). */
  startedAt?: number;
  /** When the job first started, kept across restarts and hand-overs: the user's elapsed time counts from here. */
  firstStartedAt?: number;
  /**
   * What earlier runs with the same timing key measured, per stage (ms per step, per section's decode
   * and write, setup and finishing), set when the job starts; absent before the first such run.
   */
  estimate?: TimingEstimate;
  finishedAt?: number;
  /** Number of times the job was picked up again after a restart. */
  resumes: number;
  result?: { videoPath: string; frames: number; seconds: number; sectionPaths: string[] };
  timings?: Record<string, number>;
}

export type QueueEvent =
  | { type: 'queued'; job: JobRecord; position: number; etaMs: number | null }
  | { type: 'position'; job: JobRecord; position: number; etaMs: number | null }
  | { type: 'started'; job: JobRecord }
  /**
   * The job was picked up again: after a restart of this machine's queue, or (scale-out) by another
   * GPU worker after the one running it was lost or drained. `note` says which, for the user.
   */
  | { type: 'resumed'; job: JobRecord; position: number; note?: string }
  | { type: 'engine'; job: JobRecord; event: EngineEvent }
  | { type: 'done'; job: JobRecord }
  | { type: 'failed'; job: JobRecord; reason: string }
  | { type: 'cancelled'; job: JobRecord; by: string };

/** A refusal users should read as-is ("You already have a job in the queue (#3). Cancel it or wait."). */
export class QueueRefusal extends Error {
  constructor(
    message: string,
    /** 'unavailable': the shared queue (scale-out mode's Redis) could not be reached. */
    readonly code: 'user_limit' | 'queue_full' | 'closed' | 'unavailable',
  ) {
    super(message);
    this.name = 'QueueRefusal';
  }
}

export type CancelResult =
  | { ok: true; job: JobRecord; wasRunning: boolean }
  | { ok: false; reason: 'not_found' | 'not_owner' | 'finished'; message: string };

export interface SubmitResult {
  job: JobRecord;
  /** 1 = next to run (or running). */
  position: number;
  etaMs: number | null;
}

export interface JobQueue {
  /** Persists the job, then enqueues it. Throws QueueRefusal when a limit refuses it. */
  submit(req: JobRequest): Promise<SubmitResult>;
  /**
   * Throws the QueueRefusal submit would throw for this user right now (per-user limit, full queue,
   * closed, unreachable) and changes nothing. Adapters ask before costly work (downloads, image
   * decoding, the prompt helper); submit still checks again, as another job may land in between.
   */
  checkAdmission(platform: Platform, userId: string): Promise<void>;
  /** `byUserId`: the canceller's identity (`discord:123`); a bare id owns nothing and is no admin. */
  cancel(jobId: string, byUserId: string): Promise<CancelResult>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Active (queued or running) jobs of a user (the platform's id or the identity), oldest first. */
  activeForUser(platform: Platform, userId: string): Promise<JobRecord[]>;
  /** Position (1-based) and ETA of an active job, or null when it is not active. */
  position(jobId: string): { position: number; etaMs: number | null } | null;
  stats(): { queued: number; running: number };
  /** Updates the stored reply target (e.g. the status message id once it is known). */
  updateReply(jobId: string, patch: ReplyTarget): Promise<void>;
  /** Subscribes to events of one platform's jobs (or all). Returns an unsubscribe function. */
  subscribe(listener: (event: QueueEvent) => void, platform?: Platform): () => void;
  /** `userId`: an identity such as `telegram:456`, matched against ADMIN_USER_IDS. */
  isAdmin(userId: string): boolean;
  /** Loads persisted jobs and re-queues unfinished ones (emitting `resumed`), then starts working. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** One finished run's measured times (queue/timing.ts learns and averages them). */
export interface TimingSample {
  /** Mean sampling time per step. */
  stepMs: number;
  /** Per section, time between its last step and its section event (VAE decode + mp4 write). */
  sectionOverheadMs: number;
  /** Time outside sections: loading and encoders before the first step, finishing after the last section. */
  setupMs: number;
  /** Sections the engine actually ran (may differ from the formula for odd settings). */
  sections: number;
  at: number;
}

export type TimingEstimate = Omit<TimingSample, 'at'>;
