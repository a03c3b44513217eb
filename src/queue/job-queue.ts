// The scheduler: one GPU, many users. p-queue (concurrency 1) runs the jobs in fair order (priority
// = −round, FIFO within a round); every job is on disk and in the store before submit() resolves;
// start() re-queues what a restart interrupted. A second single-slot p-queue serialises all store
// writes, so the index and records are written in the order the changes happened.
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { pino } from 'pino';
import { EngineCancelledError, type Engine, type EngineEvent } from '../engine/types.ts';
import type { Logger } from '../log.ts';
import { systemClock, type Clock } from './clock.ts';
import { compareSchedule, priorityForRound, roundForNewJob } from './fairness.ts';
import { directoryBytes, jobDir, listJobDirs, removeJobFiles, saveJobFiles } from './job-files.ts';
import {
  CLOSED_MESSAGE,
  NOT_FOUND_MESSAGE,
  NOT_OWNER_MESSAGE,
  failureReason,
  finishedMessage,
  queueFullMessage,
  userLimitMessage,
} from './messages.ts';
import { chooseExpired } from './retention.ts';
import { sizeKeyOf } from './size-key.ts';
import type { JobIndex, JobStore } from './store.ts';
import {
  RunTimer,
  TimingStats,
  estimateRemainingMs,
  estimateTotalMs,
  sectionsFor,
  timingKey,
} from './timing.ts';
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

export interface JobQueueConfig {
  dataDir: string;
  /** Most active (queued + running) jobs at once. */
  queueMax: number;
  /** Most active jobs per user. */
  perUser: number;
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
  /** Least ms between progress writes on stage and step events (a finished section always writes). Default 5000. */
  progressPersistMs?: number;
}

export function createJobQueue(options: CreateJobQueueOptions): JobQueue {
  return new FairJobQueue(options);
}

interface ActiveJob {
  record: JobRecord;
  /** Bytes on disk when it was queued (the input image), for retention's total. */
  bytes: number;
  round: number;
  timingKey: string;
  /** Stops the engine run (cancel, shutdown). */
  controller: AbortController;
  /**
   * Drops the job from p-queue while it waits. Separate from `controller` on purpose: p-queue rejects
   * a *running* task when its signal aborts and frees the slot at once, which would start the next
   * job on the GPU while the cancelled one is still unwinding.
   */
  unqueue: AbortController;
  /** Last position told to listeners, so `position` events fire only on change. */
  lastPosition: number | undefined;
  /** Set by close(): the job stays 'running' in the store and resumes after the restart. */
  stopForShutdown: boolean;
  lastProgressWrite: number;
  /** Settles when the GPU task for this job has finished (whatever the outcome). */
  finished?: Promise<void>;
}

type Phase = 'new' | 'starting' | 'started' | 'closed';

const snapshot = (record: JobRecord): JobRecord => structuredClone(record);

class FairJobQueue implements JobQueue {
  private readonly engine: Engine;
  private readonly store: JobStore;
  private readonly config: JobQueueConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly progressPersistMs: number;

  private readonly gpu = new PQueue({ concurrency: 1, autoStart: false });
  private readonly writes = new PQueue({ concurrency: 1 });
  private readonly admissions = new PQueue({ concurrency: 1 });
  private readonly listeners = new Set<{ fn: (event: QueueEvent) => void; platform: Platform | undefined }>();
  private readonly active = new Map<string, ActiveJob>();
  /** Bytes and finish time of finished jobs still on disk, for retention. */
  private readonly finished = new Map<string, { finishedAt: number; bytes: number }>();

  private phase: Phase = 'new';
  private index: JobIndex = { version: 1, nextSeq: 1, jobs: [] };
  private timings = new TimingStats();
  private running: ActiveJob | undefined;
  /** The fairness round being served (the running job's, or the last one started). */
  private currentRound = 0;
  private retentionPending = false;

  constructor(options: CreateJobQueueOptions) {
    this.engine = options.engine;
    this.store = options.store;
    this.config = options.config;
    this.log = options.log ?? pino({ level: 'silent' });
    this.clock = options.clock ?? systemClock;
    this.progressPersistMs = options.progressPersistMs ?? 5_000;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`JobQueue.start() called twice (phase: ${this.phase}).`);
    this.phase = 'starting';
    this.index = await this.store.loadIndex();
    this.timings = new TimingStats(await this.store.loadTimings());
    const records = await this.store.getJobs(this.index.jobs.map((e) => e.id));

