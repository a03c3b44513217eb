// `recurvid doctor` in scale-out mode: backend, Redis reachability and the GPU workers BullMQ sees.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { doctorReport } from '../../src/cli/commands/doctor.ts';
import { loadConfig } from '../../src/config.ts';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { startGpuWorker } from '../../src/queue/bullmq/gpu-worker.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { onCleanup, runCleanups, tempDataDir } from './helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(runCleanups);

const line = (lines: Awaited<ReturnType<typeof doctorReport>>, label: string) => lines.find((l) => l.label === label);

describe('doctor, scale-out', () => {
  it('reports the backend, a reachable Redis and the workers on the queue', async () => {
    const artifacts = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 1 });
    const engine = new FakeEngine();
    const worker = await startGpuWorker({ redisUrl: redis.url, dataDir: await tempDataDir(), engine, artifacts, name: 'gpu-x' });
    onCleanup(async () => {
      await worker.close();
      await artifacts.close();
    });
    const lines = await doctorReport(loadConfig({ QUEUE_BACKEND: 'bullmq', REDIS_URL: redis.url, MODELS_DIR: await tempDataDir() }));
    expect(line(lines, 'queue backend')).toMatchObject({ ok: true, detail: expect.stringContaining('bullmq') });
    expect(line(lines, 'redis')).toMatchObject({ ok: true, detail: expect.stringMatching(/^reachable \(Redis \d/) });
    expect(line(lines, 'gpu workers')).toMatchObject({ ok: true, detail: expect.stringContaining('1 seen: gpu-x') });
  });

  it('says clearly when Redis cannot be reached or is not configured', async () => {
    const down = await doctorReport(loadConfig({ QUEUE_BACKEND: 'bullmq', REDIS_URL: 'redis://127.0.0.1:1', MODELS_DIR: await tempDataDir() }));
    expect(line(down, 'redis')).toMatchObject({ ok: false, detail: expect.stringContaining('not reachable') });
    const unset = await doctorReport(loadConfig({ QUEUE_BACKEND: 'bullmq', MODELS_DIR: await tempDataDir() }));
    expect(line(unset, 'queue backend')).toMatchObject({ ok: false, detail: expect.stringContaining('REDIS_URL is not set') });
    const embedded = await doctorReport(loadConfig({ MODELS_DIR: await tempDataDir() }));
    expect(line(embedded, 'queue backend')?.detail).toContain('embedded');
  });
});
