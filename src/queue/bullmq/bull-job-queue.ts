// The bots' side of scale-out mode: a JobQueue (the same contract the adapters use on one machine)
// that submits to BullMQ on Redis instead of running anything. Admission (per-user limits, the queue
// cap, fairness rounds → BullMQ priorities) happens under a short Redis lock; job records and timing
// stats live in the shared job store (keyv on Redis); the input image goes to the artifact store.
// BullMQ's QueueEvents bring back what the GPU workers do (active, progress, completed, failed,
// stalled); section and final videos are fetched from the artifact store into this process's data
// dir, so adapters see local paths exactly as in single-machine mode.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { EngineEvent } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { storeJobInputs } from '../artifacts/job-artifacts.ts';
import { systemClock, type Clock } from '../clock.ts';
import { roundForNewJob } from '../fairness.ts';
import { userIdentity } from '../identity.ts';
import { directoryBytes, jobDir, listJobDirs, removeJobFiles, saveJobFiles } from '../job-files.ts';
import { chooseExpired, type RetentionCandidate } from '../retention.ts';
import type { JobQueueConfig } from '../job-queue.ts';
import {
  CLOSED_MESSAGE,
  NOT_FOUND_MESSAGE,
  NOT_OWNER_MESSAGE,
  UNAVAILABLE_MESSAGE,
  describeFailure,
  finishedMessage,
  queueFullMessage,
  userLimitMessage,
} from '../messages.ts';
import { placeJobs, worthRetelling } from '../positions.ts';
import { sizeKeyOf } from '../size-key.ts';
import type { JobStore } from '../store.ts';
import { RunTimer, TimingStats, estimateRemainingMs, estimateTotalMs, sectionsFor, timingKey } from '../timing.ts';
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
} from '../types.ts';
import { currentRound, nextSeq, raiseRound, readActive, removeActive, withAdmissionLock, writeActive } from './admission.ts';
import { CANCELLED_PREFIX, QUEUE_NAME, redisKeys, type ActiveEntry, type GpuJobData, type GpuProgress, type GpuResult } from './protocol.ts';
import { QueueListeners } from '../listeners.ts';
import { markRunStarted, newJobRecord } from '../new-job.ts';

export interface BullJobQueueOptions {
  redisUrl: string;
  store: JobStore;
  artifacts: ArtifactStore;
  /** dataDir: where this bot process keeps its copy of inputs and the fetched videos. */
  config: JobQueueConfig;
  log?: Logger;
  clock?: Clock;
  /** How often the shared active-job table and the worker count are re-read. Default 2000 ms. */
  refreshMs?: number;
}

/** BullMQ's highest priority number; rounds beyond it share the lowest priority (FIFO). */
const MAX_PRIORITY = 2_097_151;
const QUEUED_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);

const snapshot = (record: JobRecord): JobRecord => structuredClone(record);

export function createBullJobQueue(options: BullJobQueueOptions): BullJobQueue {
  return new BullJobQueue(options);
}