    const resumed: ActiveJob[] = [];
    const known = new Set<string>();
    const kept: JobIndex['jobs'] = [];
    for (const [i, entry] of this.index.jobs.entries()) {
      const record = records[i];
      if (!record) {
        this.log.warn({ jobId: entry.id }, 'job listed in the index has no record; dropping it from the index');
        continue;
      }
      kept.push(entry);
      known.add(entry.id);
      if (record.state === 'queued' || record.state === 'running') {
        record.state = 'queued';
        record.resumes += 1;
        const key = timingKey(await sizeKeyOf(record.imagePath), record.options);
        resumed.push(this.track(record, entry.round, key, await directoryBytes(jobDir(this.config.dataDir, record.id))));
      } else {
        const bytes = await directoryBytes(jobDir(this.config.dataDir, record.id));
        this.finished.set(record.id, { finishedAt: record.finishedAt ?? record.createdAt, bytes });
      }
    }
    this.index.jobs = kept;
    resumed.sort((a, b) => compareSchedule(this.sched(a), this.sched(b)));
    this.currentRound = resumed[0]?.round ?? Math.max(0, ...kept.map((e) => e.round));

    // Leftovers of a submit that crashed before its index write: nobody was told "queued".
    for (const dir of await listJobDirs(this.config.dataDir)) {
      if (!known.has(dir)) await removeJobFiles(this.config.dataDir, dir);
    }
    for (const job of resumed) await this.persist(job.record);
    await this.persistIndex();

