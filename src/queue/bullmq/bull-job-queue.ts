// The bots' side of scale-out mode: a JobQueue (the same contract the adapters use on one machine)
// that submits to BullMQ on Redis instead of running anything. It reads as BullMQ draws its lines:
// admission here (per-user limits, the queue cap, fairness rounds → BullMQ priorities, under a short
// Redis lock; admission.ts), execution in the GPU workers (gpu-worker.ts), observation in
// run-observer.ts (what the workers do, back as job records and queue events). Job records and
// timing stats live in the shared job store (keyv on Redis), this process's view of the active jobs
// in job-mirror.ts, the input image in the artifact store; old jobs go by retention-sweep.ts.
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from '../../log.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { storeJobInputs } from '../artifacts/job-artifacts.ts';
import { systemClock, type Clock } from '../clock.ts';
import { roundForNewJob } from '../fairness.ts';
import { listJobDirs, removeJobFiles, saveJobFiles } from '../job-files.ts';
import type { JobQueueConfig } from '../job-queue.ts';
import {
  CLOSED_MESSAGE,
  NOT_FOUND_MESSAGE,
  NOT_OWNER_MESSAGE,
  UNAVAILABLE_MESSAGE,
  finishedMessage,
  queueFullMessage,
  userLimitMessage,
} from '../messages.ts';
import { placeJobs, worthRetelling } from '../positions.ts';
import { sizeKeyOf } from '../size-key.ts';
import type { JobStore } from '../store.ts';
import { TimingStats, estimateRemainingMs, estimateTotalMs, sectionsFor, timingKey } from '../timing.ts';
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
import { currentRound, nextSeq, readActive, removeActive, withAdmissionLock, writeActive } from './admission.ts';
import { JobMirror, snapshot } from './job-mirror.ts';
import { QUEUE_NAME, redisKeys, type ActiveEntry, type GpuJobData, type GpuResult } from './protocol.ts';
import { sweepFinishedJobs } from './retention-sweep.ts';
import { RunObserver } from './run-observer.ts';
import { QueueListeners } from '../listeners.ts';
import { newJobRecord } from '../new-job.ts';

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
  private readonly mirror: JobMirror;
  private observer!: RunObserver;
  private readonly lastPosition = new Map<string, number>();
  /** The estimate told with the position (see worthRetelling). */
  private readonly lastEta = new Map<string, number | null>();
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
    this.mirror = new JobMirror(this.store, this.log);
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
    this.observer = new RunObserver({
      queue: this.queue, redis: this.redis, mirror: this.mirror, artifacts: this.artifacts, store: this.store, clock: this.clock, log: this.log,
      timings: () => this.timings,
      emit: (event) => this.emit(event),
      finish: (record, state) => this.finish(record, state),
      positionsChanged: () => this.emitPositionChanges(),
    });
    this.observer.listen(this.events);
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
    this.timings = new TimingStats(await this.store.loadTimings());
    await this.refresh();
    this.phase = 'started';

    // Jobs that ended while no bot listened are settled now, from BullMQ's own record of them.
    await this.observer.reconcile([...this.mirror.active.keys()]);
    // Copies here of jobs that another bot process's retention removed from the shared store.
    const local = await listJobDirs(this.config.dataDir);
    const records = await this.store.getJobs(local);
    for (const [i, id] of local.entries()) if (!records[i]) await removeJobFiles(this.config.dataDir, id);
    // A restarted bot picks its jobs up again: adapters find their status messages through `resumed`.
    const positions = this.positions();
    for (const entry of this.mirror.active.values()) {
      const record = await this.mirror.record(entry.id);
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
      await this.observer.idle();
      await this.queue.close();
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ---- submit ----------------------------------------------------------------------------------

  async submit(req: JobRequest): Promise<SubmitResult> {
    if (this.phase === 'closed') throw new QueueRefusal(CLOSED_MESSAGE, 'closed');
    if (this.phase !== 'started') throw new Error('JobQueue.start() must finish before submit().');
    const size = await sizeKeyOf(req.image);
    const { record } = await this.admit(req, size);
    const { position, etaMs } = this.positions().get(record.id) ?? { position: this.mirror.active.size, etaMs: null };
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
      this.mirror.active = await readActive(this.redis);
      await this.refuseOverLimits(platform, userId);
    } catch (error) {
      if (error instanceof QueueRefusal) throw error;
      this.log.error({ err: error, userId }, 'could not read the BullMQ queue for admission');
      throw new QueueRefusal(UNAVAILABLE_MESSAGE, 'unavailable');
    }
  }

  /** Throws the per-user or queue-full refusal for the active table as last read; else the user's entries. */
  private async refuseOverLimits(platform: Platform, userId: string): Promise<ActiveEntry[]> {
    const mine = this.mirror.entriesOf(platform, userId);
    if (mine.length >= this.config.perUser) {
      const records = await Promise.all(mine.map(async (e) => (await this.mirror.record(e.id)) ?? { seq: e.seq, state: e.state }));
      throw new QueueRefusal(userLimitMessage(records, this.config.perUser), 'user_limit');
    }
    if (this.mirror.active.size >= this.config.queueMax) throw new QueueRefusal(queueFullMessage(this.config.queueMax), 'queue_full');
    return mine;
  }

  /** Limits, job number, round, files and the BullMQ job, as one step under the admission lock. */
  private async admit(req: JobRequest, size: string): Promise<{ record: JobRecord }> {
    try {
      return await withAdmissionLock(this.redis, async () => {
        this.mirror.active = await readActive(this.redis);
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
        this.mirror.active.set(id, entry);
        this.mirror.hold(record);
        return { record };
      });
    } catch (error) {
      if (error instanceof QueueRefusal) throw error;
      // Redis down or refusing writes: the user gets a sentence, the log gets the details.
      this.log.error({ err: error, userId: req.userId }, 'could not submit the job to BullMQ');
      throw new QueueRefusal(UNAVAILABLE_MESSAGE, 'unavailable');
    }
  }

  // ---- the end of a job ------------------------------------------------------------------------

  /** Ends a job in the books, for the observer (done, failed, cancelled on a worker) and for cancel. */
  private async finish(record: JobRecord, state: 'done' | 'failed' | 'cancelled'): Promise<void> {
    record.state = state;
    record.finishedAt = this.clock.now();
    this.mirror.forget(record.id);
    this.observer.forget(record.id);
    this.lastPosition.delete(record.id);
    this.lastEta.delete(record.id);
    await removeActive(this.redis, record.id);
    await this.redis.zadd(redisKeys.finished, record.finishedAt, record.id);
    await this.mirror.persist(record);
    void this.applyRetention().catch((err: unknown) => this.log.warn({ err }, 'job cleanup failed'));
    this.emitPositionChanges();
  }

  // ---- cancel ----------------------------------------------------------------------------------

  async cancel(jobId: string, byUserId: string): Promise<CancelResult> {
    const record = await this.mirror.record(jobId);
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
    await this.mirror.persist(record);
    await this.redis.set(redisKeys.cancelled(jobId), byUserId, 'PX', 86_400_000);
    await this.redis.publish(redisKeys.cancelChannel, JSON.stringify({ jobId, by: byUserId }));
    this.log.info({ jobId, by: byUserId }, 'cancel sent to the GPU workers');
    return { ok: true, job: snapshot(record), wasRunning: true };
  }

  // ---- queries ---------------------------------------------------------------------------------

  async get(jobId: string): Promise<JobRecord | undefined> {
    const record = await this.mirror.record(jobId);
    return record ? snapshot(record) : undefined;
  }

  async activeForUser(platform: Platform, userId: string): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (const entry of this.mirror.entriesOf(platform, userId)) {
      const record = await this.mirror.record(entry.id);
      if (record) out.push(snapshot(record));
    }
    return out;
  }

  position(jobId: string): { position: number; etaMs: number | null } | null {
    if (!this.mirror.active.has(jobId)) return null;
    return this.positions().get(jobId) ?? null;
  }

  stats(): { queued: number; running: number } {
    let running = 0;
    for (const e of this.mirror.active.values()) if (e.state === 'running') running += 1;
    return { queued: this.mirror.active.size - running, running };
  }

  async updateReply(jobId: string, patch: ReplyTarget): Promise<void> {
    const record = await this.mirror.record(jobId);
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
    this.mirror.active = await readActive(this.redis);
    // Workers that hold a connection on the queue; at least one is assumed so ETAs stay meaningful.
    this.gpus = Math.max(1, (await this.queue.getWorkers()).length);
  }

  private positions(): Map<string, { position: number; etaMs: number | null }> {
    const now = this.clock.now();
    const jobs = [...this.mirror.active.values()].map((e) => {
      const est = this.timings.estimate(e.timingKey);
      const progress = this.mirror.held(e.id)?.progress ?? e.progress ?? {};
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
      const entry = this.mirror.active.get(id)!;
      const record = this.mirror.held(id);
      if (!record || entry.state === 'running') continue;
      if (!worthRetelling({ position: this.lastPosition.get(id), etaMs: this.lastEta.get(id) }, { position, etaMs })) continue;
      this.lastPosition.set(id, position);
      this.lastEta.set(id, etaMs);
      this.emit({ type: 'position', job: snapshot(record), position, etaMs });
    }
  }

  private emit(event: QueueEvent): void {
    this.listeners.emit(event);
  }

  // ---- retention -------------------------------------------------------------------------------

  private async applyRetention(): Promise<void> {
    const deps = { redis: this.redis, artifacts: this.artifacts, store: this.store, config: this.config };
    const removed = await sweepFinishedJobs(deps, this.mirror.active.keys(), this.clock.now());
    if (removed) this.log.info({ removed }, 'old finished jobs cleaned up');
  }
}
