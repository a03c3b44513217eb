// What `recurvid worker` runs: one GPU worker process. Its engine (model set, execution provider,
// GPU) comes from this process's own environment, and runs in its own engine process as in
// single-machine mode; the BullMQ worker in this process keeps its lock renewed meanwhile.
import os from 'node:os';
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import { ensureModelSet, plannedMemoryBudget, StartupError } from '../../startup.ts';
import { RedisArtifactStore } from '../artifacts/redis.ts';
import { framePackSpec } from '../engine-process/framepack-factory.ts';
import { startProcessEngine, type EngineSpec } from '../engine-process/process-engine.ts';
import { startGpuWorker, type GpuWorker } from './gpu-worker.ts';

export interface RunningWorker {
  worker: GpuWorker;
  /** SIGTERM: finish the current section, checkpoint, give the job back, stop. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorkerProcess(config: Config, log: Logger, options: { engineSpec?: EngineSpec } = {}): Promise<RunningWorker> {
  if (!config.REDIS_URL) throw new StartupError('`recurvid worker` needs REDIS_URL: the Redis server the bots submit jobs to.');
  const spec = options.engineSpec ?? (await framePackWorkerSpec(config, log));
  // The engine's log lines carry this worker's name as well as the job id.
  const name = config.WORKER_NAME ?? `${os.hostname()}-${process.pid}`;
  const engine = await startProcessEngine({
    spec,
    log: log.child({ worker: name }),
    logLevel: config.LOG_LEVEL,
    // On a retry after an engine crash the job resumes from this worker's local checkpoint; a lost
    // *worker* is BullMQ's business (stalled-job detection), so one local retry is enough.
    crashRetries: 1,
    ...(config.GPU_DEVICE_ID !== undefined && { env: { CUDA_VISIBLE_DEVICES: String(config.GPU_DEVICE_ID) } }),
  });
  const artifacts = new RedisArtifactStore({ redisUrl: config.REDIS_URL, ttlHours: config.ARTIFACT_TTL_HOURS, maxMb: config.ARTIFACT_MAX_MB });
  let worker: GpuWorker;
  try {
    worker = await startGpuWorker({
      redisUrl: config.REDIS_URL,
      dataDir: config.DATA_DIR,
      engine,
      artifacts,
      log,
      lockMs: config.WORKER_LOCK_MS,
      name,
    });
  } catch (error) {
    await engine.close();
    await artifacts.close();
    throw error;
  }
  log.info({ worker: worker.name, engine: engine.describe(), device: config.GPU_DEVICE_ID ?? 'default' }, 'GPU worker is taking jobs');
  const shutdown = async (how: 'drain' | 'close') => {
    await (how === 'drain' ? worker.drain() : worker.close());
    await engine.close();
    await artifacts.close();
  };
  return { worker, drain: () => shutdown('drain'), stop: () => shutdown('close') };
}

/** The FramePack engine this worker runs: its model set, provider, planned memory budget and threads. */
async function framePackWorkerSpec(config: Config, log: Logger): Promise<EngineSpec> {
  const memory = plannedMemoryBudget(config, config.EXECUTION_PROVIDER);
  log.info({ memoryBudgetGb: memory.budgetGb, from: memory.source }, 'memory plan');
  return framePackSpec({
    modelDir: await ensureModelSet(config, log),
    provider: config.EXECUTION_PROVIDER,
    memoryBudgetGb: memory.budgetGb,
    ...(config.ORT_THREADS !== undefined && { threads: config.ORT_THREADS }),
    ...(config.BUCKET_RESOLUTION !== undefined && { resolution: config.BUCKET_RESOLUTION }),
  });
}
