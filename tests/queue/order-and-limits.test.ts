import { access, readFile, stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { QueueRefusal } from '../../src/queue/types.ts';
import { request, runCleanups, startQueue, tempDataDir, testImage } from './helpers.ts';

afterEach(runCleanups);

async function refusal(promise: Promise<unknown>): Promise<QueueRefusal> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueueRefusal);
  return error as QueueRefusal;
}

describe('queue order and limits', () => {
  it('runs jobs of different users in submission order with positions 1, 2, 3', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const a = await queue.submit(await request('u1'));
    const b = await queue.submit(await request('u2'));
    const c = await queue.submit(await request('u3'));
    expect([a.position, b.position, c.position]).toEqual([1, 2, 3]);
    expect([a.job.seq, b.job.seq, c.job.seq]).toEqual([1, 2, 3]);
    expect(queue.stats()).toEqual({ queued: 2, running: 1 });

    engine.releaseAll();
    await events.waitFor('done', c.job.id);
    expect(events.startedSeqs()).toEqual([1, 2, 3]);
    expect(engine.calls.map((call) => call.imagePath)).toEqual([a.job.imagePath, b.job.imagePath, c.job.imagePath]);
    // Positions moved up as the jobs ahead finished.
    expect(events.of('position').filter((e) => e.job.id === c.job.id).map((e) => e.position)).toEqual([2]);
    expect(queue.stats()).toEqual({ queued: 0, running: 0 });
  });

  it('saves the image, the work dir and the record before submit resolves', async () => {
    const dataDir = await tempDataDir();
    const engine = new FakeEngine({ manual: true });
    const { queue, store } = await startQueue({ dataDir, engine });
    await queue.submit(await request('u1')); // occupies the GPU
    const { job } = await queue.submit(await request('u2', {}, { imageName: 'My Photo.PNG' }));
    expect(job.imagePath).toBe(`${dataDir}/jobs/${job.id}/input.png`);
    expect(job.workDir).toBe(`${dataDir}/jobs/${job.id}/work`);
    expect(await readFile(job.imagePath)).toEqual(await testImage());
    expect((await stat(job.workDir)).isDirectory()).toBe(true);
    const stored = await store.getJob(job.id);
    expect(stored?.state).toBe('queued');
    expect(stored?.reply).toEqual({ channelId: 'c1', messageId: 'm-u2' });
    expect((await store.loadIndex()).jobs.map((e) => e.id)).toContain(job.id);
  });

  it('refuses a second active job from the same user with a sentence naming the job', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const first = await queue.submit(await request('u1'));
    const running = await refusal(queue.submit(await request('u1')));
    expect(running.code).toBe('user_limit');
    expect(running.message).toBe('You already have a job running (#1). Cancel it or wait.');

    await queue.submit(await request('u2'));
    const queued = await refusal(queue.submit(await request('u2')));
    expect(queued.message).toBe('You already have a job in the queue (#2). Cancel it or wait.');
    // The same id on another platform is another person.
    await expect(queue.submit(await request('u1', {}, { platform: 'telegram' }))).resolves.toMatchObject({ position: 3 });

    engine.releaseAll();
    await events.waitFor('done', first.job.id);
    await expect(queue.submit(await request('u1'))).resolves.toMatchObject({ job: { seq: 4 } }); // refusals use no number
  });

  it('allows perUser jobs per user and lists them oldest first', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { perUser: 2 } });
    await queue.submit(await request('u1'));
    await queue.submit(await request('u1'));
    const third = await refusal(queue.submit(await request('u1')));
    expect(third.message).toBe('You already have 2 jobs in the queue (#1, #2); the limit is 2 per person. Cancel one or wait.');
    expect((await queue.activeForUser('discord', 'u1')).map((j) => [j.seq, j.state])).toEqual([
      [1, 'running'],
      [2, 'queued'],
    ]);
  });

  it('checkAdmission refuses with the sentence submit would use, and changes nothing', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { queueMax: 2 } });
    await expect(queue.checkAdmission('discord', 'u1')).resolves.toBeUndefined();
    await queue.submit(await request('u1'));
    const mine = await refusal(queue.checkAdmission('discord', 'u1'));
    expect(mine.code).toBe('user_limit');
    expect(mine.message).toBe('You already have a job running (#1). Cancel it or wait.');
    await queue.submit(await request('u2'));
    const full = await refusal(queue.checkAdmission('discord', 'u3'));
    expect(full.message).toBe('The queue is full (2 jobs). Please try again later.');
    expect(queue.stats()).toEqual({ queued: 1, running: 1 });
    await queue.close();
    expect((await refusal(queue.checkAdmission('discord', 'u3'))).code).toBe('closed');
  });

  it('refuses new jobs when the queue is full', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { queueMax: 2 } });
    await queue.submit(await request('u1'));
    await queue.submit(await request('u2'));
    const full = await refusal(queue.submit(await request('u3')));
    expect(full.code).toBe('queue_full');
    expect(full.message).toBe('The queue is full (2 jobs). Please try again later.');
  });

  it('checks limits one submit at a time, so concurrent submits cannot slip past them', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { queueMax: 3 } });
    const users = ['a', 'b', 'c', 'd', 'e', 'a'];
    const results = await Promise.allSettled(users.map(async (u) => queue.submit(await request(u))));
    const accepted = results.filter((r) => r.status === 'fulfilled');
    expect(accepted).toHaveLength(3);
    expect(accepted.map((r) => r.value.job.seq)).toEqual([1, 2, 3]);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as QueueRefusal).code] : []));
    // The last 'a' is refused for its own limit first.
    expect(codes.sort()).toEqual(['queue_full', 'queue_full', 'user_limit']);
  });

  it('refuses submits after close and does not run the jobs left queued', async () => {
    const dataDir = await tempDataDir();
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir, engine });
    await queue.submit(await request('u1'));
    const waiting = await queue.submit(await request('u2'));
    await engine.waitForHeld();
    await queue.close();
    const closed = await refusal(queue.submit(await request('u3')));
    expect(closed.code).toBe('closed');
    expect(engine.calls).toHaveLength(1);
    await access(waiting.job.imagePath); // still on disk for the next start
  });
});
