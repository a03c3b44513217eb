// Observation, as BullMQ's QueueEvents draws it: what the GPU workers do (a job starts, reports
// progress, completes, fails) comes back through Redis and becomes the same job records and queue
// events the adapters get on one machine. Section and final videos are fetched from the artifact
// store into this process's data dir, so adapters see local paths. Events of one job are handled
// one after another, in the order Redis delivered them.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EngineEvent } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Clock } from '../clock.ts';
import { describeFailure } from '../messages.ts';
import { markRunStarted } from '../new-job.ts';
import type { JobStore } from '../store.ts';
import { RunTimer, type TimingStats } from '../timing.ts';
import type { JobRecord, QueueEvent } from '../types.ts';
import { raiseRound, readActive, writeActive } from './admission.ts';
import { snapshot, type JobMirror } from './job-mirror.ts';
import { CANCELLED_PREFIX, type GpuJobData, type GpuProgress, type GpuResult } from './protocol.ts';

export interface RunObserverDeps {
  queue: Queue<GpuJobData, GpuResult>;
  redis: Redis;
  mirror: JobMirror;
  artifacts: ArtifactStore;
  store: JobStore;
  clock: Clock;
  log: Logger;
  /** The queue's learned timings (replaced when loaded, hence a getter). */
  timings(): TimingStats;
  emit(event: QueueEvent): void;
  /** Ends a job in the queue's books (shared with cancel). */
  finish(record: JobRecord, state: 'done' | 'failed' | 'cancelled'): Promise<void>;
  /** Waiting jobs' positions and estimates moved. */
  positionsChanged(): void;
}

const ended = (r: JobRecord | undefined) => !r || r.state === 'done' || r.state === 'failed' || r.state === 'cancelled';

