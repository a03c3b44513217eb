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
import { EngineCancelledError, type Engine, type EngineEvent } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { EngineWorkspace, MissingArtifactError } from '../artifacts/job-artifacts.ts';
import { CANCELLED_PREFIX, QUEUE_NAME, redisKeys, type GpuJobData, type GpuProgress, type GpuResult, type WireEngineEvent } from './protocol.ts';

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
    const { id, options: animate } = job.data;
    if (await redis.exists(redisKeys.cancelled(id))) {
      throw new UnrecoverableError(`${CANCELLED_PREFIX}${(await redis.get(redisKeys.cancelled(id))) ?? 'system'}`);
    }
    // Scratch space only: the Redis store keeps nothing here, so the workspace fetches into it.
    const dir = path.join(path.resolve(options.dataDir), 'jobs', id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const files = { jobId: id, imageName: job.data.imageName, ...(job.data.endImageName !== undefined && { endImageName: job.data.endImageName }) };
      const workspace = await EngineWorkspace.open(artifacts, files, dir).catch((error: unknown) => {
        throw error instanceof MissingArtifactError ? new UnrecoverableError(error.message) : error;
      });
      const { imagePath, endImagePath, workDir } = workspace;
      const checkpoint = workspace.resuming;
      log.info({ jobId: id, seq: job.data.seq, resume: !!checkpoint, attempt: job.attemptsStarted }, 'gpu job start');

      // The engine stops within one step on either signal: a cancel (BullMQ's processor signal,
      // fired by worker.cancelJob) or a drain after the current section.
      const stop = new AbortController();
      const onCancel = () => stop.abort(signal?.reason);
      signal?.addEventListener('abort', onCancel, { once: true });
      let drainAfterSection = false;
      drainers.set(id, () => (drainAfterSection = true));
      if (draining) drainAfterSection = true;

      let n = 0;
      let chain: Promise<unknown> = Promise.resolve();
      // A section that cannot be stored (Redis full, over the size cap) fails the job: without it
      // the bots cannot show it and no other worker could resume from its checkpoint.
      let uploadError: unknown;
      const publish = (event: WireEngineEvent) => {
        const progress: GpuProgress = { n: ++n, worker: name, event };
        chain = chain.then(() => job.updateProgress(progress as unknown as object)).catch((err: unknown) => log.warn({ err, jobId: id }, 'could not publish progress'));
      };
      const onEvent = (event: EngineEvent) => {
        if (event.type === 'step') {
          const { previewPng, ...rest } = event;
          publish({ ...rest, ...(previewPng && { previewPngBase64: previewPng.toString('base64') }) });
        } else if (event.type === 'section') {
          const { videoPath, ...rest } = event;
          const videoKey = workspace.storeSection(videoPath, (error) => {
            uploadError ??= error;
            stop.abort(error);
          });
          // The bots fetch the video when they read this, so it waits for the upload.
          chain = chain.then(() => workspace.flush()).catch(() => undefined);
          publish({ ...rest, videoKey });
          if (drainAfterSection && event.section < event.sections) stop.abort(new DrainStop('drain'));
        } else if (event.type !== 'done') {
          publish(event);
        }
      };

      try {
        const result = await engine.run({
          imagePath, workDir, options: animate, signal: stop.signal, onEvent, ...(endImagePath !== undefined && { endImagePath }),
        });
        await chain;
        if (uploadError) throw uploadError;
        const { key: videoKey } = await workspace.storeFinal(result.videoPath);
        log.info({ jobId: id, frames: result.frames, resumed: result.resumed }, 'gpu job done');
        return { videoKey, frames: result.frames, seconds: result.seconds, timings: result.timings, resumed: result.resumed, worker: name };
      } catch (error) {
        await chain.catch(() => undefined);
        await workspace.settle();
        if (uploadError) throw uploadError;
        if (stop.signal.reason instanceof DrainStop) {
          log.info({ jobId: id }, 'draining: job returned to the queue after its last finished section');
          await job.moveToWait(token);
          throw new WaitingError();
        }
        if (stop.signal.aborted || error instanceof EngineCancelledError) {
          const by = (await redis.get(redisKeys.cancelled(id))) ?? 'system';
          throw new UnrecoverableError(`${CANCELLED_PREFIX}${by}`);
        }
        throw error;
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
