import { afterEach, describe, expect, it } from 'vitest';
import { compareSchedule, roundForNewJob } from '../../src/queue/fairness.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';

afterEach(runCleanups);

describe('round-robin between users', () => {
  it('with perUser 3, one user does not get jobs back to back while others wait', async () => {
    const engine = new FakeEngine({ manual: true, sections: 1, steps: 1 });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine, config: { perUser: 3 } });
    const seqOf: Record<string, number> = {};
    for (const [name, user] of [['a1', 'A'], ['a2', 'A'], ['a3', 'A'], ['b1', 'B'], ['b2', 'B'], ['c1', 'C']] as const) {
      seqOf[name] = (await queue.submit(await request(user))).job.seq;
    }
    // What the queue predicts now must be what then happens.
    const all = [...(await queue.activeForUser('discord', 'A')), ...(await queue.activeForUser('discord', 'B')), ...(await queue.activeForUser('discord', 'C'))];
    const predicted = all.sort((x, y) => queue.position(x.id)!.position - queue.position(y.id)!.position).map((j) => j.seq);

    engine.releaseAll();
    await events.waitFor('done', all.find((j) => j.seq === predicted.at(-1))!.id);
    const order = events.startedSeqs();
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3'].map((n) => seqOf[n]));
    expect(order).toEqual(predicted);
  });

  it('a newcomer goes ahead of a second job but never ahead of anyone\'s first', async () => {
    const engine = new FakeEngine({ manual: true, sections: 1, steps: 1 });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine, config: { perUser: 2 } });
    const a1 = await queue.submit(await request('A'));
    const a2 = await queue.submit(await request('A'));
    const b1 = await queue.submit(await request('B'));
    // At their submits: a2 was second; then b1 (a first job) went ahead of it, and a2 heard about it.
    expect([a1.position, a2.position, b1.position]).toEqual([1, 2, 2]);
    expect(events.of('position').map((e) => [e.job.seq, e.position])).toEqual([[a2.job.seq, 3]]);
    const c1 = await queue.submit(await request('C'));
    expect(c1.position).toBe(3);
    expect(queue.position(a2.job.id)?.position).toBe(4);
    expect(queue.position(b1.job.id)?.position).toBe(2);
  });

  it('orders by round, then submission number', () => {
    expect(roundForNewJob(4, [])).toBe(4);
    expect(roundForNewJob(4, [4, 5])).toBe(6);
    expect(roundForNewJob(9, [2])).toBe(9);
    const jobs = [
      { round: 1, seq: 2 },
      { round: 0, seq: 3 },
      { round: 1, seq: 1 },
    ];
    expect(jobs.sort(compareSchedule)).toEqual([
      { round: 0, seq: 3 },
      { round: 1, seq: 1 },
      { round: 1, seq: 2 },
    ]);
  });
});
