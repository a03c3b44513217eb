// The single-machine job queue: one GPU, many users. It composes the parts BullMQ also separates —
// the scheduler (admission, fair order, positions, ETAs: ./scheduler.ts), the runner (engine calls
// and events: ./runner.ts) and the ledger (records, index, timings, retention: ./ledger.ts) — and
// owns the lifecycle: every job is on disk and in the store before submit() resolves, and start()
// re-queues what a restart interrupted.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import PQueue from 'p-queue';
import { pino } from 'pino';
import { EngineCancelledError, type Engine } from '../engine/types.ts';
import type { Logger } from '../log.ts';
import { artifactKeys, type ArtifactStore } from './artifacts/artifact-store.ts';
import { storeJobInputs } from './artifacts/job-artifacts.ts';
import { LocalArtifactStore } from './artifacts/local.ts';
import { systemClock, type Clock } from './clock.ts';
import { compareSchedule } from './fairness.ts';
import { directoryBytes, jobDir, saveJobFiles } from './job-files.ts';
import { JobLedger } from './ledger.ts';
import { CLOSED_MESSAGE, NOT_FOUND_MESSAGE, NOT_OWNER_MESSAGE, describeFailure, finishedMessage } from './messages.ts';
import { JobRunner } from './runner.ts';
import { Scheduler, type ActiveJob } from './scheduler.ts';
import { sizeKeyOf } from './size-key.ts';
import type { JobStore } from './store.ts';
import { timingKey } from './timing.ts';
import {
  QueueRefusal,
  type CancelResult,
  type JobQueue,
  type JobRecord,
  type JobRequest,
  type Platform,
  type QueueEvent,
  type ReplyTarget,
  type SubmitResult,
} from './types.ts';
import { QueueListeners } from './listeners.ts';
import { markRunStarted, newJobRecord } from './new-job.ts';

export interface JobQueueConfig {
  dataDir: string;
  /** Most active (queued + running) jobs at once. */
  queueMax: number;
  /** Most active jobs per user. */
  perUser: number;
  /** Admin identities (`discord:123`, `telegram:456`), compared whole with the identity asking. */
  adminIds: readonly string[];
  retentionHours: number;
  retentionMb: number;
}

export interface CreateJobQueueOptions {
  engine: Engine;
  store: JobStore;
  config: JobQueueConfig;
  log?: Logger;
  /** Time source for timings and ETAs; tests pass a ManualClock. */
  clock?: Clock;
  /**
   * Where the job's files live, by key. Default: the local store on dataDir, whose keys are the
   * job's files under dataDir/jobs, so the engine works in place.
   */
  artifacts?: ArtifactStore;
  /** Least ms between progress writes on stage and step events (a finished section always writes). Default 5000. */
  progressPersistMs?: number;
}

export function createJobQueue(options: CreateJobQueueOptions): JobQueue {
  return new FairJobQueue(options);
}

type Phase = 'new' | 'starting' | 'started' | 'closed';

const snapshot = (record: JobRecord): JobRecord => structuredClone(record);

class FairJobQueue implements JobQueue {
  private readonly config: JobQueueConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly ledger: JobLedger;
  private readonly runner: JobRunner;
  private readonly artifacts: ArtifactStore;
  private readonly admissions = new PQueue({ concurrency: 1 });
  private readonly listeners: QueueListeners;
  private phase: Phase = 'new';

  constructor(options: CreateJobQueueOptions) {
    this.config = options.config;
    this.log = options.log ?? pino({ level: 'silent' });
    this.listeners = new QueueListeners(this.log);
    this.clock = options.clock ?? systemClock;
    this.scheduler = new Scheduler(this.config, this.clock, this.log);
    this.ledger = new JobLedger(options.store, this.config.dataDir, this.config, this.clock, this.log, () => this.scheduler.activeBytes());
    this.artifacts = options.artifacts ?? new LocalArtifactStore(this.config.dataDir);
    this.runner = new JobRunner(options.engine, this.artifacts, this.clock, options.progressPersistMs ?? 5_000, {
      persist: (record) => void this.ledger.putQuietly(record),
      emit: (event) => {
        this.emit(event);
        // After each finished section the waiting jobs' estimates are checked again: a slow run
        // ahead moves their "ready in", and their status should say so while they wait.
        if (event.type === 'engine' && event.event.type === 'section') this.emitPositionChanges();
      },
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`JobQueue.start() called twice (phase: ${this.phase}).`);
    this.phase = 'starting';
    const loaded = await this.ledger.load();
    this.scheduler.loadTimings(loaded.timings);
    const resumed: ActiveJob[] = [];
    for (const { record, round } of loaded.unfinished) {
      record.state = 'queued';
      record.resumes += 1;
      const key = timingKey(await sizeKeyOf(record.imagePath), record.options);
      resumed.push(this.scheduler.track(record, round, key, await directoryBytes(jobDir(this.config.dataDir, record.id))));
    }
    resumed.sort((a, b) => compareSchedule({ round: a.round, seq: a.record.seq }, { round: b.round, seq: b.record.seq }));
    this.scheduler.resumeAt(resumed[0]?.round ?? loaded.maxRound);
    for (const job of resumed) await this.ledger.put(job.record);
    await this.ledger.saveIndex();

    this.phase = 'started';
    const positions = this.scheduler.positions();
    for (const job of resumed) {
      const position = positions.get(job.record.id)!.position;
      job.lastPosition = position;
      this.log.info({ jobId: job.record.id, seq: job.record.seq, position }, 'job resumed after restart');
      this.emit({ type: 'resumed', job: snapshot(job.record), position });
    }
    for (const job of resumed) this.scheduler.enqueue(job, () => this.run(job));
    this.scheduler.startGpu();
    this.ledger.scheduleRetention();
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.scheduler.stopGpu(); // queued jobs stay 'queued' in the store and resume on the next start
    await this.admissions.onIdle();
    const running = this.scheduler.current;
    if (running) {
      running.stopForShutdown = true;
      running.controller.abort(new Error('The bot is shutting down.'));
      await running.finished;
    }
    await this.ledger.idle();
  }

  // ---- submit ----------------------------------------------------------------------------------

  async submit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    if (this.phase !== 'started') throw new Error('JobQueue.start() must finish before submit().');
    // One admission at a time: limit checks, seq numbers and enqueue order stay consistent.
    return this.admissions.add(() => this.admit(req));
  }