export class RunObserver {
  private readonly timers = new Map<string, RunTimer>();
  private readonly resumedRuns = new Set<string>();
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly d: RunObserverDeps) {}

  listen(events: QueueEvents): void {
    events.on('active', ({ jobId }) => this.inOrder(jobId, () => this.onActive(jobId)));
    events.on('progress', ({ jobId, data }) => this.inOrder(jobId, () => this.onProgress(jobId, data as unknown as GpuProgress)));
    events.on('completed', ({ jobId }) => this.inOrder(jobId, () => this.onCompleted(jobId)));
    events.on('failed', ({ jobId, failedReason }) => this.inOrder(jobId, () => this.onFailed(jobId, failedReason)));
    events.on('stalled', ({ jobId }) => this.d.log.warn({ jobId }, 'job stalled (its GPU worker stopped answering); BullMQ hands it to another worker'));
  }

  /** Settles active jobs whose end this process missed (it was down when BullMQ reported it). */
  async reconcile(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const state = await this.d.queue.getJobState(id);
      if (state === 'completed') {
        await this.onCompleted(id);
      } else if (state === 'failed') {
        await this.onFailed(id, (await this.d.queue.getJob(id))?.failedReason ?? 'the GPU worker gave no reason');
      } else if (state === 'unknown') {
        // Gone from BullMQ (removed or expired) without an outcome any bot saw.
        await this.onFailed(id, 'the job disappeared from the queue');
      }
    }
  }

  /** Resolves once the events received so far are handled. */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  /** A finished job's run state goes. */
  forget(jobId: string): void {
    this.timers.delete(jobId);
    this.resumedRuns.delete(jobId);
  }

  private inOrder(jobId: string, fn: () => Promise<void>): void {
    const next = (this.chains.get(jobId) ?? Promise.resolve())
      .then(fn)
      .catch((err: unknown) => this.d.log.error({ err, jobId }, 'could not handle a job event'));
    this.chains.set(jobId, next);
    void next.then(() => {
      if (this.chains.get(jobId) === next) this.chains.delete(jobId);
    });
  }

  private async onActive(jobId: string): Promise<void> {
    const { mirror, clock } = this.d;
    const record = await mirror.record(jobId);
    if (!record || ended(record)) return;
    const job = await this.d.queue.getJob(jobId);
    const handedOn = record.state === 'running' || (job?.attemptsStarted ?? 1) > 1;
    const entry = mirror.active.get(jobId) ?? (await readActive(this.d.redis)).get(jobId);
    markRunStarted(record, clock.now(), entry ? this.d.timings().estimate(entry.timingKey) : null);
    if (handedOn) record.resumes += 1;
    this.timers.set(jobId, new RunTimer(clock.now()));
    if (handedOn) this.resumedRuns.add(jobId);
    if (entry) {
      Object.assign(entry, { state: 'running', startedAt: record.startedAt });
      mirror.active.set(jobId, entry);
      await writeActive(this.d.redis, entry);
      await raiseRound(this.d.redis, entry.round);
    }
    await mirror.persist(record);
    this.d.log.info({ jobId, seq: record.seq, worker: job?.processedBy, handedOn }, 'job started on a GPU worker');
    if (handedOn) {
      this.d.emit({ type: 'resumed', job: snapshot(record), position: 1, note: 'resumed on another GPU from its last finished section' });
    }
    this.d.emit({ type: 'started', job: snapshot(record) });
    this.d.positionsChanged();
  }

  private async onProgress(jobId: string, progress: GpuProgress): Promise<void> {
    const record = await this.d.mirror.record(jobId);
    if (record?.state !== 'running' || !progress?.event) return;
    const event = await this.localEvent(record, progress.event);
    if (!event) return;
    this.timers.get(jobId)?.observe(event, this.d.clock.now());
    const p = record.progress;
    if (event.type === 'stage') p.stage = event.stage;
    if (event.type === 'step') Object.assign(p, { section: event.section, sections: event.sections, step: event.step, steps: event.steps });
    if (event.type === 'section') {
      Object.assign(p, { section: event.section, sections: event.sections });
      await this.d.mirror.persist(record);
    }
    this.d.emit({ type: 'engine', job: snapshot(record), event });
    // Waiting jobs' estimates move with the run ahead of them: checked again after each section.
    if (event.type === 'section') this.d.positionsChanged();
  }

  /** A wire event as the engine emitted it: the preview decoded, a section's video fetched here. */
  private async localEvent(record: JobRecord, wire: GpuProgress['event']): Promise<EngineEvent | undefined> {
    if (wire.type === 'step') {
      const { previewPngBase64, ...rest } = wire;
      return { ...rest, ...(previewPngBase64 && { previewPng: Buffer.from(previewPngBase64, 'base64') }) };
    }
    if (wire.type !== 'section') return wire;
    const { videoKey, ...rest } = wire;
    // The section number names a file in the work dir: progress comes through Redis, so check it.
    if (!Number.isInteger(wire.section) || wire.section < 1 || wire.section > 10_000) {
      this.d.log.warn({ jobId: record.id, section: String(wire.section).slice(0, 40) }, 'ignored a section event with an invalid section number');
      return undefined;
    }
    const bytes = await this.d.artifacts.get(videoKey);
    if (!bytes) {
      this.d.log.warn({ jobId: record.id, videoKey }, 'section video missing from the artifact store');
      return undefined;
    }
    const videoPath = path.join(record.workDir, `section-${wire.section}.mp4`);
    await mkdir(record.workDir, { recursive: true });
    await writeFile(videoPath, bytes);
    return { ...rest, videoPath };
  }

  private async onCompleted(jobId: string): Promise<void> {
    const { mirror, log } = this.d;
    const record = await mirror.record(jobId);
    if (!record || record.state === 'done') return;
    const job = await this.d.queue.getJob(jobId);
    const result = job?.returnvalue;
    const bytes = result ? await this.d.artifacts.get(result.videoKey) : undefined;
    if (!result || !bytes) {
      const failure = describeFailure(new Error('the finished video was not found in the artifact store'));
      record.error = failure.reason;
      log.error({ jobId: record.id, errorId: failure.errorId }, 'the finished video was not found in the artifact store');
      await this.d.finish(record, 'failed');
      this.d.emit({ type: 'failed', job: snapshot(record), reason: record.error });
      return;
    }
    const videoPath = path.join(record.workDir, 'final.mp4');
    await mkdir(record.workDir, { recursive: true });
    await writeFile(videoPath, bytes);
    const sectionPaths = Array.from({ length: record.progress.sections ?? 0 }, (_, i) => path.join(record.workDir, `section-${i + 1}.mp4`));
    record.result = { videoPath, frames: result.frames, seconds: result.seconds, sectionPaths };
    record.timings = result.timings;
    record.progress.stage = 'done';
    await this.learnTiming(jobId, result.resumed);
    await this.d.finish(record, 'done');
    log.info({ jobId, seq: record.seq, worker: result.worker, frames: result.frames }, 'job done');
    this.d.emit({ type: 'done', job: snapshot(record) });
  }

  /** A run that went through from its first section teaches the queue how long such jobs take. */
  private async learnTiming(jobId: string, resumed: boolean): Promise<void> {
    const timer = this.timers.get(jobId);
    const entry = this.d.mirror.active.get(jobId);
    if (!timer || !entry || resumed || this.resumedRuns.has(jobId)) return;
    const sample = timer.finish(this.d.clock.now());
    if (!sample) return;
    const timings = this.d.timings();
    timings.record(entry.timingKey, sample);
    await this.d.store.saveTimings(timings.toJSON()).catch((err: unknown) => this.d.log.warn({ err }, 'could not save timing stats'));
  }

  private async onFailed(jobId: string, failedReason: string): Promise<void> {
    const record = await this.d.mirror.record(jobId);
    if (!record || ended(record)) return;
    if (failedReason.startsWith(CANCELLED_PREFIX)) {
      const by = record.cancelledBy ?? failedReason.slice(CANCELLED_PREFIX.length);
      await this.d.finish(record, 'cancelled');
      this.d.emit({ type: 'cancelled', job: snapshot(record), by });
      return;
    }
    const { reason, errorId } = describeFailure(new Error(failedReason));
    record.error = reason;
    await this.d.finish(record, 'failed');
    this.d.log.error({ jobId, errorId, reason: failedReason }, 'job failed on a GPU worker');
    this.d.emit({ type: 'failed', job: snapshot(record), reason });
  }
}
