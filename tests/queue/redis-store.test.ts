import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { openJobStore } from '../../src/queue/store.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';
import { closeAndResume, crashAndResume } from './restart-scenarios.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(runCleanups);

// Each test gets its own logical database so records never leak between tests.
let db = 0;
const nextUrl = () => `${redis.url}/${++db}`;

describe('Redis job store (real redis-server on loopback)', () => {
  it('runs jobs and keeps records, index and timings in Redis, not in SQLite', async () => {
    const dataDir = await tempDataDir();
    const url = nextUrl();
    const store = await openJobStore({ dataDir, redisUrl: url });
    expect(store.description).toBe('redis');
    const { queue, events } = await startQueue({ dataDir, store, engine: new FakeEngine() });
    const { job } = await queue.submit(await request('u1'));
    await events.waitFor('done', job.id);
    await queue.close();

    const reopened = await openJobStore({ dataDir, redisUrl: url });
    try {
      expect(await reopened.getJob(job.id)).toMatchObject({ state: 'done', seq: 1 });
      expect((await reopened.loadIndex()).jobs.map((e) => e.id)).toEqual([job.id]);
      expect(Object.keys(await reopened.loadTimings())).toEqual(['768x512|steps=3|teacache=on']);
    } finally {
      await reopened.close();
    }
    const sqliteStore = await openJobStore({ dataDir });
    expect(await sqliteStore.getJob(job.id)).toBeUndefined();
    await sqliteStore.close();
  });

  it('after a crash, re-queues running and queued jobs in order and resumes from the checkpoint', async () => {
    const dataDir = await tempDataDir();
    const url = nextUrl();
    await crashAndResume(() => openJobStore({ dataDir, redisUrl: url }), dataDir);
  });

  it('after close(), resumes the interrupted job and never reruns finished ones', async () => {
    const dataDir = await tempDataDir();
    const url = nextUrl();
    await closeAndResume(() => openJobStore({ dataDir, redisUrl: url }), dataDir);
  });

  it('fails to open with a clear error when nothing listens at REDIS_URL', async () => {
    const dataDir = await tempDataDir();
    const dead = await startRedis();
    await dead.stop();
    await expect(openJobStore({ dataDir, redisUrl: dead.url })).rejects.toThrow(/^Could not open the job store \(redis\): /);
  });
});
