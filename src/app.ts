// Wires the product together: config → engine worker process → job store → queue → prompt helper →
// bots. Adapters only see the queue and the prompt helper; the engine only sees jobs.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Keyv } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import KeyvRedis from '@keyv/redis';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Engine } from './engine/types.ts';
import { framePackSpec } from './queue/engine-process/framepack-factory.ts';
import { startProcessEngine, type EngineSpec } from './queue/engine-process/process-engine.ts';
import { RedisArtifactStore } from './queue/artifacts/redis.ts';
import type { ArtifactStore } from './queue/artifacts/artifact-store.ts';
import { createBullJobQueue } from './queue/bullmq/bull-job-queue.ts';
import { readManifest } from './engine/modelset/manifest.ts';
import type { ModelVariant } from './options/job-options.ts';
import { createJobQueue, openJobStore, type JobQueue, type JobStore } from './queue/index.ts';
import { ignoreClientErrors } from './queue/store.ts';
import { promptHelperFromConfig } from './prompting/index.ts';
import { createDiscordBot } from './bots/discord/index.ts';
import { createTelegramBot } from './bots/telegram/index.ts';
import { ensureModelSet, plannedMemoryBudget, StartupError } from './startup.ts';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';

export { ensureModelSet, StartupError } from './startup.ts';

export interface RunningApp {
  /** The engine (in its worker process) in single-machine mode; undefined in scale-out mode. */
  engine: Engine | undefined;
  queue: JobQueue;
  stop(): Promise<void>;
}


/** A keyv namespace on Redis when configured, else on a SQLite file in DATA_DIR. */
export async function openKeyv(config: Config, namespace: string): Promise<Keyv> {
  if (config.REDIS_URL) {
    const adapter = new KeyvRedis(config.REDIS_URL);
    ignoreClientErrors(adapter); // a Redis outage must not kill the bots
    return new Keyv({ store: adapter, namespace });
  }
  await mkdir(config.DATA_DIR, { recursive: true });
  const file = resolve(config.DATA_DIR, 'state.sqlite');
  return new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5_000 }), namespace });
}

export interface StartAppOptions {
  /** Which engine the worker process builds; default the FramePack engine over MODEL_SET. Tests pass a slow one. */
  engineSpec?: EngineSpec;
}

export async function startApp(config: Config, log: Logger, options: StartAppOptions = {}): Promise<RunningApp> {
  if (!config.DISCORD_TOKEN && !config.TELEGRAM_TOKEN) {
    throw new StartupError('Nothing to start: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (see .env.example).');
  }
  // Before anything reads or writes DATA_DIR: a second process on the same folder refuses here.
  const lock = await acquireDataDirLock(config.DATA_DIR);
  try {
    return await startLocked(config, log, options, lock);
  } catch (err) {
    await lock.release().catch(() => undefined);
    throw err;
  }
}

