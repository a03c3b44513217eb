// A GPU worker in scale-out mode: a BullMQ Worker (concurrency 1, one per GPU) that takes jobs from
// Redis, fetches the input image and any resume checkpoint from the artifact store, runs the engine
// (in its own process), and publishes progress and section results back through BullMQ's job
// progress events and the artifact store. It keeps no files after a job.
// Failure behaviour, all BullMQ's own mechanisms: the worker's lock is renewed while it lives; if it
// is SIGKILLed or its machine is lost, another worker's stalled-job check moves the job back to the
// queue and it resumes there from the last finished section's checkpoint. drain() (SIGTERM) lets
// the current section finish, checkpoints, and puts the job back (moveToWait + WaitingError).
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { pino } from 'pino';
import type { Engine, EngineEvent } from '../../engine/types.ts';
import { runInWorkspace, type EngineRunOutcome } from '../engine-run.ts';
import type { Logger } from '../../log.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { EngineWorkspace, MissingArtifactError } from '../artifacts/job-artifacts.ts';
import { CANCELLED_PREFIX, QUEUE_NAME, redisKeys, type GpuJobData, type GpuProgress, type GpuResult, type WireEngineEvent } from './protocol.ts';
import { storedJobOptions } from '../../options/job-options.ts';

export interface GpuWorkerOptions {
  redisUrl: string;
  /** Scratch space for the running job (input, workDir); emptied after each job. */
  dataDir: string;
  engine: Engine;
  artifacts: ArtifactStore;
  log?: Logger;
  /** Shown in BullMQ's worker list and in logs. Default `<hostname>-<pid>`. */
  name?: string;
  /** BullMQ lock duration: how long a silent worker keeps its job before another may take it. */
  lockMs?: number;
  /** How often this worker checks for stalled jobs of dead workers. Default lockMs / 2. */
  stalledIntervalMs?: number;
}

export interface GpuWorker {
  readonly name: string;
  /** Finish the current section, checkpoint, return the job to the queue, stop taking jobs. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

class DrainStop extends Error {}

export async function startGpuWorker(options: GpuWorkerOptions): Promise<GpuWorker> {
  const log = options.log ?? pino({ level: 'silent' });
  const name = options.name ?? `${os.hostname()}-${process.pid}`;
  const lockMs = options.lockMs ?? 30_000;
  const { engine, artifacts } = options;
  let draining = false;
  const drainers = new Map<string, () => void>();
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined); // commands in flight reject; the job fails with that error

  const processor = async (job: Job<GpuJobData, GpuResult>, token: string | undefined, signal: AbortSignal | undefined): Promise<GpuResult> => {
    const { id } = job.data;
    await refuseIfCancelled(redis, id);
    // Scratch space only: the Redis store keeps nothing here, so the workspace fetches into it.
    const dir = path.join(path.resolve(options.dataDir), 'jobs', id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const workspace = await openWorkspace(artifacts, job.data, dir);
      log.info({ jobId: id, seq: job.data.seq, resume: !!workspace.resuming, attempt: job.attemptsStarted }, 'gpu job start');
      // The engine stops within one step on either signal: a cancel (BullMQ's processor signal,
      // fired by worker.cancelJob) or a drain after the current section.
      const stop = new AbortController();
      const onCancel = () => stop.abort(signal?.reason);
      signal?.addEventListener('abort', onCancel, { once: true });
      const relay = new ProgressRelay(job, workspace, stop, name, log);
      drainers.set(id, () => relay.drainAfterSection());
      if (draining) relay.drainAfterSection();
      try {
        const options = storedJobOptions(job.data.options);
        const outcome = await runInWorkspace(engine, workspace, options, stop, { onEvent: relay.onEvent, settled: () => relay.settled() });
        return await settle(outcome, { job, token, redis, worker: name, log });
      } finally {
        signal?.removeEventListener('abort', onCancel);
        drainers.delete(id);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const worker = new Worker<GpuJobData, GpuResult>(QUEUE_NAME, processor, {
    connection: { url: options.redisUrl },
    name,
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: options.stalledIntervalMs ?? Math.max(500, Math.round(lockMs / 2)),
    // A job may be handed on after lost workers a few times; the checkpoint keeps the work done.
    maxStalledCount: 5,
    autorun: true,
  });
  worker.on('error', (err) => log.warn({ err }, 'bullmq worker error'));

  // Cancels reach the worker that runs the job through Redis pub/sub; BullMQ's cancelJob fires the
  // processor's AbortSignal, which stops the engine within one step.
  const subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on('error', () => undefined);
  await subscriber.subscribe(redisKeys.cancelChannel);
  subscriber.on('message', (_channel: string, message: string) => {
    const jobId = parseCancelMessage(message);
    if (jobId === undefined) {
      // Anyone who can publish on the channel could otherwise stop this worker with one bad message.
      log.warn({ message: message.slice(0, 200) }, 'ignored a malformed message on the cancel channel');
      return;
    }
    if (worker.cancelJob(jobId, 'cancelled')) log.info({ jobId }, 'cancel received; stopping the engine');
  });
  await worker.waitUntilReady();
  log.info({ name, lockMs, engine: engine.describe() }, 'gpu worker ready');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await worker.close();
    await subscriber.quit().catch(() => subscriber.disconnect());
    await redis.quit().catch(() => redis.disconnect());
  };
  return {
    name,
    async drain() {
      draining = true;
      for (const mark of drainers.values()) mark();
      await close();
    },
    close,
  };
}

/** The job id of a cancel message (`{"jobId": "…"}`), or undefined for anything else. */
export function parseCancelMessage(message: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  const jobId = (parsed as { jobId?: unknown } | null)?.jobId;
  return typeof jobId === 'string' && jobId.length > 0 && jobId.length <= 200 ? jobId : undefined;
}

/** A job cancelled while it waited is not started. */
async function refuseIfCancelled(redis: Redis, id: string): Promise<void> {
  if (await redis.exists(redisKeys.cancelled(id))) {
    throw new UnrecoverableError(`${CANCELLED_PREFIX}${(await redis.get(redisKeys.cancelled(id))) ?? 'system'}`);
  }
}

/** The job's inputs (and any checkpoint) fetched into `dir`; a missing input cannot be retried. */
async function openWorkspace(artifacts: ArtifactStore, data: GpuJobData, dir: string): Promise<EngineWorkspace> {
  const files = { jobId: data.id, imageName: data.imageName, ...(data.endImageName !== undefined && { endImageName: data.endImageName }) };
  return EngineWorkspace.open(artifacts, files, dir).catch((error: unknown) => {
    throw error instanceof MissingArtifactError ? new UnrecoverableError(error.message) : error;
  });
}

/**
 * Engine events to BullMQ progress, in order: steps with their preview, sections with the name
 * their video was stored under (the bots fetch it when they read the event). A drain stops after
 * the section that is running.
 */
class ProgressRelay {
  private n = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private drain = false;

