import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/queue/clock.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { directoryBytes, jobDir } from '../../src/queue/job-files.ts';
import { chooseExpired } from '../../src/queue/retention.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';

afterEach(runCleanups);

const HOUR = 3_600_000;
const MB = 1024 * 1024;

describe('retention of finished jobs', () => {
  it('chooses jobs past the age limit, then the oldest until the size fits', () => {
    const now = 100 * HOUR;
    const jobs = [
      { id: 'old', finishedAt: now - 5 * HOUR, bytes: 1 * MB },
      { id: 'mid', finishedAt: now - 2 * HOUR, bytes: 3 * MB },
      { id: 'new', finishedAt: now - 1 * HOUR, bytes: 3 * MB },
    ];
    expect(chooseExpired(jobs, 0, { retentionHours: 4, retentionMb: 100 }, now)).toEqual(['old']);
    expect(chooseExpired(jobs, 0, { retentionHours: 72, retentionMb: 4 }, now)).toEqual(['old', 'mid']);
    // Active jobs' bytes count toward the limit but they are never chosen.
    expect(chooseExpired(jobs, 2 * MB, { retentionHours: 72, retentionMb: 5 }, now)).toEqual(['old', 'mid']);
    expect(chooseExpired(jobs, 0, { retentionHours: 72, retentionMb: 7 }, now)).toEqual([]);
  });

  it('removes the record and files of jobs finished longer ago than the age limit', async () => {
    const dataDir = await tempDataDir();
    const clock = new ManualClock();
    const { queue, events, store } = await startQueue({ dataDir, clock, engine: new FakeEngine(), config: { retentionHours: 1 }, closeAfter: false });
    const old = (await queue.submit(await request('u1'))).job;
    await events.waitFor('done', old.id);
    clock.advance(2 * HOUR);
    const fresh = (await queue.submit(await request('u1'))).job;
    await events.waitFor('done', fresh.id);
    await queue.close(); // waits for the cleanup queued after the job finished

    await expect(access(jobDir(dataDir, old.id))).rejects.toThrow();
    expect(await store.getJob(old.id)).toBeUndefined();
    await access(fresh.imagePath);
    expect((await store.getJob(fresh.id))?.state).toBe('done');
    expect((await store.loadIndex()).jobs.map((e) => e.id)).toEqual([fresh.id]);
    await store.close();
  });

  it('removes the oldest finished jobs when all job files exceed the size limit', async () => {
    const dataDir = await tempDataDir();
    const first = await startQueue({ dataDir, engine: new FakeEngine(), closeAfter: false });
    const a = (await first.queue.submit(await request('u1'))).job;
    await first.events.waitFor('done', a.id);
    await first.queue.close();
    await first.store.close();
    const bytesPerJob = await directoryBytes(jobDir(dataDir, a.id));
    expect(bytesPerJob).toBeGreaterThan(0);

    // Room for one and a half jobs: after the second finishes, the first must go.
    const second = await startQueue({ dataDir, engine: new FakeEngine(), config: { retentionMb: (1.5 * bytesPerJob) / MB }, closeAfter: false });
    await access(a.imagePath); // one job fits: nothing removed at start
    const b = (await second.queue.submit(await request('u1'))).job;
    await second.events.waitFor('done', b.id);
    await second.queue.close();
    await expect(access(jobDir(dataDir, a.id))).rejects.toThrow();
    expect(await second.store.getJob(a.id)).toBeUndefined();
    await access(b.imagePath);
    await second.store.close();
  });
});
