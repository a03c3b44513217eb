// The single-machine queue's scheduler: admission limits, fair order, the one-GPU p-queue, queue
// positions and ETAs. It knows every active job but runs nothing itself: `enqueue` hands a job to
// the GPU slot with a task the caller supplies (the runner).
import PQueue from 'p-queue';
import type { Logger } from '../log.ts';
import type { Clock } from './clock.ts';
import { compareSchedule, priorityForRound, roundForNewJob } from './fairness.ts';
import { userIdentity } from './identity.ts';
import { queueFullMessage, userLimitMessage } from './messages.ts';
import { TimingStats, estimateRemainingMs, estimateTotalMs, sectionsFor, type TimingEstimate, type TimingSample, type TimingTable } from './timing.ts';
import { QueueRefusal, type JobRecord, type Platform } from './types.ts';
import { worthRetelling } from './positions.ts';

export interface ActiveJob {
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
  /** The estimate told with it (see worthRetelling). */
  lastEtaMs?: number | null;
  /** Set by close(): the job stays 'running' in the store and resumes after the restart. */
  stopForShutdown: boolean;
  lastProgressWrite: number;
  /** Settles when the GPU task for this job has finished (whatever the outcome). */
  finished?: Promise<void>;
}

export interface Limits {
  queueMax: number;
  perUser: number;
}

export class Scheduler {
  private readonly active = new Map<string, ActiveJob>();
  private running: ActiveJob | undefined;
  /** The fairness round being served (the running job's, or the last one started). */
  private currentRound = 0;
  private timings = new TimingStats();
  private readonly gpu = new PQueue({ concurrency: 1, autoStart: false });

  constructor(
    private readonly limits: Limits,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  loadTimings(table: TimingTable): void {
    this.timings = new TimingStats(table);
  }

  /** What the queue has learned about jobs like this one (null before the first such run). */
  estimate(timingKey: string): TimingEstimate | null {
    return this.timings.estimate(timingKey);
  }

  /** A finished run's timing; returns the table to persist. */
  learn(timingKey: string, sample: TimingSample): TimingTable {
    this.timings.record(timingKey, sample);
    return this.timings.toJSON();
  }

  /** After a restart: the round to serve first (the earliest resumed job's, else the last one served). */
  resumeAt(round: number): void {
    this.currentRound = round;
  }

  get(jobId: string): ActiveJob | undefined {
    return this.active.get(jobId);
  }

  /** The job on the GPU slot, if any. */
  get current(): ActiveJob | undefined {
    return this.running;
  }

  /** Jobs waiting and running (at most one runs: one GPU). */
  counts(): { queued: number; running: number } {
    const running = this.running ? 1 : 0;
    return { queued: this.active.size - running, running };
  }

  /** The job left the GPU slot (whatever its outcome). */
  markStopped(job: ActiveJob): void {
    if (this.running === job) this.running = undefined;
  }

  track(record: JobRecord, round: number, timingKey: string, bytes: number): ActiveJob {
    const job: ActiveJob = {
      record,
      bytes,
      round,
      timingKey,
      controller: new AbortController(),
      unqueue: new AbortController(),
      lastPosition: undefined,
      stopForShutdown: false,
      lastProgressWrite: 0,
    };
    this.active.set(record.id, job);
    return job;
  }

  /** Throws the refusal users read when a limit says no; otherwise the round for the new job. */
  admit(platform: Platform, userId: string): number {
    const mine = this.activeJobsOf(platform, userId);
    if (mine.length >= this.limits.perUser) {
      throw new QueueRefusal(userLimitMessage(mine.map((j) => j.record), this.limits.perUser), 'user_limit');
    }
    if (this.active.size >= this.limits.queueMax) throw new QueueRefusal(queueFullMessage(this.limits.queueMax), 'queue_full');
    return roundForNewJob(this.currentRound, mine.map((j) => j.round));
  }

  /** Puts a job on the GPU slot in fair order; `task` runs when its turn comes. */
  enqueue(job: ActiveJob, task: () => Promise<void>): void {
    const { signal } = job.unqueue;
    const added = this.gpu.add(task, { id: job.record.id, priority: priorityForRound(job.round), signal });
    // Rejects with an AbortError when a queued job is cancelled (p-queue drops it); that is expected.
    added.catch((error: unknown) => {
      if (!signal.aborted) this.log.error({ err: error, jobId: job.record.id }, 'queue task failed');
    });
  }

  startGpu(): void {
    this.gpu.start();
  }

  /** Stops starting jobs; queued ones stay 'queued' in the store and resume on the next start. */
  stopGpu(): void {
    this.gpu.pause();
    this.gpu.clear();
  }

  markRunning(job: ActiveJob): void {
    this.running = job;
    this.currentRound = job.round;
  }

  forget(job: ActiveJob): void {
    this.active.delete(job.record.id);
    if (this.running === job) this.running = undefined;
  }

  /** Bytes of every active job, for retention. */
  activeBytes(): number {
    let total = 0;
    for (const job of this.active.values()) total += job.bytes;
    return total;
  }

  /** `userId`: the platform's id or its identity; records hold the identity (see identity.ts). */
  activeJobsOf(platform: Platform, userId: string): ActiveJob[] {
    const who = userIdentity(platform, userId);
    return [...this.active.values()]
      .filter((j) => j.record.userId === who)
      .sort((a, b) => a.record.seq - b.record.seq);
  }

  /** Active jobs in the order they will run: the running one, then the queue in (round, seq) order. */
  ordered(): ActiveJob[] {
    const waiting = [...this.active.values()].filter((j) => j !== this.running);
    waiting.sort((a, b) => compareSchedule({ round: a.round, seq: a.record.seq }, { round: b.round, seq: b.record.seq }));
    return this.running && this.active.has(this.running.record.id) ? [this.running, ...waiting] : waiting;
  }

  /** 1-based positions and ETAs (ms until the job's video is done; null while any job ahead has no data). */
  positions(): Map<string, { position: number; etaMs: number | null }> {
    const out = new Map<string, { position: number; etaMs: number | null }>();
    let total: number | null = 0;
    for (const [i, job] of this.ordered().entries()) {
      const own = this.estimateMs(job);
      total = total === null || own === null ? null : total + own;
      out.set(job.record.id, { position: i + 1, etaMs: total });
    }
    return out;
  }

  /** Waiting jobs whose position or estimate changed enough since they were last told, marked as told. */
  positionChanges(): Array<{ job: ActiveJob; position: number; etaMs: number | null }> {
    const changes: Array<{ job: ActiveJob; position: number; etaMs: number | null }> = [];
    for (const [id, { position, etaMs }] of this.positions()) {
      const job = this.active.get(id)!;
      if (job === this.running || !worthRetelling({ position: job.lastPosition, etaMs: job.lastEtaMs }, { position, etaMs })) continue;
      job.lastPosition = position;
      job.lastEtaMs = etaMs;
      changes.push({ job, position, etaMs });
    }
    return changes;
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
}
