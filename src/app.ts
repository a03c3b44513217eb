// Wires the product together: config → engine → job store → queue → prompt helper → bots.
// Adapters only see the queue and the prompt helper; the engine only sees jobs.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Keyv } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import KeyvRedis from '@keyv/redis';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Engine } from './engine/types.ts';
import { createFramePackEngine } from './engine/framepack.ts';
import { makeTinyModelSet } from './engine/modelset/tiny.ts';
import { createJobQueue, openJobStore, type JobQueue } from './queue/index.ts';
import { promptHelperFromConfig } from './prompting/index.ts';
import { createDiscordBot } from './bots/discord/index.ts';
import { createTelegramBot } from './bots/telegram/index.ts';
import { intraOpThreads, setIntraOpThreads } from './engine/runtime/session.ts';

export class StartupError extends Error {
  override name = 'StartupError';
}

export interface RunningApp {
  engine: Engine;
  queue: JobQueue;
  stop(): Promise<void>;
}



/** The model set folder; the tiny set is built on first use, any other must exist. */
export async function ensureModelSet(config: Config, log: Logger): Promise<string> {
  const dir = resolve(config.MODELS_DIR, config.MODEL_SET);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  if (config.MODEL_SET !== 'tiny') {
    throw new StartupError(
      `Model set "${config.MODEL_SET}" was not found in ${config.MODELS_DIR}/. Download and convert it with ` +
        `\`npx recurvid models pull --out ${join(config.MODELS_DIR, config.MODEL_SET)}\`, or set MODEL_SET=tiny.`,
    );
  }
  log.info({ dir }, 'building the tiny model set (first use; seeded random weights, the video will be noise)');
  await makeTinyModelSet(dir);
  return dir;
}

/** A keyv namespace on Redis when configured, else on a SQLite file in DATA_DIR. */
export async function openKeyv(config: Config, namespace: string): Promise<Keyv> {
  if (config.REDIS_URL) return new Keyv({ store: new KeyvRedis(config.REDIS_URL), namespace });
  await mkdir(config.DATA_DIR, { recursive: true });
  const file = resolve(config.DATA_DIR, 'state.sqlite');
  return new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5_000 }), namespace });
}

export async function startApp(config: Config, log: Logger): Promise<RunningApp> {
  if (!config.DISCORD_TOKEN && !config.TELEGRAM_TOKEN) {
    throw new StartupError('Nothing to start: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (see .env.example).');
  }
  const modelDir = await ensureModelSet(config, log);
  setIntraOpThreads(config.ORT_THREADS);
  const engine = await createFramePackEngine({
    modelDir, provider: config.EXECUTION_PROVIDER, log, preload: true,
    ...(config.MEMORY_BUDGET_GB !== undefined ? { memoryBudgetGb: config.MEMORY_BUDGET_GB } : {}),
  });
  log.info(
    { engine: engine.describe(), provider: config.EXECUTION_PROVIDER, intraOpThreads: intraOpThreads(), memoryBudgetGb: config.MEMORY_BUDGET_GB ?? null },
    'engine ready',
  );

  const store = await openJobStore({ dataDir: config.DATA_DIR, redisUrl: config.REDIS_URL });
  const queue = createJobQueue({
    engine,
    store,
    log,
    config: {
      dataDir: config.DATA_DIR,
      queueMax: config.QUEUE_MAX,
      perUser: config.QUEUE_PER_USER,
      adminIds: config.ADMIN_USER_IDS,
      retentionHours: config.JOB_RETENTION_HOURS,
      retentionMb: config.JOB_RETENTION_MB,
    },
  });
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
      settingsStore: await openKeyv(config, 'telegram'),
    });
    bots.push({ name: 'telegram', start: () => telegram.start(), stop: () => telegram.stop() });
  }
  try {
    await queue.start();
    for (const b of bots) await b.start();
  } catch (err) {
    for (const b of bots) await b.stop().catch(() => undefined);
    await queue.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await engine.close().catch(() => undefined);
    throw err;
  }
  log.info({ bots: bots.map((b) => b.name) }, 'RecurVid is running');

  return {
    engine,
    queue,
    async stop() {
      for (const b of bots) await b.stop().catch((err: unknown) => log.warn({ err, bot: b.name }, 'bot stop failed'));
      await queue.close();
      await store.close();
      await engine.close();
    },
  };
}
