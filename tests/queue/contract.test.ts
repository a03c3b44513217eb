// The queue contract, run against both backends: the embedded queue (one machine, p-queue) and
// BullMQ (the bots' queue and a GPU worker talking only through Redis) must admit, refuse, order,
// place and cancel alike. A behaviour one backend has and the other lacks fails here.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobQueue } from '../../src/queue/types.ts';
import { QueueRefusal } from '../../src/queue/types.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { startBotQueue, startTestGpuWorker, useRedisServer, type BotQueueConfig } from './bullmq-harness.ts';
import { type EventLog, request, runCleanups, startQueue, tempDataDir } from './helpers.ts';

interface Started {
  queue: JobQueue;
  events: EventLog;
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
    start: async (engine, config = {}) => startQueue({ dataDir: await tempDataDir(), engine, config }),
  },
  {
    name: 'bullmq',
    start: async (engine, config = {}) => {
      const bots = await startBotQueue(redis.url, config);
      await startTestGpuWorker(redis.url, engine, 'gpu-contract');
      return bots;
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
});