export class BullJobQueue implements JobQueue {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly config: JobQueueConfig;
  private readonly store: JobStore;
  private readonly artifacts: ArtifactStore;
  private readonly redis: Redis;
  private queue!: Queue<GpuJobData, GpuResult>;
  private events!: QueueEvents;
  private phase: 'new' | 'started' | 'closed' = 'new';
  private readonly listeners: QueueListeners;
  /** Mirror of the shared active-job table. */
  private active = new Map<string, ActiveEntry>();
  /** Records of active jobs this process has seen, with local file paths. */
  private readonly records = new Map<string, JobRecord>();
  private readonly timers = new Map<string, RunTimer>();
  private readonly resumedRuns = new Set<string>();
  private readonly lastPosition = new Map<string, number>();
  /** The estimate told with the position (see worthRetelling). */
  private readonly lastEta = new Map<string, number | null>();
  private readonly chains = new Map<string, Promise<void>>();
  private timings = new TimingStats();
  private gpus = 1;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BullJobQueueOptions) {
    this.log = options.log ?? pino({ level: 'silent' });
    this.listeners = new QueueListeners(this.log);
    this.clock = options.clock ?? systemClock;
    this.config = options.config;
    this.store = options.store;
    this.artifacts = options.artifacts;
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
    this.redis.on('error', (err) => this.log.debug({ err }, 'redis connection error'));
  }

  /** GPU workers BullMQ currently sees on this queue. */
  get workersSeen(): number {
    return this.gpus;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`JobQueue.start() called twice (phase: ${this.phase}).`);
    const connection = { url: this.options.redisUrl };
    this.queue = new Queue<GpuJobData, GpuResult>(QUEUE_NAME, { connection });
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.queue.on('error', (err) => this.log.warn({ err }, 'bullmq queue error'));
    this.events.on('error', (err) => this.log.warn({ err }, 'bullmq events error'));
    this.events.on('active', ({ jobId }) => this.inOrder(jobId, () => this.onActive(jobId)));
    this.events.on('progress', ({ jobId, data }) => this.inOrder(jobId, () => this.onProgress(jobId, data as unknown as GpuProgress)));
    this.events.on('completed', ({ jobId }) => this.inOrder(jobId, () => this.onCompleted(jobId)));
    this.events.on('failed', ({ jobId, failedReason }) => this.inOrder(jobId, () => this.onFailed(jobId, failedReason)));
    this.events.on('stalled', ({ jobId }) => this.log.warn({ jobId }, 'job stalled (its GPU worker stopped answering); BullMQ hands it to another worker'));
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
    this.timings = new TimingStats(await this.store.loadTimings());
    await this.refresh();
    this.phase = 'started';

    // Jobs that ended while no bot listened are settled now, from BullMQ's own record of them.
    await this.reconcile();
    // Copies here of jobs that another bot process's retention removed from the shared store.
    const local = await listJobDirs(this.config.dataDir);
    const records = await this.store.getJobs(local);
    for (const [i, id] of local.entries()) if (!records[i]) await removeJobFiles(this.config.dataDir, id);
    // A restarted bot picks its jobs up again: adapters find their status messages through `resumed`.
    const positions = this.positions();
    for (const entry of this.active.values()) {
      const record = await this.record(entry.id);
      if (!record) continue;
      const position = positions.get(entry.id)?.position ?? 1;
      this.lastPosition.set(entry.id, position);
      this.emit({ type: 'resumed', job: snapshot(record), position });
    }
    this.refreshTimer = setInterval(() => {
      void this.refresh().then(() => this.emitPositionChanges(), (err: unknown) => this.log.debug({ err }, 'queue refresh failed'));
    }, this.options.refreshMs ?? 2_000);
    this.refreshTimer.unref();
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    const wasStarted = this.phase === 'started';
    this.phase = 'closed';
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (wasStarted) {
      await this.events.close();
      await Promise.all([...this.chains.values()]);
      await this.queue.close();
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Settles active jobs whose end this process missed (it was down when BullMQ reported it). */
  private async reconcile(): Promise<void> {
    for (const id of [...this.active.keys()]) {
      const state = await this.queue.getJobState(id);
      if (state === 'completed') {
        await this.onCompleted(id);
      } else if (state === 'failed') {
        await this.onFailed(id, (await this.queue.getJob(id))?.failedReason ?? 'the GPU worker gave no reason');
      } else if (state === 'unknown') {
        // Gone from BullMQ (removed or expired) without an outcome any bot saw.
        await this.onFailed(id, 'the job disappeared from the queue');
      }
    }
  }

  // ---- submit ----------------------------------------------------------------------------------

  async submit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    if (this.phase !== 'started') throw new Error('JobQueue.start() must finish before submit().');
    const size = await sizeKeyOf(req.image);
    const { record } = await this.admit(req, size);
    const { position, etaMs } = this.positions().get(record.id) ?? { position: this.active.size, etaMs: null };
    this.lastPosition.set(record.id, position);
    this.lastEta.set(record.id, etaMs);
    this.log.info({ jobId: record.id, seq: record.seq, userId: req.userId, platform: req.platform, position }, 'job queued on BullMQ');
    this.emit({ type: 'queued', job: snapshot(record), position, etaMs });
    this.emitPositionChanges();
    return { job: snapshot(record), position, etaMs };
  }

  async checkAdmission(platform: Platform, userId: string): Promise<void> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    try {
      // No lock: only a look. submit decides again under the lock.
      this.active = await readActive(this.redis);
      await this.refuseOverLimits(platform, userId);
    } catch (error) {
      if (error instanceof QueueRefusal) throw error;
      this.log.error({ err: error, userId }, 'could not read the BullMQ queue for admission');
      throw new QueueRefusal(UNAVAILABLE_MESSAGE, 'unavailable');
    }
  }

  /** Throws the per-user or queue-full refusal for the active table as last read; else the user's entries. */
  private async refuseOverLimits(platform: Platform, userId: string): Promise<ActiveEntry[]> {
    const mine = this.entriesOf(platform, userId);
    if (mine.length >= this.config.perUser) {
      const records = await Promise.all(mine.map(async (e) => (await this.record(e.id)) ?? { seq: e.seq, state: e.state }));
      throw new QueueRefusal(userLimitMessage(records, this.config.perUser), 'user_limit');
    }
    if (this.active.size >= this.config.queueMax) throw new QueueRefusal(queueFullMessage(this.config.queueMax), 'queue_full');
    return mine;
  }

  /** Limits, job number, round, files and the BullMQ job, as one step under the admission lock. */
  private async admit(req: JobRequest, size: string): Promise<{ record: JobRecord }> {
    try {
      return await withAdmissionLock(this.redis, async () => {
        this.active = await readActive(this.redis);
        const mine = await this.refuseOverLimits(req.platform, req.userId);

        const id = randomUUID();
        const seq = await nextSeq(this.redis);
        const round = roundForNewJob(await currentRound(this.redis), mine.map((e) => e.round));
        const end = req.endImage ? { image: req.endImage, name: req.endImageName ?? 'end.img' } : undefined;
        const { imagePath, workDir, endImagePath } = await saveJobFiles(this.config.dataDir, id, req.image, req.imageName, end);
        const record = newJobRecord(req, id, seq, { imagePath, workDir, endImagePath }, this.clock.now());
        const entry: ActiveEntry = {
          id, seq, round, platform: req.platform, userId: record.userId, timingKey: timingKey(size, record.options),
          sections: sectionsFor(record.options), steps: record.options.steps, state: 'queued',
        };
        try {
          await storeJobInputs(this.artifacts, { jobId: id, imageName: req.imageName, ...(end && { endImageName: end.name }) }, req.image, end?.image);
          await this.store.putJob(record);
          await writeActive(this.redis, entry);
          await this.queue.add(
            'animate',
            { id, seq, round, imageName: req.imageName, ...(end && { endImageName: end.name }), options: record.options },
            {
              jobId: id,
              priority: Math.min(MAX_PRIORITY, round + 1),
              attempts: 1,
              removeOnComplete: { age: Math.round(this.config.retentionHours * 3600) },
              removeOnFail: { age: Math.round(this.config.retentionHours * 3600) },
            },
          );
        } catch (error) {
          await removeActive(this.redis, id).catch(() => undefined);
          await this.store.deleteJob(id).catch(() => undefined);
          await this.artifacts.deleteJob(id).catch(() => undefined);
          await removeJobFiles(this.config.dataDir, id).catch(() => undefined);
          throw error;
        }
        this.active.set(id, entry);
        this.records.set(id, record);
        return { record };
      });
    } catch (error) {
      if (error instanceof QueueRefusal) throw error;
      // Redis down or refusing writes: the user gets a sentence, the log gets the details.
      this.log.error({ err: error, userId: req.userId }, 'could not submit the job to BullMQ');
      throw new QueueRefusal(UNAVAILABLE_MESSAGE, 'unavailable');
    }
  }

  // ---- events from the GPU workers -------------------------------------------------------------

  /** Events of one job are handled one after another, in the order Redis delivered them. */
  private inOrder(jobId: string, fn: () => Promise<void>): void {
    const next = (this.chains.get(jobId) ?? Promise.resolve())
      .then(fn)
      .catch((err: unknown) => this.log.error({ err, jobId }, 'could not handle a job event'));
    this.chains.set(jobId, next);
    void next.then(() => {
      if (this.chains.get(jobId) === next) this.chains.delete(jobId);
    });
  }

  private async onActive(jobId: string): Promise<void> {
    const record = await this.record(jobId);
    if (!record || record.state === 'done' || record.state === 'failed' || record.state === 'cancelled') return;
    const job = await this.queue.getJob(jobId);
    const handedOn = record.state === 'running' || (job?.attemptsStarted ?? 1) > 1;
    const entry = this.active.get(jobId) ?? (await readActive(this.redis)).get(jobId);
    markRunStarted(record, this.clock.now(), entry ? this.timings.estimate(entry.timingKey) : null);
    if (handedOn) record.resumes += 1;
    this.timers.set(jobId, new RunTimer(this.clock.now()));
    if (handedOn) this.resumedRuns.add(jobId);
    if (entry) {
      Object.assign(entry, { state: 'running', startedAt: record.startedAt });
      this.active.set(jobId, entry);
      await writeActive(this.redis, entry);
      await raiseRound(this.redis, entry.round);
    }
    await this.persist(record);
    this.log.info({ jobId, seq: record.seq, worker: job?.processedBy, handedOn }, 'job started on a GPU worker');
    if (handedOn) {
      this.emit({ type: 'resumed', job: snapshot(record), position: 1, note: 'resumed on another GPU from its last finished section' });
    }
    this.emit({ type: 'started', job: snapshot(record) });
    this.emitPositionChanges();
  }

  private async onProgress(jobId: string, progress: GpuProgress): Promise<void> {
    const record = await this.record(jobId);
    if (record?.state !== 'running' || !progress?.event) return;
    const wire = progress.event;
    let event: EngineEvent;
    if (wire.type === 'step') {
      const { previewPngBase64, ...rest } = wire;
      event = { ...rest, ...(previewPngBase64 && { previewPng: Buffer.from(previewPngBase64, 'base64') }) };
    } else if (wire.type === 'section') {
      const { videoKey, ...rest } = wire;
      // The section number names a file in the work dir: progress comes through Redis, so check it.
      if (!Number.isInteger(wire.section) || wire.section < 1 || wire.section > 10_000) {
        this.log.warn({ jobId, section: String(wire.section).slice(0, 40) }, 'ignored a section event with an invalid section number');
        return;
      }
      const bytes = await this.artifacts.get(videoKey);
      if (!bytes) {
        this.log.warn({ jobId, videoKey }, 'section video missing from the artifact store');
        return;
      }
      const videoPath = path.join(record.workDir, `section-${wire.section}.mp4`);
      await mkdir(record.workDir, { recursive: true });
      await writeFile(videoPath, bytes);
      event = { ...rest, videoPath };
    } else {
      event = wire;
    }
    this.timers.get(jobId)?.observe(event, this.clock.now());
    const p = record.progress;
    if (event.type === 'stage') p.stage = event.stage;
    if (event.type === 'step') Object.assign(p, { section: event.section, sections: event.sections, step: event.step, steps: event.steps });
    if (event.type === 'section') {
      Object.assign(p, { section: event.section, sections: event.sections });
      await this.persist(record);
    }
    this.emit({ type: 'engine', job: snapshot(record), event });
    // Waiting jobs' estimates move with the run ahead of them: checked again after each section.
    if (event.type === 'section') this.emitPositionChanges();
  }

  private async onCompleted(jobId: string): Promise<void> {
    const record = await this.record(jobId);
    if (!record || record.state === 'done') return;
    const job = await this.queue.getJob(jobId);
    const result = job?.returnvalue;
    const bytes = result ? await this.artifacts.get(result.videoKey) : undefined;
    if (!result || !bytes) {
      const failure = describeFailure(new Error('the finished video was not found in the artifact store'));
      record.error = failure.reason;
      this.log.error({ jobId: record.id, errorId: failure.errorId }, 'the finished video was not found in the artifact store');
      await this.finish(record, 'failed');
      this.emit({ type: 'failed', job: snapshot(record), reason: record.error });
      return;
    }
    const videoPath = path.join(record.workDir, 'final.mp4');
    await mkdir(record.workDir, { recursive: true });
    await writeFile(videoPath, bytes);
    const sectionPaths = Array.from({ length: record.progress.sections ?? 0 }, (_, i) => path.join(record.workDir, `section-${i + 1}.mp4`));
    record.result = { videoPath, frames: result.frames, seconds: result.seconds, sectionPaths };
    record.timings = result.timings;
    record.progress.stage = 'done';
    const timer = this.timers.get(jobId);
    const entry = this.active.get(jobId);
    if (timer && entry && !result.resumed && !this.resumedRuns.has(jobId)) {
      const sample = timer.finish(this.clock.now());
      if (sample) {
        this.timings.record(entry.timingKey, sample);
        await this.store.saveTimings(this.timings.toJSON()).catch((err: unknown) => this.log.warn({ err }, 'could not save timing stats'));
      }
    }
    await this.finish(record, 'done');
    this.log.info({ jobId, seq: record.seq, worker: result.worker, frames: result.frames }, 'job done');
    this.emit({ type: 'done', job: snapshot(record) });
  }

  private async onFailed(jobId: string, failedReason: string): Promise<void> {
    const record = await this.record(jobId);
    if (!record || record.state === 'done' || record.state === 'failed' || record.state === 'cancelled') return;
    if (failedReason.startsWith(CANCELLED_PREFIX)) {
      const by = record.cancelledBy ?? failedReason.slice(CANCELLED_PREFIX.length);
      await this.finish(record, 'cancelled');
      this.emit({ type: 'cancelled', job: snapshot(record), by });
      return;
    }
    const { reason, errorId } = describeFailure(new Error(failedReason));
    record.error = reason;
    await this.finish(record, 'failed');
    this.log.error({ jobId, errorId, reason: failedReason }, 'job failed on a GPU worker');
    this.emit({ type: 'failed', job: snapshot(record), reason });
  }

  private async finish(record: JobRecord, state: 'done' | 'failed' | 'cancelled'): Promise<void> {
    record.state = state;
    record.finishedAt = this.clock.now();
    this.active.delete(record.id);
    this.records.delete(record.id);
    this.timers.delete(record.id);
    this.resumedRuns.delete(record.id);
    this.lastPosition.delete(record.id);
    this.lastEta.delete(record.id);
    await removeActive(this.redis, record.id);
    await this.redis.zadd(redisKeys.finished, record.finishedAt, record.id);
    await this.persist(record);
    void this.applyRetention().catch((err: unknown) => this.log.warn({ err }, 'job cleanup failed'));
    this.emitPositionChanges();
  }

  // ---- cancel ----------------------------------------------------------------------------------

  async cancel(jobId: string, byUserId: string): Promise<CancelResult> {
    const record = await this.record(jobId);
    if (!record) return { ok: false, reason: 'not_found', message: NOT_FOUND_MESSAGE };
    if (record.state === 'done' || record.state === 'failed' || record.state === 'cancelled') {
      return { ok: false, reason: 'finished', message: finishedMessage(record) };
    }
    if (record.userId !== byUserId && !this.isAdmin(byUserId)) return { ok: false, reason: 'not_owner', message: NOT_OWNER_MESSAGE };
    if (record.cancelledBy !== undefined) return { ok: true, job: snapshot(record), wasRunning: record.state === 'running' };
    record.cancelledBy = byUserId;
    // A waiting job is simply removed from BullMQ (remove() refuses a job a worker has locked).
    const state = await this.queue.getJobState(jobId);
    if (QUEUED_STATES.has(state) && (await this.queue.remove(jobId)) === 1) {
      await this.finish(record, 'cancelled');
      this.emit({ type: 'cancelled', job: snapshot(record), by: byUserId });
      return { ok: true, job: snapshot(record), wasRunning: false };
    }
    // Running somewhere: the flag survives a stall hand-over; the message reaches the worker now.
    await this.persist(record);
    await this.redis.set(redisKeys.cancelled(jobId), byUserId, 'PX', 86_400_000);
    await this.redis.publish(redisKeys.cancelChannel, JSON.stringify({ jobId, by: byUserId }));
    this.log.info({ jobId, by: byUserId }, 'cancel sent to the GPU workers');
    return { ok: true, job: snapshot(record), wasRunning: true };
  }

  // ---- queries ---------------------------------------------------------------------------------

  async get(jobId: string): Promise<JobRecord | undefined> {
    const record = await this.record(jobId);
    return record ? snapshot(record) : undefined;
  }

  async activeForUser(platform: Platform, userId: string): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (const entry of this.entriesOf(platform, userId)) {
      const record = await this.record(entry.id);
      if (record) out.push(snapshot(record));
    }
    return out;
  }

  position(jobId: string): { position: number; etaMs: number | null } | null {
    if (!this.active.has(jobId)) return null;
    return this.positions().get(jobId) ?? null;
  }

  stats(): { queued: number; running: number } {
    let running = 0;
    for (const e of this.active.values()) if (e.state === 'running') running += 1;
    return { queued: this.active.size - running, running };
  }

  async updateReply(jobId: string, patch: ReplyTarget): Promise<void> {
    const record = await this.record(jobId);
    if (!record) throw new Error(`updateReply: no job ${jobId}.`);
    Object.assign(record.reply, patch);
    await this.store.putJob(record);
  }

  subscribe(listener: (event: QueueEvent) => void, platform?: Platform): () => void {
    return this.listeners.subscribe(listener, platform);
  }

  isAdmin(userId: string): boolean {
    return this.config.adminIds.includes(userId);
  }

  // ---- positions -------------------------------------------------------------------------------

  private async refresh(): Promise<void> {
    this.active = await readActive(this.redis);
    // Workers that hold a connection on the queue; at least one is assumed so ETAs stay meaningful.
    this.gpus = Math.max(1, (await this.queue.getWorkers()).length);
  }

  private positions(): Map<string, { position: number; etaMs: number | null }> {
    const now = this.clock.now();
    const jobs = [...this.active.values()].map((e) => {
      const est = this.timings.estimate(e.timingKey);
      const progress = this.records.get(e.id)?.progress ?? e.progress ?? {};
      let estimateMs: number | null = null;
      if (est) {
        estimateMs = e.state === 'running' && e.startedAt !== undefined
          ? estimateRemainingMs(est, e.sections, e.steps, progress, now - e.startedAt)
          : estimateTotalMs(est, e.sections, e.steps);
      }
      return { id: e.id, round: e.round, seq: e.seq, running: e.state === 'running', estimateMs };
    });
    return placeJobs(jobs, this.gpus);
  }

  private emitPositionChanges(): void {
    if (this.phase !== 'started') return;
    for (const [id, { position, etaMs }] of this.positions()) {
      const entry = this.active.get(id)!;
      const record = this.records.get(id);
      if (!record || entry.state === 'running') continue;
      if (!worthRetelling({ position: this.lastPosition.get(id), etaMs: this.lastEta.get(id) }, { position, etaMs })) continue;
      this.lastPosition.set(id, position);
      this.lastEta.set(id, etaMs);
      this.emit({ type: 'position', job: snapshot(record), position, etaMs });
    }
  }

  /** Entries written before identities were scoped hold the bare id, so both sides are scoped here. */
  private entriesOf(platform: Platform, userId: string): ActiveEntry[] {
    const who = userIdentity(platform, userId);
    return [...this.active.values()].filter((e) => userIdentity(e.platform, e.userId) === who).sort((a, b) => a.seq - b.seq);
  }

  // ---- records ---------------------------------------------------------------------------------

  private async record(jobId: string): Promise<JobRecord | undefined> {
    const cached = this.records.get(jobId);
    if (cached) return cached;
    const stored = await this.store.getJob(jobId);
    if (stored && (stored.state === 'queued' || stored.state === 'running')) this.records.set(jobId, stored);
    return stored;
  }

  private async persist(record: JobRecord): Promise<void> {
    try {
      await this.store.putJob(snapshot(record));
    } catch (err) {
      this.log.error({ err, jobId: record.id }, 'could not save job record');
    }
  }

  private emit(event: QueueEvent): void {
    this.listeners.emit(event);
  }

  // ---- retention -------------------------------------------------------------------------------

  /**
   * The shared retention policy (./retention.ts), applied to what the jobs hold in Redis plus this
   * process's copies: finished jobs older than JOB_RETENTION_HOURS, then the oldest finished ones
   * until all of them (running and queued jobs count, but stay) fit JOB_RETENTION_MB. They lose
   * their record, their files here and their artifacts. BullMQ's own job hashes go by age
   * (removeOnComplete/removeOnFail); they hold no files, so their size does not matter here.
   */
  private async applyRetention(): Promise<void> {
    const scored = await this.redis.zrange(redisKeys.finished, '0', '-1', 'WITHSCORES');
    const bytesOf = async (id: string) => (await this.artifacts.jobBytes(id)) + (await directoryBytes(jobDir(this.config.dataDir, id)));
    const candidates: RetentionCandidate[] = [];
    for (let i = 0; i < scored.length; i += 2) {
      const id = scored[i]!;
      candidates.push({ id, finishedAt: Number(scored[i + 1]), bytes: await bytesOf(id) });
    }
    let activeBytes = 0;
    for (const id of this.active.keys()) activeBytes += await this.artifacts.jobBytes(id);
    const expired = chooseExpired(candidates, activeBytes, this.config, this.clock.now());
    for (const id of expired) {
      // Out of the finished set first: a sweep in another bot process skips what this one removes.
      if ((await this.redis.zrem(redisKeys.finished, id)) === 0) continue;
      await this.store.deleteJob(id);
      await removeJobFiles(this.config.dataDir, id);
      await this.artifacts.deleteJob(id);
    }
    if (expired.length) this.log.info({ removed: expired.length }, 'old finished jobs cleaned up');
  }
}