  constructor(
    private readonly job: Job<GpuJobData, GpuResult>,
    private readonly workspace: EngineWorkspace,
    private readonly stop: AbortController,
    private readonly worker: string,
    private readonly log: Logger,
  ) {}

  drainAfterSection(): void {
    this.drain = true;
  }

  readonly onEvent = (event: EngineEvent, videoKey?: string): void => {
    if (event.type === 'step') {
      const { previewPng, ...rest } = event;
      this.publish({ ...rest, ...(previewPng && { previewPngBase64: previewPng.toString('base64') }) });
    } else if (event.type === 'section') {
      const { videoPath: _local, segmentPath: _segment, ...rest } = event;
      this.chain = this.chain.then(() => this.workspace.flush()).catch(() => undefined);
      this.publish({ ...rest, videoKey: videoKey ?? '' }); // always set: the workspace names every section it is given
      if (this.drain && event.section < event.sections) this.stop.abort(new DrainStop('drain'));
    } else if (event.type !== 'done') {
      this.publish(event);
    }
  };

  /** Resolves once everything published so far is out. */
  settled(): Promise<unknown> {
    return this.chain;
  }

  private publish(event: WireEngineEvent): void {
    const progress: GpuProgress = { n: ++this.n, worker: this.worker, event };
    this.chain = this.chain
      .then(() => this.job.updateProgress(progress as unknown as object))
      .catch((err: unknown) => this.log.warn({ err, jobId: this.job.data.id }, 'could not publish progress'));
  }
}

/** What a run becomes for BullMQ: its result, a drain (back to the queue), a cancel, or the failure itself. */
async function settle(
  outcome: EngineRunOutcome,
  c: { job: Job<GpuJobData, GpuResult>; token: string | undefined; redis: Redis; worker: string; log: Logger },
): Promise<GpuResult> {
  const id = c.job.data.id;
  if (outcome.kind === 'failed') throw outcome.error;
  if (outcome.kind === 'stopped') {
    if (outcome.reason instanceof DrainStop) {
      c.log.info({ jobId: id }, 'draining: job returned to the queue after its last finished section');
      await c.job.moveToWait(c.token);
      throw new WaitingError();
    }
    const by = (await c.redis.get(redisKeys.cancelled(id))) ?? 'system';
    throw new UnrecoverableError(`${CANCELLED_PREFIX}${by}`);
  }
  const { result, final } = outcome;
  c.log.info({ jobId: id, frames: result.frames, resumed: result.resumed }, 'gpu job done');
  return { videoKey: final.key, frames: result.frames, seconds: result.seconds, timings: result.timings, resumed: result.resumed, worker: c.worker };
}