async function startLocked(config: Config, log: Logger, options: StartAppOptions, lock: DataDirLock): Promise<RunningApp> {
  let engine: Engine | undefined;
  let queue: JobQueue;
  let store: JobStore;
  let artifacts: ArtifactStore | undefined;
  // The bots offer `model` choices the set can run (F1 only when its transformer was converted).
  // In scale-out mode the bots have no model set of their own: they offer what a local copy of the
  // workers' set says, else the original model only.
  let models: ModelVariant[] = ['original'];
  const queueConfig = {
    dataDir: config.DATA_DIR,
    queueMax: config.QUEUE_MAX,
    perUser: config.QUEUE_PER_USER,
    adminIds: config.ADMIN_USER_IDS,
    retentionHours: config.JOB_RETENTION_HOURS,
    retentionMb: config.JOB_RETENTION_MB,
  };
  if (config.QUEUE_BACKEND === 'bullmq') {
    // Scale-out: this process only runs the bots; `recurvid worker` processes run the jobs.
    if (!config.REDIS_URL) throw new StartupError('QUEUE_BACKEND=bullmq needs REDIS_URL (the Redis server the GPU workers use).');
    store = await openJobStore({ dataDir: config.DATA_DIR, redisUrl: config.REDIS_URL });
    artifacts = new RedisArtifactStore({ redisUrl: config.REDIS_URL, ttlHours: config.ARTIFACT_TTL_HOURS, maxMb: config.ARTIFACT_MAX_MB });
    queue = createBullJobQueue({ redisUrl: config.REDIS_URL, store, artifacts, config: queueConfig, log });
    const localSet = resolve(config.MODELS_DIR, config.MODEL_SET);
    if (existsSync(join(localSet, 'manifest.json')) && (await readManifest(localSet)).components.transformer_f1) models = ['original', 'f1'];
    log.info({ backend: 'bullmq' }, 'jobs go to BullMQ on Redis; GPU workers run them');
  } else {
    const modelDir = await ensureModelSet(config, log);
    const memory = plannedMemoryBudget(config, config.EXECUTION_PROVIDER);
    log.info({ memoryBudgetGb: memory.budgetGb, from: memory.source }, 'memory plan');
    // The engine lives in its own process: onnxruntime blocks the thread it runs on for seconds at a
    // time, and this process must keep answering Discord and Telegram.
    const processEngine = await startProcessEngine({
      spec: options.engineSpec ?? framePackSpec({
        modelDir,
        provider: config.EXECUTION_PROVIDER,
        memoryBudgetGb: memory.budgetGb,
        ...(config.ORT_THREADS !== undefined && { threads: config.ORT_THREADS }),
        ...(config.BUCKET_RESOLUTION !== undefined && { resolution: config.BUCKET_RESOLUTION }),
      }),
      log,
      logLevel: config.LOG_LEVEL,
      ...(config.GPU_DEVICE_ID !== undefined && { env: { CUDA_VISIBLE_DEVICES: String(config.GPU_DEVICE_ID) } }),
    });
    engine = processEngine;
    if ((await readManifest(modelDir)).components.transformer_f1) models = ['original', 'f1'];
    log.info({ engine: engine.describe(), provider: config.EXECUTION_PROVIDER, memoryBudgetGb: memory.budgetGb, pid: processEngine.pid }, 'engine worker process ready');
    store = await openJobStore({ dataDir: config.DATA_DIR, redisUrl: config.REDIS_URL });
    queue = createJobQueue({ engine, store, log, config: queueConfig });
  }
  const closeAll = async () => {
    await queue.close();
    await store.close();
    await artifacts?.close();
    await engine?.close();
  };
  const promptHelper = promptHelperFromConfig(config, { cache: await openKeyv(config, 'prompt-cache'), log });
  log.info({ promptHelper: promptHelper.configured ? config.PROMPT_HELPER_MODEL : 'not configured (default prompt)' }, 'prompt helper');

  // Adapters subscribe to queue events when created, so they see the `resumed` events that
  // queue.start() emits for jobs interrupted by a restart; they start listening for new requests
  // only once the queue has reloaded its jobs.
  const bots: Array<{ name: string; start(): Promise<void>; stop(): Promise<void> }> = [];
  if (config.DISCORD_TOKEN) {
    const discord = createDiscordBot({
      token: config.DISCORD_TOKEN,
      queue,
      promptHelper,
      config,
      log,
      models,
      ...(config.DISCORD_API_BASE ? { clientOptions: { restApi: config.DISCORD_API_BASE } } : {}),
    });
    bots.push({ name: 'discord', start: () => discord.start(), stop: () => discord.stop() });
  }
  if (config.TELEGRAM_TOKEN) {
    const telegram = createTelegramBot({
      token: config.TELEGRAM_TOKEN,
      queue,
      promptHelper,
      config,
      log,
      models,
      settingsStore: await openKeyv(config, 'telegram'),
    });
    bots.push({ name: 'telegram', start: () => telegram.start(), stop: () => telegram.stop() });
  }
  try {
    await queue.start();
    for (const b of bots) await b.start();
  } catch (err) {
    for (const b of bots) await b.stop().catch(() => undefined);
    await closeAll().catch(() => undefined);
    throw err;
  }
  log.info({ bots: bots.map((b) => b.name), backend: config.QUEUE_BACKEND }, 'RecurVid is running');

  return {
    engine,
    queue,
    async stop() {
      for (const b of bots) await b.stop().catch((err: unknown) => log.warn({ err, bot: b.name }, 'bot stop failed'));
      await closeAll();
      await lock.release();
    },
  };
}