  async checkAdmission(platform: Platform, userId: string): Promise<void> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    this.scheduler.admit(platform, userId); // throws the refusal; its round is not kept
  }

  private async admit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    const round = this.scheduler.admit(req.platform, req.userId);
    const id = randomUUID();
    const seq = this.ledger.nextSeq;
    const size = await sizeKeyOf(req.image);
    const { imagePath, workDir, endImagePath } = await this.saveInputs(id, req);
    const record = newJobRecord(req, id, seq, { imagePath, workDir, endImagePath }, this.clock.now());
    await this.ledger.admit(record, round);

    const job = this.scheduler.track(record, round, timingKey(size, record.options), req.image.length);
    const { position, etaMs } = this.scheduler.positions().get(id)!;
    job.lastPosition = position;
    job.lastEtaMs = etaMs;
    this.log.info({ jobId: id, seq, userId: req.userId, platform: req.platform, position }, 'job queued');
    this.emit({ type: 'queued', job: snapshot(record), position, etaMs });
    this.emitPositionChanges(); // a newcomer in an earlier round moves others back
    this.scheduler.enqueue(job, () => this.run(job));
    return { job: snapshot(record), position, etaMs };
  }

  /** Stores the input (and end image) by key; the record keeps where they are on this machine. */
  private async saveInputs(id: string, req: JobRequest): Promise<{ imagePath: string; workDir: string; endImagePath?: string }> {
    const end = req.endImage ? { image: req.endImage, name: req.endImageName ?? 'end.img' } : undefined;
    const files = { jobId: id, imageName: req.imageName, ...(end && { endImageName: end.name }) };
    const { imageKey, endImageKey } = await storeJobInputs(this.artifacts, files, req.image, end?.image);
    const workDir = this.artifacts.localPath(artifactKeys.workDir(id));
    const imagePath = this.artifacts.localPath(imageKey);
    if (workDir === undefined || imagePath === undefined) {
      // A store that keeps nothing here: the bots still need the images on this machine.
      return saveJobFiles(this.config.dataDir, id, req.image, req.imageName, end);
    }
    await mkdir(workDir, { recursive: true });
    const endImagePath = endImageKey === undefined ? undefined : this.artifacts.localPath(endImageKey);
    return { imagePath, workDir, ...(endImagePath !== undefined && { endImagePath }) };
  }

  // ---- running ---------------------------------------------------------------------------------

  private async run(job: ActiveJob): Promise<void> {
    if (job.controller.signal.aborted || this.phase === 'closed') return;
    let settle!: () => void;
    job.finished = new Promise<void>((resolve) => (settle = resolve));
    this.scheduler.markRunning(job);
    const { record } = job;
    try {
      markRunStarted(record, this.clock.now(), this.scheduler.estimate(job.timingKey));
      // Not awaited: writes stay in order, and a crash before it lands still leaves the job
      // 'queued', which resumes the same way.
      void this.ledger.putQuietly(record);
      this.log.info({ jobId: record.id, seq: record.seq }, 'job started');
      this.emit({ type: 'started', job: snapshot(record) });
      this.emitPositionChanges();
      await this.settle(job);
    } finally {
      this.scheduler.markStopped(job);
      settle();
    }
  }

  /** Runs the engine through the runner and settles the job by the outcome. */
  private async settle(job: ActiveJob): Promise<void> {
    const { record } = job;
    const outcome = await this.runner.run(job);
    switch (outcome.kind) {
      case 'done':
        if (outcome.sample) {
          this.ledger.saveTimings(this.scheduler.learn(job.timingKey, outcome.sample));
        }
        await this.finish(job, 'done');
        this.emit({ type: 'done', job: snapshot(record) });
        break;
      case 'cancelled':
        if (job.stopForShutdown && record.cancelledBy === undefined) {
          // Left 'running' on purpose: the next start() resumes it from the engine's checkpoint.
          this.scheduler.forget(job);
          await this.ledger.putQuietly(record);
          this.log.info({ jobId: record.id }, 'job interrupted by shutdown; it resumes on the next start');
          return;
        }
        await this.finish(job, 'cancelled');
        this.emit({ type: 'cancelled', job: snapshot(record), by: record.cancelledBy ?? 'system' });
        break;
      case 'failed': {
        const { reason, errorId } = describeFailure(outcome.error);
        record.error = reason;
        this.log.error({ err: outcome.error, jobId: record.id, errorId }, 'job failed');
        await this.finish(job, 'failed');
        this.emit({ type: 'failed', job: snapshot(record), reason });
        break;
      }
    }
    // No position events here: the next job's start emits them, so "position 1" never flashes up
    // between one job's end and the next one's start.
  }

  /** Marks an active job finished, writes it, and keeps its size for retention. */
  private async finish(job: ActiveJob, state: 'done' | 'failed' | 'cancelled'): Promise<void> {
    const { record } = job;
    record.state = state;
    record.finishedAt = this.clock.now();
    this.scheduler.forget(job);
    await this.ledger.putQuietly(record);
    this.log.info({ jobId: record.id, seq: record.seq, state }, 'job finished');
    await this.ledger.noteFinished(record);
  }

  // ---- cancel ----------------------------------------------------------------------------------

  async cancel(jobId: string, byUserId: string): Promise<CancelResult> {
    const job = this.scheduler.get(jobId);
    if (!job) {
      const stored = await this.ledger.get(jobId);
      if (!stored) return { ok: false, reason: 'not_found', message: NOT_FOUND_MESSAGE };
      return { ok: false, reason: 'finished', message: finishedMessage(stored) };
    }
    const { record } = job;
    if (record.userId !== byUserId && !this.isAdmin(byUserId)) {
      return { ok: false, reason: 'not_owner', message: NOT_OWNER_MESSAGE };
    }
    if (record.cancelledBy !== undefined) return { ok: true, job: snapshot(record), wasRunning: record.state === 'running' };
    record.cancelledBy = byUserId;
    if (this.scheduler.current === job) {
      // The engine stops within one step; the `cancelled` event follows when it has.
      job.controller.abort(new EngineCancelledError());
      this.log.info({ jobId, by: byUserId }, 'cancelling running job');
      return { ok: true, job: snapshot(record), wasRunning: true };
    }
    job.controller.abort(new EngineCancelledError());
    job.unqueue.abort(new EngineCancelledError()); // p-queue drops the waiting task
    await this.finish(job, 'cancelled');
    this.emit({ type: 'cancelled', job: snapshot(record), by: byUserId });
    this.emitPositionChanges();
    return { ok: true, job: snapshot(record), wasRunning: false };
  }

  // ---- queries ---------------------------------------------------------------------------------

  async get(jobId: string): Promise<JobRecord | undefined> {
    const job = this.scheduler.get(jobId);
    return job ? snapshot(job.record) : this.ledger.get(jobId);
  }

  async activeForUser(platform: Platform, userId: string): Promise<JobRecord[]> {
    return this.scheduler.activeJobsOf(platform, userId).map((j) => snapshot(j.record));
  }

  position(jobId: string): { position: number; etaMs: number | null } | null {
    if (!this.scheduler.get(jobId)) return null;
    return this.scheduler.positions().get(jobId) ?? null;
  }

  stats(): { queued: number; running: number } {
    return this.scheduler.counts();
  }

  async updateReply(jobId: string, patch: ReplyTarget): Promise<void> {
    const job = this.scheduler.get(jobId);
    if (job) {
      Object.assign(job.record.reply, patch);
      await this.ledger.put(job.record);
      return;
    }
    await this.ledger.patchReply(jobId, patch);
  }

  subscribe(listener: (event: QueueEvent) => void, platform?: Platform): () => void {
    return this.listeners.subscribe(listener, platform);
  }

  isAdmin(userId: string): boolean {
    return this.config.adminIds.includes(userId);
  }

  // ---- events ----------------------------------------------------------------------------------

  private emitPositionChanges(): void {
    if (this.phase !== 'started') return;
    for (const { job, position, etaMs } of this.scheduler.positionChanges()) {
      this.emit({ type: 'position', job: snapshot(job.record), position, etaMs });
    }
  }

  private emit(event: QueueEvent): void {
    this.listeners.emit(event);
  }
}
