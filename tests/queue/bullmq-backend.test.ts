// Scale-out backend against a real redis-server on loopback: the bots' BullJobQueue and GPU workers
// (BullMQ Worker + FakeEngine) talk only through Redis — job records, fairness, cancel, drain and
// hand-over from the checkpoint in the artifact store.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { artifactKeys } from '../../src/queue/artifacts/artifact-store.ts';
import { readActive, writeActive } from '../../src/queue/bullmq/admission.ts';
import { createBullJobQueue } from '../../src/queue/bullmq/bull-job-queue.ts';
import type { GpuWorker } from '../../src/queue/bullmq/gpu-worker.ts';
import { redisKeys } from '../../src/queue/bullmq/protocol.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { directoryBytes, jobDir } from '../../src/queue/job-files.ts';
import { openJobStore } from '../../src/queue/store.ts';
import { QueueRefusal } from '../../src/queue/types.ts';
import { baseConfig, onCleanup, request, runCleanups, tempDataDir, until } from './helpers.ts';
import { startBotQueue, startTestGpuWorker, useRedisServer, type BotQueueConfig } from './bullmq-harness.ts';
import { startRedis } from './redis-server.ts';

const redis = useRedisServer();
afterEach(runCleanups);

const botQueue = (over: BotQueueConfig = {}) => startBotQueue(redis.url, over);
const gpuWorker = (engine: FakeEngine, name: string, lockMs = 2_000, maxMb = 16): Promise<GpuWorker> => startTestGpuWorker(redis.url, engine, name, lockMs, maxMb);

