// The scale-out backend's moving parts for tests: a bots-side BullJobQueue and GPU workers (BullMQ
// Worker + FakeEngine) on one redis-server, each closed after the test.
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { Redis } from 'ioredis';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { createBullJobQueue, type BullJobQueue } from '../../src/queue/bullmq/bull-job-queue.ts';
import { startGpuWorker, type GpuWorker } from '../../src/queue/bullmq/gpu-worker.ts';
import { openJobStore } from '../../src/queue/store.ts';
import type { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { baseConfig, EventLog, onCleanup, tempDataDir } from './helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

/** One redis-server for the test file, emptied before each test; read `.url` inside tests. */
export function useRedisServer(): { readonly url: string } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    const client = new Redis(server!.url);
    await client.flushall();
    await client.quit();
  });
  return {
    get url() {
      return server!.url;
    },
  };
}

export type BotQueueConfig = Partial<ReturnType<typeof baseConfig>>;

export async function startBotQueue(redisUrl: string, over: BotQueueConfig = {}): Promise<{ queue: BullJobQueue; events: EventLog; dataDir: string }> {
  const dataDir = over.dataDir ?? (await tempDataDir());
  const store = await openJobStore({ dataDir, redisUrl });
  const artifacts = new RedisArtifactStore({ redisUrl, ttlHours: 1, maxMb: 16 });
  const queue = createBullJobQueue({ redisUrl, store, artifacts, config: baseConfig(dataDir, over), refreshMs: 200 });
  const events = new EventLog(queue);
  onCleanup(async () => {
    await queue.close();
    await store.close();
    await artifacts.close();
  });
  await queue.start();
  return { queue, events, dataDir };
}

export async function startTestGpuWorker(redisUrl: string, engine: FakeEngine, name: string, lockMs = 2_000, maxMb = 16): Promise<GpuWorker> {
  const dataDir = await tempDataDir();
  const artifacts = new RedisArtifactStore({ redisUrl, ttlHours: 1, maxMb });
  const worker = await startGpuWorker({ redisUrl, dataDir, engine, artifacts, name, lockMs, stalledIntervalMs: 500 });
  onCleanup(async () => {
    await engine.close();
    await worker.close();
    await artifacts.close();
  });
  return worker;
}
