// The queue contract, run against both backends: the embedded queue (one machine, p-queue) and
// BullMQ (the bots' queue and a GPU worker talking only through Redis) must admit, refuse, order,
// place and cancel alike. A behaviour one backend has and the other lacks fails here.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobQueue } from '../../src/queue/types.ts';
import { QueueRefusal } from '../../src/queue/types.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { startBotQueue, startTestGpuWorker, useRedisServer, type BotQueueConfig } from './bullmq-harness.ts';
import { type EventLog, request, runCleanups, startQueue, tempDataDir, until } from './helpers.ts';

interface Started {
  queue: JobQueue;
  events: EventLog;
  /** Stops this queue (the bots' process) and starts it again on the same data; jobs keep running where they run. */
  restart(): Promise<Omit<Started, 'restart'>>;
}

interface Backend {
  name: string;
  /** A started queue whose jobs run on `engine`. */
  start(engine: FakeEngine, config?: BotQueueConfig): Promise<Started>;
}

const redis = useRedisServer();
afterEach(runCleanups);

const backends: Backend[] = [
  {
    name: 'embedded',
    start: async (engine, config = {}) => {
      const dataDir = await tempDataDir();
      const first = await startQueue({ dataDir, engine, config });
      return {
        ...first,
        // One machine: the engine stops with the process; the next start runs the jobs again.
        restart: async () => {
          await engine.close();
          await first.queue.close();
          return startQueue({ dataDir, engine: new FakeEngine(), config });
        },
      };
    },
  },
  {
    name: 'bullmq',
    start: async (engine, config = {}) => {
      const bots = await startBotQueue(redis.url, config);
      await startTestGpuWorker(redis.url, engine, 'gpu-contract');
      return {
        ...bots,
        // Scale-out: the GPU worker goes on; a new bots' process picks the jobs up from Redis.
        restart: async () => {
          await bots.queue.close();
          const again = await startBotQueue(redis.url, { ...config, dataDir: bots.dataDir });
          engine.releaseAll();
          return again;
        },
      };
    },
  },
];

describe.each(backends)('the queue contract ($name)', (backend) => {
  it('refuses past the per-user limit with one code and sentence, and checkAdmission says it before any work', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await backend.start(engine, { perUser: 2 });
    await queue.submit(await request('u1'));
    await queue.submit(await request('u1'));
    await expect(queue.checkAdmission('discord', 'u1')).rejects.toMatchObject({ code: 'user_limit', message: expect.stringMatching(/limit is 2 per person/) });
    const refused = await queue.submit(await request('u1')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueRefusal);
    expect(refused).toMatchObject({ code: 'user_limit' });
    // Equal ids on another platform are another person.
    await expect(queue.checkAdmission('telegram', 'u1')).resolves.toBeUndefined();
    engine.releaseAll();
  });

  it('starts jobs round by round between users: 3 users × 2 jobs', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await backend.start(engine, { perUser: 2 });
    const seqs: Record<string, number> = {};
    for (const user of ['a', 'b', 'c']) for (const n of [1, 2]) seqs[`${user}${n}`] = (await queue.submit(await request(user))).job.seq;
    engine.releaseAll();
    for (const id of events.of('queued').map((e) => e.job.id)) await events.waitFor('done', id);
    expect(events.startedSeqs()).toEqual([seqs.a1, seqs.b1, seqs.c1, seqs.a2, seqs.b2, seqs.c2]);
  });

  it('places a new job behind the running one, and moves it up when the job ahead is cancelled', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await backend.start(engine, { perUser: 3 });
    const running = await queue.submit(await request('u1'));
    await engine.waitForHeld();
    await events.waitFor('started', running.job.id);
    const second = await queue.submit(await request('u2'));
    const third = await queue.submit(await request('u3'));
    expect([second.position, third.position]).toEqual([2, 3]);
    expect(queue.position(third.job.id)?.position).toBe(3);
    await queue.cancel(second.job.id, 'discord:u2');
    const moved = await events.waitForMatch((e) => e.type === 'position' && e.job.id === third.job.id && e.position === 2);
    expect(moved).toMatchObject({ position: 2 });
    engine.releaseAll();
    await events.waitFor('done', third.job.id);
  });

  it('cancel: only the owner or an admin; a waiting job goes at once, a running one stops within a step', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await backend.start(engine, { perUser: 3 });
    const running = await queue.submit(await request('u1'));
    await engine.waitForHeld();
    await events.waitFor('started', running.job.id);
    const waiting = await queue.submit(await request('u2'));

    expect(await queue.cancel(waiting.job.id, 'discord:u1')).toMatchObject({ ok: false });
    expect(await queue.cancel(waiting.job.id, 'telegram:u2')).toMatchObject({ ok: false }); // same id, other platform
    expect(await queue.cancel(waiting.job.id, 'discord:u2')).toMatchObject({ ok: true, wasRunning: false });
    expect((await events.waitFor('cancelled', waiting.job.id)).by).toBe('discord:u2');

    expect(await queue.cancel(running.job.id, 'discord:admin-1')).toMatchObject({ ok: true, wasRunning: true });
    expect((await events.waitFor('cancelled', running.job.id)).by).toBe('discord:admin-1');
    expect((await queue.get(running.job.id))?.state).toBe('cancelled');
    expect(await queue.cancel(running.job.id, 'discord:u1')).toMatchObject({ ok: false, reason: 'finished' });
  });

  it('refuses past the queue cap with its own code and sentence', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await backend.start(engine, { perUser: 3, queueMax: 2 });
    await queue.submit(await request('u1'));
    await queue.submit(await request('u2'));
    await expect(queue.checkAdmission('discord', 'u3')).rejects.toMatchObject({ code: 'queue_full' });
    await expect(queue.submit(await request('u3'))).rejects.toMatchObject({ code: 'queue_full', message: expect.stringMatching(/full/i) });
    engine.releaseAll();
  });

  it('a restarted queue tells about its unfinished jobs (resumed, with positions) and finishes them', async () => {
    const engine = new FakeEngine({ manual: true });
    const started = await backend.start(engine, { perUser: 3 });
    const running = await started.queue.submit(await request('u1'));
    await engine.waitForHeld();
    await started.events.waitFor('started', running.job.id);
    const waiting = await started.queue.submit(await request('u2'));

    const { queue, events } = await started.restart();
    const resumed = events.of('resumed');
    expect(resumed.map((e) => e.job.id).sort()).toEqual([running.job.id, waiting.job.id].sort());
    expect(resumed.find((e) => e.job.id === waiting.job.id)?.position).toBe(2);
    await events.waitFor('done', running.job.id);
    await events.waitFor('done', waiting.job.id);
    expect((await queue.get(waiting.job.id))?.state).toBe('done');
  });

  it('retention: with JOB_RETENTION_MB at 0 a finished job goes (record and files); an active one stays', async () => {
    const engine = new FakeEngine({ manual: true, sections: 1, steps: 1 }); // one release finishes a job
    const { queue, events } = await backend.start(engine, { perUser: 3, retentionMb: 0 });
    const first = await queue.submit(await request('u1'));
    const second = await queue.submit(await request('u2'));
    engine.release(1);
    await events.waitFor('done', first.job.id);
    await until(async () => (await queue.get(first.job.id)) === undefined, 'the finished job removed', 200_000);
    await until(async () => !existsSync(first.job.imagePath), 'its files removed', 200_000);
    expect(existsSync(second.job.imagePath)).toBe(true);
    expect((await queue.get(second.job.id))?.state).toMatch(/queued|running/);
    engine.releaseAll();
    await events.waitFor('done', second.job.id);
  });
});