describe('BullMQ backend', () => {
  it('a job submitted by the bots runs on a GPU worker; events, section and final videos come back as local files', async () => {
    const { queue, events } = await botQueue();
    await gpuWorker(new FakeEngine({ realTime: true, stepMs: 5 }), 'gpu-a');
    const { job } = await queue.submit(await request('u1'));
    const done = await events.waitFor('done', job.id);
    const types = events.events.filter((e) => e.job.id === job.id).map((e) => e.type);
    expect(types[0]).toBe('queued');
    expect(types).toContain('started');
    expect(types.at(-1)).toBe('done');
    const sections = events.of('engine').filter((e) => e.event.type === 'section');
    expect(sections).toHaveLength(2);
    for (const s of sections) {
      const p = s.event.type === 'section' ? s.event.videoPath : '';
      expect(p.startsWith(path.dirname(job.imagePath))).toBe(true); // this process's data dir
      expect(await readFile(p, 'utf8')).toMatch(/fake mp4: sections 1-\d of 2/);
    }
    expect(await readFile(done.job.result!.videoPath, 'utf8')).toBe('fake mp4: 2 sections\n');
    expect((await queue.get(job.id))?.state).toBe('done');
    expect(queue.stats()).toEqual({ queued: 0, running: 0 });
  });

  it('an end image travels to the worker through the artifact store', async () => {
    const { queue, events } = await botQueue();
    const seen: Array<Buffer | undefined> = [];
    class ReadingEngine extends FakeEngine {
      override async run(job: Parameters<FakeEngine['run']>[0]) {
        seen.push(job.endImagePath ? await readFile(job.endImagePath) : undefined);
        return super.run(job);
      }
    }
    await gpuWorker(new ReadingEngine({ realTime: true, stepMs: 2 }), 'gpu-a');
    const endImage = Buffer.from('end image bytes');
    const { job } = await queue.submit(await request('u1', {}, { endImage, endImageName: 'last.png' }));
    expect(job.endImagePath).toMatch(/end\.png$/);
    await events.waitFor('done', job.id);
    expect(seen).toEqual([endImage]);
  });

  it('per-user limits and fair order hold across processes: 3 users × 2 jobs start round by round', async () => {
    const { queue, events } = await botQueue({ perUser: 2 });
    const seqs: Record<string, number> = {};
    for (const user of ['a', 'b', 'c']) {
      for (const n of [1, 2]) seqs[`${user}${n}`] = (await queue.submit(await request(user))).job.seq;
    }
    await expect(queue.submit(await request('a'))).rejects.toBeInstanceOf(QueueRefusal);
    // A second bot process sees the same queue: positions come from Redis.
    const other = await botQueue({ perUser: 2 });
    await expect(other.queue.submit(await request('b'))).rejects.toThrow(/limit is 2 per person/);
    // The look before costly work reads the same shared table and says the same sentence.
    await expect(other.queue.checkAdmission('discord', 'c')).rejects.toThrow(/limit is 2 per person/);
    await expect(other.queue.checkAdmission('discord', 'd')).resolves.toBeUndefined();

    await gpuWorker(new FakeEngine({ realTime: true, stepMs: 2 }), 'gpu-a');
    for (const id of events.of('queued').map((e) => e.job.id)) await events.waitFor('done', id);
    expect(events.startedSeqs()).toEqual([seqs.a1, seqs.b1, seqs.c1, seqs.a2, seqs.b2, seqs.c2]);
  });

  it('cancel reaches a waiting job (removed from BullMQ) and a running one (the worker stops it)', async () => {
    const { queue, events } = await botQueue();
    const engine = new FakeEngine({ manual: true });
    await gpuWorker(engine, 'gpu-a');
    const running = (await queue.submit(await request('u1'))).job;
    const waiting = (await queue.submit(await request('u2'))).job;
    await engine.waitForHeld();
    await events.waitFor('started', running.id);
    // Malformed messages on the cancel channel are ignored, not fatal to the worker.
    const publisher = new Redis(redis.url);
    for (const junk of ['not json', 'null', '{"jobId":42}', '[]']) await publisher.publish(redisKeys.cancelChannel, junk);
    await publisher.quit();

    expect(await queue.cancel(waiting.id, 'discord:u2')).toMatchObject({ ok: true, wasRunning: false });
    expect((await events.waitFor('cancelled', waiting.id)).by).toBe('discord:u2');
    expect(await queue.cancel(running.id, 'discord:u1')).toMatchObject({ ok: true, wasRunning: true });
    expect((await events.waitFor('cancelled', running.id)).by).toBe('discord:u1');
    expect(engine.calls.map((c) => c.outcome)).toEqual(['cancelled']);
    expect((await queue.get(running.id))?.state).toBe('cancelled');
    expect(await queue.cancel(running.id, 'discord:u1')).toMatchObject({ ok: false, reason: 'finished' });
  });

  it('an active entry and record an older bot wrote with the bare id still count for, and belong to, their user', async () => {
    const { queue } = await botQueue();
    const job = (await queue.submit(await request('u1'))).job; // no GPU worker: it stays queued
    const client = new Redis(redis.url);
    const store = await openJobStore({ dataDir: await tempDataDir(), redisUrl: redis.url });
    onCleanup(async () => {
      await client.quit();
      await store.close();
    });
    const entries = await readActive(client);
    await writeActive(client, { ...entries.get(job.id)!, userId: 'u1' });
    await store.putJob({ ...(await store.getJob(job.id))!, userId: 'u1' });

    const other = await botQueue(); // a bot process that reads both from Redis
    await expect(other.queue.submit(await request('u1'))).rejects.toMatchObject({ code: 'user_limit' });
    expect((await other.queue.submit(await request('u1', {}, { platform: 'telegram' }))).job.userId).toBe('telegram:u1');
    expect((await other.queue.get(job.id))?.userId).toBe('discord:u1');
    expect(await other.queue.cancel(job.id, 'telegram:u1')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await other.queue.cancel(job.id, 'discord:u1')).toMatchObject({ ok: true, wasRunning: false });
  });

  it('a section the artifact store refuses fails the job with the reason, instead of a silent gap', async () => {
    const { queue, events } = await botQueue();
    await gpuWorker(new FakeEngine({ realTime: true, stepMs: 2 }), 'gpu-small', 2_000, 0.00001); // ~10 bytes
    const { job } = await queue.submit(await request('u1'));
    const failed = await events.waitFor('failed', job.id);
    expect(failed.reason).toMatch(/^Sorry, the video could not be made \(a finished section was larger than the job store accepts; fewer seconds may fit; error id E-[0-9a-f]{8}\)/);
    expect(failed.reason).not.toMatch(/jobs\//);
    expect(events.of('done')).toHaveLength(0);
  });

  it('a bot that was down while its job finished settles it on restart: done once, nothing lost', async () => {
    const first = await botQueue();
    const engine = new FakeEngine({ manual: true });
    await gpuWorker(engine, 'gpu-a');
    const { job } = await first.queue.submit(await request('u1'));
    await engine.waitForHeld();
    await first.queue.close(); // the bot goes away; the GPU worker does not
    const client = new Redis(redis.url);
    onCleanup(async () => void (await client.quit()));
    engine.releaseAll();
    await until(async () => (await client.zcard('bull:recurvid-animate:completed')) === 1, 'the worker completes the job');

    const second = await botQueue({ dataDir: first.dataDir });
    const done = await second.events.waitFor('done', job.id);
    expect(await readFile(done.job.result!.videoPath, 'utf8')).toBe('fake mp4: 2 sections\n');
    expect(second.queue.stats()).toEqual({ queued: 0, running: 0 });
    expect(second.events.of('done')).toHaveLength(1);
    // Limits are free again: the user can submit.
    await expect(second.queue.submit(await request('u1'))).resolves.toBeDefined();
  });

  it('a drained worker hands its job back after a section; another worker resumes from the checkpoint', async () => {
    const { queue, events } = await botQueue();
    const first = new FakeEngine({ realTime: true, stepMs: 30, sections: 3, steps: 3 });
    const a = await gpuWorker(first, 'gpu-a');
    const { job } = await queue.submit(await request('u1'));
    await events.waitForMatch((e) => e.type === 'engine' && e.event.type === 'step' && e.job.id === job.id);
    await a.drain(); // returns once the job is back in the queue
    expect(first.calls[0]!.outcome).toBe('cancelled'); // stopped by the drain after section 1
    const cp = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 16 });
    onCleanup(() => cp.close());
    expect(await cp.get(artifactKeys.checkpoint(job.id))).toBeDefined();

    const second = new FakeEngine({ realTime: true, stepMs: 5, sections: 3, steps: 3 });
    await gpuWorker(second, 'gpu-b');
    const done = await events.waitFor('done', job.id);
    expect(second.calls[0]!.startSection).toBe(1);
    const resumed = events.of('resumed').find((e) => e.job.id === job.id);
    expect(resumed?.note).toMatch(/another GPU/);
    expect(done.job.resumes).toBe(1);
    expect(existsSync(done.job.result!.videoPath)).toBe(true);
    expect(events.of('done').filter((e) => e.job.id === job.id)).toHaveLength(1);
  });

  it('JOB_RETENTION_MB holds in scale-out: the oldest finished job goes once artifacts and copies exceed it', async () => {
    const first = await botQueue();
    await gpuWorker(new FakeEngine({ realTime: true, stepMs: 1 }), 'gpu-r');
    const a = (await first.queue.submit(await request('u1'))).job;
    await first.events.waitFor('done', a.id);
    const probe = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 16 });
    onCleanup(() => probe.close());
    const bytesA = (await probe.jobBytes(a.id)) + (await directoryBytes(jobDir(first.dataDir, a.id)));
    expect(await probe.jobBytes(a.id)).toBeGreaterThan(0);
    // Room for one job and a half: the next finish must remove the older one, and only that.
    const second = await botQueue({ dataDir: first.dataDir, retentionMb: (bytesA * 1.5) / 1048576 });
    const b = (await second.queue.submit(await request('u2'))).job;
    await second.events.waitFor('done', b.id);
    // The record goes first, then the files here, then the artifacts.
    await until(
      async () => (await second.queue.get(a.id)) === undefined && !existsSync(jobDir(first.dataDir, a.id)) && (await probe.jobBytes(a.id)) === 0,
      'the older job, its files and its artifacts to be removed',
    );
    expect((await second.queue.get(b.id))?.state).toBe('done');
    expect(await probe.jobBytes(b.id)).toBeGreaterThan(0);
    // Another bot process (own data dir) kept a copy of the removed job: gone at its next start.
    const otherDir = await tempDataDir();
    await mkdir(jobDir(otherDir, a.id), { recursive: true });
    await writeFile(path.join(jobDir(otherDir, a.id), 'input.png'), 'copy');
    await mkdir(jobDir(otherDir, b.id), { recursive: true });
    await botQueue({ dataDir: otherDir });
    expect(existsSync(jobDir(otherDir, a.id))).toBe(false);
    expect(existsSync(jobDir(otherDir, b.id))).toBe(true);
  });
});

describe('BullMQ backend without Redis', () => {
  it('a submit while Redis is down is refused with a sentence, and nothing is left behind', async () => {
    const own = await startRedis();
    const dataDir = await tempDataDir();
    const store = await openJobStore({ dataDir, redisUrl: own.url });
    const artifacts = new RedisArtifactStore({ redisUrl: own.url, ttlHours: 1, maxMb: 16 });
    const queue = createBullJobQueue({ redisUrl: own.url, store, artifacts, config: baseConfig(dataDir) });
    await queue.start();
    await own.stop();
    const refused = await queue.submit(await request('u1')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueRefusal);
    expect(refused).toMatchObject({ code: 'unavailable', message: expect.stringContaining('cannot be reached') });
    // The bot's copy of the image is not kept for a job that was never queued.
    expect(existsSync(path.join(dataDir, 'jobs')) ? await readdir(path.join(dataDir, 'jobs')) : []).toEqual([]);
    await Promise.race([queue.close(), new Promise((r) => setTimeout(r, 3_000))]);
    await Promise.race([Promise.allSettled([store.close(), artifacts.close()]), new Promise((r) => setTimeout(r, 3_000))]);
  });
});