    this.phase = 'started';
    const positions = this.positions();
    for (const job of resumed) {
      const position = positions.get(job.record.id)!.position;
      job.lastPosition = position;
      this.log.info({ jobId: job.record.id, seq: job.record.seq, position }, 'job resumed after restart');
      this.emit({ type: 'resumed', job: snapshot(job.record), position });
    }
    for (const job of resumed) this.enqueue(job);
    this.gpu.start();
    this.scheduleRetention();
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.gpu.pause();
    this.gpu.clear(); // queued jobs stay 'queued' in the store and resume on the next start
    await this.admissions.onIdle();
    const running = this.running;
    if (running) {
      running.stopForShutdown = true;
      running.controller.abort(new Error('The bot is shutting down.'));
      await running.finished;
    }
    await this.writes.onIdle();
  }

  // ---- submit ----------------------------------------------------------------------------------

  async submit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    if (this.phase !== 'started') throw new Error('JobQueue.start() must finish before submit().');
    // One admission at a time: limit checks, seq numbers and enqueue order stay consistent.
    return this.admissions.add(() => this.admit(req));
  }

  private async admit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    const mine = this.activeJobsOf(req.platform, req.userId);
    if (mine.length >= this.config.perUser) {
      throw new QueueRefusal(userLimitMessage(mine.map((j) => j.record), this.config.perUser), 'user_limit');
    }
    if (this.active.size >= this.config.queueMax) {
      throw new QueueRefusal(queueFullMessage(this.config.queueMax), 'queue_full');
    }

    const id = randomUUID();
    const seq = this.index.nextSeq;
    const size = await sizeKeyOf(req.image);
    const { imagePath, workDir, endImagePath } = await saveJobFiles(
      this.config.dataDir, id, req.image, req.imageName, req.endImage ? { image: req.endImage, name: req.endImageName ?? 'end.img' } : undefined,
    );
    const record: JobRecord = {
      id,
      seq,
      platform: req.platform,
      userId: req.userId,
      ...(req.userName !== undefined && { userName: req.userName }),
      reply: { ...req.reply },
      imagePath,
      ...(endImagePath !== undefined && { endImagePath }),
      workDir,
      options: { ...req.options },
      ...(req.promptSource !== undefined && { promptSource: req.promptSource }),
      state: 'queued',
      progress: {},
      createdAt: this.clock.now(),
      resumes: 0,
    };
    const round = roundForNewJob(this.currentRound, mine.map((j) => j.round));
    try {
      await this.persist(record);
      this.index.nextSeq = seq + 1;
      this.index.jobs.push({ id, round });
      await this.persistIndex();
    } catch (error) {
      this.index.jobs = this.index.jobs.filter((e) => e.id !== id);
      await removeJobFiles(this.config.dataDir, id).catch(() => undefined);
      throw error;
    }

    const job = this.track(record, round, timingKey(size, record.options), req.image.length);
    const { position, etaMs } = this.positions().get(id)!;
    job.lastPosition = position;
    this.log.info({ jobId: id, seq, userId: req.userId, platform: req.platform, position }, 'job queued');
    this.emit({ type: 'queued', job: snapshot(record), position, etaMs });
    this.emitPositionChanges(); // a newcomer in an earlier round moves others back
    this.enqueue(job);
    return { job: snapshot(record), position, etaMs };
  }

  private track(record: JobRecord, round: number, key: string, bytes: number): ActiveJob {
    const job: ActiveJob = {
      record,
      bytes,
      round,
      timingKey: key,
      controller: new AbortController(),
      unqueue: new AbortController(),
      lastPosition: undefined,
      stopForShutdown: false,
      lastProgressWrite: 0,
    };
    this.active.set(record.id, job);
    return job;
  }

  private enqueue(job: ActiveJob): void {
    const { signal } = job.unqueue;
    const task = this.gpu.add(() => this.run(job), { id: job.record.id, priority: priorityForRound(job.round), signal });
    // Rejects with an AbortError when a queued job is cancelled (p-queue drops it); that is expected.
    task.catch((error: unknown) => {
      if (!signal.aborted) this.log.error({ err: error, jobId: job.record.id }, 'queue task failed');
    });
  }

  // ---- running ---------------------------------------------------------------------------------

  private async run(job: ActiveJob): Promise<void> {
    if (job.controller.signal.aborted || this.phase === 'closed') return;
    let settle!: () => void;
    job.finished = new Promise<void>((resolve) => (settle = resolve));
    this.running = job;
    this.currentRound = job.round;
    const { record } = job;
    try {
      record.state = 'running';
      record.startedAt = this.clock.now();
      record.progress = {};
      // Not awaited: writes stay in order, and a crash before it lands still leaves the job
      // 'queued', which resumes the same way.
      void this.persistQuietly(record);
      this.log.info({ jobId: record.id, seq: record.seq }, 'job started');
      this.emit({ type: 'started', job: snapshot(record) });
      this.emitPositionChanges();
      await this.execute(job);
    } finally {
      if (this.running === job) this.running = undefined;
      settle();
    }
  }

  private async execute(job: ActiveJob): Promise<void> {
    const { record, controller } = job;
    const timer = new RunTimer(this.clock.now());
    const sectionPaths: string[] = [];
    let settled = false;
    try {
      const result = await this.engine.run({
        imagePath: record.imagePath,
        ...(record.endImagePath !== undefined && { endImagePath: record.endImagePath }),
        options: record.options,
        workDir: record.workDir,
        signal: controller.signal,
        onEvent: (event) => {
          if (!settled) this.onEngineEvent(job, event, timer, sectionPaths);
        },
      });
      settled = true;
      if (!result.resumed) this.recordTiming(job, timer);
      record.result = { videoPath: result.videoPath, frames: result.frames, seconds: result.seconds, sectionPaths };
      record.timings = result.timings;
      record.progress.stage = 'done';
      await this.finish(job, 'done');
      this.emit({ type: 'done', job: snapshot(record) });
    } catch (error) {
      settled = true;
      const cancelled = controller.signal.aborted || error instanceof EngineCancelledError;
      if (cancelled && job.stopForShutdown && record.cancelledBy === undefined) {
        // Left 'running' on purpose: the next start() resumes it from the engine's checkpoint.
        this.active.delete(record.id);
        await this.persistQuietly(record);
        this.log.info({ jobId: record.id }, 'job interrupted by shutdown; it resumes on the next start');
        return;
      }
      if (cancelled) {
        const by = record.cancelledBy ?? 'system';
        await this.finish(job, 'cancelled');
        this.emit({ type: 'cancelled', job: snapshot(record), by });
        return;
      }
      const reason = failureReason(error);
      record.error = reason;
      this.log.error({ err: error, jobId: record.id }, 'job failed');
      await this.finish(job, 'failed');
      this.emit({ type: 'failed', job: snapshot(record), reason });
    }
    // No position events here: the next job's start emits them, so "position 1" never flashes up
    // between one job's end and the next one's start.
  }

  private onEngineEvent(job: ActiveJob, event: EngineEvent, timer: RunTimer, sectionPaths: string[]): void {
    const at = this.clock.now();
    timer.observe(event, at);
    const { progress } = job.record;
    let persistNow = false;
    switch (event.type) {
      case 'stage':
        progress.stage = event.stage;
        persistNow = at - job.lastProgressWrite >= this.progressPersistMs;
        break;
      case 'step':
        Object.assign(progress, { section: event.section, sections: event.sections, step: event.step, steps: event.steps });
        persistNow = at - job.lastProgressWrite >= this.progressPersistMs;
        break;
      case 'section':
        sectionPaths.push(event.videoPath);
        Object.assign(progress, { section: event.section, sections: event.sections });
        persistNow = true;
        break;
      case 'done':
        progress.stage = 'done';
        break;
    }
    if (persistNow) {
      job.lastProgressWrite = at;
      void this.persistQuietly(job.record);
    }
    this.emit({ type: 'engine', job: snapshot(job.record), event });
  }

  private recordTiming(job: ActiveJob, timer: RunTimer): void {
    const sample = timer.finish(this.clock.now());
    if (!sample) return;
    this.timings.record(job.timingKey, sample);
    const table = this.timings.toJSON();
    this.writes.add(() => this.store.saveTimings(table)).catch((error: unknown) => {
      this.log.warn({ err: error }, 'could not save timing stats');
    });
  }

  /** Marks an active job finished, writes it, and keeps its size for retention. */
  private async finish(job: ActiveJob, state: 'done' | 'failed' | 'cancelled'): Promise<void> {
    const { record } = job;
    record.state = state;
    record.finishedAt = this.clock.now();
    this.active.delete(record.id);
    if (this.running === job) this.running = undefined;
    await this.persistQuietly(record);
    this.log.info({ jobId: record.id, seq: record.seq, state }, 'job finished');
    const bytes = await directoryBytes(jobDir(this.config.dataDir, record.id));
    this.finished.set(record.id, { finishedAt: record.finishedAt, bytes });
    this.scheduleRetention();
  }

  // ---- cancel ----------------------------------------------------------------------------------

  async cancel(jobId: string, byUserId: string): Promise<CancelResult> {
    const job = this.active.get(jobId);
    if (!job) {
      const stored = await this.store.getJob(jobId);
      if (!stored) return { ok: false, reason: 'not_found', message: NOT_FOUND_MESSAGE };
      return { ok: false, reason: 'finished', message: finishedMessage(stored) };
    }
    const { record } = job;
    if (record.userId !== byUserId && !this.isAdmin(byUserId)) {
      return { ok: false, reason: 'not_owner', message: NOT_OWNER_MESSAGE };
    }
    if (record.cancelledBy !== undefined) return { ok: true, job: snapshot(record), wasRunning: record.state === 'running' };
    record.cancelledBy = byUserId;
    if (this.running === job) {
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
    const job = this.active.get(jobId);
    return job ? snapshot(job.record) : this.store.getJob(jobId);
  }

  async activeForUser(platform: Platform, userId: string): Promise<JobRecord[]> {
    return this.activeJobsOf(platform, userId).map((j) => snapshot(j.record));
  }

  position(jobId: string): { position: number; etaMs: number | null } | null {
    if (!this.active.has(jobId)) return null;
    return this.positions().get(jobId) ?? null;
  }

  stats(): { queued: number; running: number } {
    const running = this.running ? 1 : 0;
    return { queued: this.active.size - running, running };
  }

  async updateReply(jobId: string, patch: ReplyTarget): Promise<void> {
    const job = this.active.get(jobId);
    if (job) {
      Object.assign(job.record.reply, patch);
      await this.persist(job.record);
      return;
    }
    await this.writes.add(async () => {
      const stored = await this.store.getJob(jobId);
      if (!stored) throw new Error(`updateReply: no job ${jobId}.`);
      Object.assign(stored.reply, patch);
      await this.store.putJob(stored);
    });
  }

  subscribe(listener: (event: QueueEvent) => void, platform?: Platform): () => void {
    const entry = { fn: listener, platform };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  isAdmin(userId: string): boolean {
    return this.config.adminIds.includes(userId);
  }

  // ---- order, positions, ETAs ------------------------------------------------------------------

  private sched(job: ActiveJob): { round: number; seq: number } {
    return { round: job.round, seq: job.record.seq };
  }

  /** Active jobs in the order they will run: the running one, then the queue in (round, seq) order. */
  private ordered(): ActiveJob[] {
    const waiting = [...this.active.values()].filter((j) => j !== this.running);
    waiting.sort((a, b) => compareSchedule(this.sched(a), this.sched(b)));
    return this.running && this.active.has(this.running.record.id) ? [this.running, ...waiting] : waiting;
  }

  /** 1-based positions and ETAs (ms until the job's video is done; null while any job ahead has no data). */
  private positions(): Map<string, { position: number; etaMs: number | null }> {
    const out = new Map<string, { position: number; etaMs: number | null }>();
    let total: number | null = 0;
    for (const [i, job] of this.ordered().entries()) {
      const own = this.estimateMs(job);
      total = total === null || own === null ? null : total + own;
      out.set(job.record.id, { position: i + 1, etaMs: total });
    }
    return out;
  }

  private estimateMs(job: ActiveJob): number | null {
    const est = this.timings.estimate(job.timingKey);
    if (!est) return null;
    const { options, progress, startedAt } = job.record;
    const sections = sectionsFor(options);
    if (job === this.running && startedAt !== undefined) {
      return estimateRemainingMs(est, sections, options.steps, progress, this.clock.now() - startedAt);
    }
    return estimateTotalMs(est, sections, options.steps);
  }

  private emitPositionChanges(): void {
    if (this.phase !== 'started') return;
    for (const [id, { position, etaMs }] of this.positions()) {
      const job = this.active.get(id)!;
      if (job === this.running || job.lastPosition === position) continue;
      job.lastPosition = position;
      this.emit({ type: 'position', job: snapshot(job.record), position, etaMs });
    }
  }

  private activeJobsOf(platform: Platform, userId: string): ActiveJob[] {
    return [...this.active.values()]
      .filter((j) => j.record.platform === platform && j.record.userId === userId)
      .sort((a, b) => a.record.seq - b.record.seq);
  }

  // ---- events and persistence ------------------------------------------------------------------

  private emit(event: QueueEvent): void {
    for (const { fn, platform } of this.listeners) {
      if (platform !== undefined && platform !== event.job.platform) continue;
      try {
        fn(event);
      } catch (error) {
        // A broken listener must not stop the GPU queue.
        this.log.error({ err: error, event: event.type }, 'queue listener threw');
      }
    }
  }

  private persist(record: JobRecord): Promise<void> {
    const copy = snapshot(record);
    return this.writes.add(() => this.store.putJob(copy));
  }

  /** For writes after admission: a store hiccup is logged, and the GPU work and events go on. */
  private async persistQuietly(record: JobRecord): Promise<void> {
    try {
      await this.persist(record);
    } catch (error) {
      this.log.error({ err: error, jobId: record.id }, 'could not save job record');
    }
  }

  private persistIndex(): Promise<void> {
    const copy = structuredClone(this.index);
    return this.writes.add(() => this.store.saveIndex(copy));
  }

  // ---- retention -------------------------------------------------------------------------------

  private scheduleRetention(): void {
    if (this.retentionPending) return;
    this.retentionPending = true;
    this.writes
      .add(async () => {
        this.retentionPending = false;
        await this.applyRetention();
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'job cleanup failed'));
  }

  /** Runs inside the write queue, so it talks to the store directly. */
  private async applyRetention(): Promise<void> {
    // Cached sizes: walking every queued job's directory after each finish would cost O(queue) I/O.
    let activeBytes = 0;
    for (const job of this.active.values()) activeBytes += job.bytes;
    const candidates = [...this.finished].map(([id, f]) => ({ id, ...f }));
    const doomed = chooseExpired(candidates, activeBytes, this.config, this.clock.now());
    if (doomed.length === 0) return;
    const gone = new Set(doomed);
    // Index first: a crash part-way leaves orphan files (removed at the next start), never a dangling entry.
    this.index.jobs = this.index.jobs.filter((e) => !gone.has(e.id));
    await this.store.saveIndex(structuredClone(this.index));
    for (const id of doomed) {
      this.finished.delete(id);
      await this.store.deleteJob(id);
      await removeJobFiles(this.config.dataDir, id);
    }
    this.log.info({ removed: doomed.length }, 'old finished jobs cleaned up');
  }
}
